"""STAC API searches (providers.stac.api) against a replay server on 127.0.0.1.

Recorded answers (PROVENANCE.md "STAC"): the Earth Search v1 vcrpy cassette (a POST search, then the
POST of its ``next`` link with the token in the body) and the Earth Search L1C page, served as a search
answer as upstream did. The USGS landsatlook stac-server has no recorded answer: its search is answered
with the USGS-published item JSON of ``landsat/LC08_L2SP_008059_...`` wrapped in an ItemCollection
(``{"type": "FeatureCollection", "features": [item], "links": []}``), the envelope of the STAC API spec.

pystac-client first reads the landing page, which no recording holds: ``landing_page`` builds a
minimal one from the STAC API v1.0.0 spec (core/item-search conformance classes, ``search`` links).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.models import Constellation, SceneQuery
from providers.stac.api import (
    EARTH_SEARCH,
    USGS_LANDSAT,
    StacApiSearcher,
    build_earth_search,
    build_usgs_landsat_search,
)
from tests.support.cassette import load_interactions, recorded_json_body, routes_from_cassette
from tests.support.replay import ReplayServer, Route
from tests.unit.providers.stac_support import CASSETTE, L1C_LIMIT1, USGS_SR_ITEM, landing_page

EARTH_SEARCH_HOST = "https://earth-search.aws.element84.com"
USGS_HOST = "https://landsatlook.usgs.gov"


def query(
    constellation: Constellation, aoi: str, start: datetime, end: datetime, **changes: Any
) -> SceneQuery:
    return SceneQuery(aoi_wkt=aoi, start=start, end=end, constellation=constellation, **changes)


def recorded_bodies(fixtures: Path) -> list[dict[str, Any]]:
    return [recorded_json_body(i) for i in load_interactions(fixtures / CASSETTE)]


@pytest.mark.integration
def test_earth_search_pages_by_the_next_link_body(shared_fixtures: Path) -> None:
    routes = [
        Route("GET", "/v1", body=landing_page(f"{EARTH_SEARCH_HOST}/v1", "earth-search-aws")),
        # The client adds "limit" (its page size) to the recorded first body; nothing else differs.
        *routes_from_cassette(shared_fixtures / CASSETTE, ignore_body_keys=("limit",)),
    ]
    with ReplayServer(routes, rewrite_hosts=[EARTH_SEARCH_HOST]) as server:
        searcher = StacApiSearcher(
            EARTH_SEARCH,
            url=server.url("/v1"),
            collections={Constellation.SENTINEL2: ["sentinel-2-l2a", "landsat-c2-l2"]},  # as recorded
            backoff_s=0,
        )
        result = searcher.search(
            query(
                Constellation.SENTINEL2,
                "POINT (-105.1019 40.1672)",
                datetime(2023, 10, 8, tzinfo=UTC),
                datetime(2023, 10, 8, 23, 59, 59, tzinfo=UTC),
            )
        )
    landing, first, second = server.requests
    assert (landing.method, landing.path, first.method, second.method) == ("GET", "/v1", "POST", "POST")
    first_sent, second_sent = first.json(), second.json()
    recorded_first, recorded_second = recorded_bodies(shared_fixtures)
    assert first_sent.pop("limit") == 100 and first_sent == recorded_first
    # The next page is the POST of the link's body: the token, not a page number (the original dropped it).
    assert second_sent == recorded_second
    assert second_sent["next"] == "2023-10-08T17:37:26.656958Z,LC08_L2SP_033032_20231008_02_T1,landsat-c2-l2"
    assert not server.unmatched
    # The Landsat item of the mixed answer is not a Sentinel-2 scene.
    assert [s.source_id for s in result.scenes] == [
        "S2A_MSIL2A_20231008T175231_N0509_R141_T13TDE_20231008T233154"
    ]
    assert (result.catalogue, result.total, result.truncated) == ("stac-earth-search", 2, False)


@pytest.mark.integration
def test_a_limit_stops_at_the_first_page_and_says_more_matched(shared_fixtures: Path) -> None:
    routes = [
        Route("GET", "/v1", body=landing_page(f"{EARTH_SEARCH_HOST}/v1", "earth-search-aws")),
        Route(
            "POST", "/v1/search", body_file=shared_fixtures / L1C_LIMIT1, content_type="application/geo+json"
        ),
    ]
    with ReplayServer(routes, rewrite_hosts=[EARTH_SEARCH_HOST]) as server:
        searcher = StacApiSearcher(EARTH_SEARCH, url=server.url("/v1"), backoff_s=0)
        result = searcher.search(
            query(
                Constellation.SENTINEL2,
                "POINT (-20.9 63.0)",
                datetime(2024, 2, 6, tzinfo=UTC),
                datetime(2024, 2, 7, tzinfo=UTC),
                parameters={"producttype": "L1C", "tileid": "T27VWK", "cloudcoverpercentage": "[0 TO 20]"},
                limit=1,
            )
        )
    assert [s.source_id for s in result.scenes] == [
        "S2B_MSIL1C_20240206T131259_N0510_R081_T27VWK_20240206T133903"
    ]
    assert (result.truncated, result.total) == (True, 25_898_765)  # numberMatched of the recorded page
    (search,) = server.requests[1:]  # its next link is not followed: the limit is reached
    body = search.json()
    assert (body["collections"], body["limit"]) == (["sentinel-2-l1c"], 1)
    assert body["query"] == {"eo:cloud_cover": {"gte": 0, "lte": 20}, "grid:code": {"eq": "MGRS-27VWK"}}
    assert body["datetime"] == "2024-02-06T00:00:00Z/2024-02-07T00:00:00Z"
    assert body["intersects"] == {"type": "Point", "coordinates": [-20.9, 63.0]}


def usgs_routes(fixtures: Path) -> list[Route]:
    item = json.loads((fixtures / USGS_SR_ITEM).read_text())
    collection = {"type": "FeatureCollection", "features": [item], "links": []}  # wrapped, see the docstring
    return [
        Route("GET", "/stac-server", body=landing_page(f"{USGS_HOST}/stac-server", "usgs-stac-server")),
        Route(
            "POST",
            "/stac-server/search",
            body=json.dumps(collection).encode(),
            content_type="application/geo+json",
        ),
    ]


LANDSAT_AOI = "POLYGON ((-75.5 1.0, -75.0 1.0, -75.0 1.5, -75.5 1.5, -75.5 1.0))"


def landsat_query(**changes: Any) -> SceneQuery:
    """A Landsat search of the day of the USGS item (2019-12-01)."""
    day = datetime(2019, 12, 1, tzinfo=UTC)
    return query(Constellation.LANDSAT89, LANDSAT_AOI, day, day.replace(day=2), **changes)


@pytest.mark.integration
def test_the_usgs_landsat_search_of_the_original(shared_fixtures: Path) -> None:
    with ReplayServer(usgs_routes(shared_fixtures), rewrite_hosts=[USGS_HOST]) as server:
        searcher = StacApiSearcher(USGS_LANDSAT, url=server.url("/stac-server"), backoff_s=0)
        result = searcher.search(landsat_query(parameters={"cloudcoverpercentage": "[0 TO 90]"}))
    body = server.requests[1].json()
    assert body["collections"] == ["landsat-c2l1"]
    assert body["query"] == {
        "platform": {"in": ["LANDSAT_8", "LANDSAT_9"]},
        "eo:cloud_cover": {"gte": 0, "lte": 90},
    }
    assert (body["limit"], body["intersects"]["type"]) == (1000, "Polygon")
    (scene,) = result.scenes
    assert (scene.source_id, scene.tags["productType"], scene.catalogue) == (
        "LC08_L2SP_008059_20191201_20200825_02_T1",
        "LC_C02_L2SP",
        "stac-landsat",
    )
    assert (result.total, result.truncated) == (None, False)


def test_landsat_cloud_cover_must_be_integers() -> None:
    q = landsat_query(parameters={"cloudcoverpercentage": "[0 TO 12.5]"})
    with pytest.raises(
        CatalogueError, match=re.escape("'[0 TO 12.5]': the USGS Landsat catalogue takes integer values")
    ):
        build_usgs_landsat_search(q)


def test_earth_search_parameters() -> None:
    start, end = datetime(2024, 2, 6, tzinfo=UTC), datetime(2024, 2, 7, tzinfo=UTC)
    s2 = build_earth_search(
        query(Constellation.SENTINEL2, LANDSAT_AOI, start, end, parameters={"producttype": "S2MSI2A"})
    )
    assert (s2.collections, s2.query) == (["sentinel-2-l2a"], None)
    landsat = build_earth_search(query(Constellation.LANDSAT89, LANDSAT_AOI, start, end))
    assert (landsat.collections, landsat.query) == (
        ["landsat-c2-l2"],
        {"platform": {"in": ["landsat-8", "landsat-9"]}},
    )
    with pytest.raises(
        CatalogueError, match="'S2MSI3X' is not served here; known: L1C, L2A, S2MSI1C, S2MSI2A"
    ):
        build_earth_search(
            query(Constellation.SENTINEL2, LANDSAT_AOI, start, end, parameters={"producttype": "S2MSI3X"})
        )
    with pytest.raises(CatalogueError, match="does not understand 'relativeorbitnumber'"):
        build_earth_search(
            query(Constellation.SENTINEL2, LANDSAT_AOI, start, end, parameters={"relativeorbitnumber": "8"})
        )


@pytest.mark.integration
def test_a_503_is_retried_with_the_whole_body(shared_fixtures: Path) -> None:
    routes = usgs_routes(shared_fixtures)
    routes.insert(1, Route("POST", "/stac-server/search", status=503, body=b"busy", times=1))
    with ReplayServer(routes, rewrite_hosts=[USGS_HOST]) as server:
        searcher = StacApiSearcher(USGS_LANDSAT, url=server.url("/stac-server"), backoff_s=0)
        result = searcher.search(landsat_query())
    assert len(result.scenes) == 1
    failed, retried = server.requests[1:]
    assert failed.body == retried.body and failed.json()["collections"] == ["landsat-c2l1"]


@pytest.mark.integration
def test_faults_are_classified(shared_fixtures: Path) -> None:
    q = landsat_query()
    landing = usgs_routes(shared_fixtures)[0]
    slow_down = Route(
        "POST", "/stac-server/search", status=429, body=b"slow down", headers={"Retry-After": "120"}
    )
    with ReplayServer([landing, slow_down], rewrite_hosts=[USGS_HOST]) as server:
        with pytest.raises(CatalogueTemporaryError) as caught:
            StacApiSearcher(USGS_LANDSAT, url=server.url("/stac-server"), backoff_s=0).search(q)
        assert caught.value.retry_after_s == 120.0  # longer than a retry here waits: left to the task
        assert "stac-landsat: POST " in str(caught.value) and "answered 429: slow down" in str(caught.value)
        assert len(server.requests) == 2
        slow_down.status, slow_down.body = 400, b'{"code": "BadRequest", "description": "bad query"}'
        with pytest.raises(CatalogueError, match=r"answered 400: .*bad query") as refused:
            StacApiSearcher(USGS_LANDSAT, url=server.url("/stac-server"), backoff_s=0).search(q)
        assert not isinstance(refused.value, CatalogueTemporaryError)
        url = server.url("/stac-server")
    with pytest.raises(CatalogueTemporaryError, match="ConnectionError"):
        StacApiSearcher(USGS_LANDSAT, url=url, max_retries=0).search(q)
