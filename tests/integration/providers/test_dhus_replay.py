"""DHuS catalogue against the replay server serving sentinelsat's real recorded DHuS answers (vcrpy
cassettes, shared fixtures ``dhus/``; PROVENANCE.md, "DHuS"). Each interaction is served only to the
recorded method, path and query, so these tests prove the query as well as the parsing.

``test_count.cassette.yaml`` is not replayed: it records a count of a bare date window (no area, no
platform), a query this searcher never sends (every search has an AOI and a platform).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.models import Constellation, SceneQuery
from providers.dhus import DhusSearcher
from tests.support.cassette import routes_from_cassette
from tests.support.replay import ReplayServer, Route

pytestmark = pytest.mark.integration

HUB = "https://apihub.copernicus.eu"
AOI = (
    "GEOMETRYCOLLECTION(POLYGON((-66.2695 -8.0592,-66.2695 0.7031,-57.3047 0.7031,-57.3047 -8.0592,"
    "-66.2695 -8.0592)))"
)
PASSWORD = "test-dhus-password-9f3a"


def searcher(server: ReplayServer, **options: Any) -> DhusSearcher:
    # The recorded searches named no product type: searching every type reproduces their query.
    fields: dict[str, Any] = {
        "user": "tester",
        "password": SecretStr(PASSWORD),
        "api_url": server.url("/apihub/"),
        "default_product_types": {},
        "backoff_s": 0,
    }
    return DhusSearcher(**(fields | options))


def query(constellation: Constellation, start: datetime, end: datetime, **changes: Any) -> SceneQuery:
    return SceneQuery(aoi_wkt=AOI, start=start, end=end, constellation=constellation, **changes)


S2_QUERY = query(
    Constellation.SENTINEL2,
    datetime(2018, 12, 12, tzinfo=UTC),
    datetime(2018, 12, 28, tzinfo=UTC),
    parameters={"cloudcoverpercentage": "[0 TO 10]"},
)


def test_a_recorded_sentinel2_search(shared_fixtures: Path) -> None:
    routes = routes_from_cassette(shared_fixtures / "dhus/test_s2_cloudcover.cassette.yaml")
    with ReplayServer(routes, rewrite_hosts=[HUB]) as server:
        result = searcher(server).search(S2_QUERY)
    assert not server.unmatched
    (request,) = server.requests
    assert (request.param("rows"), request.param("start"), request.param("format")) == ("100", "0", "json")
    assert request.headers["authorization"].startswith("Basic ")
    assert (len(result.scenes), result.truncated, result.catalogue) == (5, False, "dhus")
    assert [s.date for s in result.scenes] == sorted(s.date for s in result.scenes)
    first = result.scenes[0]
    assert first.catalogue == "dhus" and first.constellation is Constellation.SENTINEL2
    # The download link is the hub's own, as the answer gives it (here rewritten to the replay host).
    uuid = first.metadata["uuid"]
    assert first.metadata["download_link"] == server.url(f"/apihub/odata/v1/Products('{uuid}')/$value")
    assert {s.tags["productType"] for s in result.scenes} == {"S2MSI1C", "S2MSI2A"}
    assert all(float(s.tags["cloudCoverPercentage"]) <= 10 for s in result.scenes)


def test_a_recorded_sentinel1_search(shared_fixtures: Path) -> None:
    routes = routes_from_cassette(shared_fixtures / "dhus/test_sentinel1_flag.cassette.yaml")
    s1 = query(
        Constellation.SENTINEL1, datetime(2015, 12, 19, tzinfo=UTC), datetime(2015, 12, 28, tzinfo=UTC)
    )
    with ReplayServer(routes, rewrite_hosts=[HUB]) as server:
        result = searcher(server).search(s1)
    assert not server.unmatched and len(result.scenes) == 11
    assert {s.tags["constellation"] for s in result.scenes} == {"SENTINEL1"}
    assert all(s.source_id.startswith("S1A_") and "sliceNumber" in s.tags for s in result.scenes)


def test_a_different_query_is_not_answered(shared_fixtures: Path) -> None:
    # With the default product type (S2MSI1C) the query differs from the recording: the server refuses
    # it (404), which the searcher reports as a refused query.
    routes = routes_from_cassette(shared_fixtures / "dhus/test_s2_cloudcover.cassette.yaml")
    with ReplayServer(routes) as server, pytest.raises(CatalogueError, match="answered 404"):
        searcher(server, default_product_types={Constellation.SENTINEL2: "S2MSI1C"}).search(S2_QUERY)
    assert 'producttype:"S2MSI1C"' in (server.unmatched[0].param("q") or "")


def test_a_limit_asks_one_row_more_and_says_it_cut(shared_fixtures: Path) -> None:
    # The recorded answer (5 rows) served to rows=4: the hub would have sent 4; either way 3 are kept.
    routes = routes_from_cassette(
        shared_fixtures / "dhus/test_s2_cloudcover.cassette.yaml", match_query=False
    )
    with ReplayServer(routes, rewrite_hosts=[HUB]) as server:
        result = searcher(server).search(S2_QUERY.model_copy(update={"limit": 3}))
    assert server.requests[0].param("rows") == "4"
    assert len(result.scenes) == 3 and result.truncated is True


def test_wrong_credentials_name_the_settings_and_never_the_password(
    shared_fixtures: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The hub's 401 does not depend on the query: served for any search (the recorded one had no platform).
    routes = routes_from_cassette(
        shared_fixtures / "dhus/test_SentinelAPI_wrong_credentials.cassette.yaml", match_query=False
    )
    with (
        ReplayServer(routes) as server,
        caplog.at_level(logging.DEBUG),
        pytest.raises(CatalogueError) as caught,
    ):
        searcher(server).search(S2_QUERY)
    message = str(caught.value)
    assert "refused the credentials of user 'tester' (401)" in message
    assert "GEOCUBE_INGESTER_DHUS_USER and GEOCUBE_INGESTER_DHUS_PASSWORD" in message
    assert caught.value.__cause__ is None and caught.value.__context__ is None  # holds no request
    assert PASSWORD not in message and PASSWORD not in caplog.text
    assert len(server.requests) == 1  # a refused account is not retried


def test_a_503_is_retried(shared_fixtures: Path) -> None:
    routes = [
        Route(
            "GET",
            "/apihub/search",
            status=503,
            body=b"<html>maintenance</html>",
            content_type="text/html",
            times=1,
        ),
        *routes_from_cassette(shared_fixtures / "dhus/test_s2_cloudcover.cassette.yaml"),
    ]
    with ReplayServer(routes) as server:
        result = searcher(server).search(S2_QUERY)
    assert len(server.requests) == 2 and len(result.scenes) == 5


def test_a_hub_still_failing_is_a_temporary_error() -> None:
    routes = [Route("GET", "/apihub/search", status=502, body=b"bad gateway", content_type="text/plain")]
    with ReplayServer(routes) as server, pytest.raises(CatalogueTemporaryError, match="answered 502"):
        searcher(server, max_retries=1).search(S2_QUERY)
    assert len(server.requests) == 2
