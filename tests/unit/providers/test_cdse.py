"""CDSE OData catalogue: products parsed, and searches against a replay server
serving real recorded CDSE answers (fixtures: see PROVENANCE.md, "CDSE OData")."""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import shapely

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.models import Constellation
from providers.cdse import search as cdse
from providers.cdse.search import CdseODataSearcher, build_filter, parse_product
from tests.support.replay import ReplayServer, Route, query_has
from tests.unit.providers.cdse_support import (
    CDSE_HOST,
    PRODUCTS,
    S1_PAGES,
    S2_TOP2,
    load,
    s1_query,
    s2_query,
)

# --- product parsing -----------------------------------------------------------------------------------


def test_parse_the_recorded_sentinel2_products(shared_fixtures: Path) -> None:
    products = load(shared_fixtures, S2_TOP2)["value"]
    scenes = [parse_product(p, Constellation.SENTINEL2) for p in products]
    first = scenes[0]
    assert first.source_id == "S2A_MSIL1C_20200808T010311_N0500_R045_T54PXA_20230413T212505"
    assert first.date == datetime(2020, 8, 8, 1, 3, 11, 24000, tzinfo=UTC)
    assert first.catalogue == "cdse"
    assert first.tags == {
        "sourceID": first.source_id,
        "uuid": "05edf2bb-d103-49f1-a677-9e474138d84f",
        "ingestionDate": "2020-08-08T01:03:11.024000Z",
        "constellation": "SENTINEL2",
        "satellite": "SENTINEL2A",
        "relativeOrbit": "45",
        "orbit": "26783",
        "productType": "S2MSI1C",
        "cloudCoverPercentage": "95.136736479015",
        "tileId": "54PXA",
    }
    assert first.metadata == {
        "uuid": "05edf2bb-d103-49f1-a677-9e474138d84f",
        "online": True,
        "size_bytes": 224105657,
        "checksums": {
            "MD5": "923ac4992d90b57d41e7ace4d9d90757",
            "BLAKE3": "2f787caed527ffeb3245594a465abd127da5ee7eaeb974f9a9ab4342f2fba7cf",
        },
        "s3_path": "/eodata/Sentinel-2/MSI/L1C_N0500/2020/08/08/" + first.source_id + ".SAFE",
    }
    footprint = shapely.from_wkt(first.footprint_wkt)
    assert footprint.geom_type == "Polygon" and len(footprint.exterior.coords) == 21
    assert footprint.bounds == pytest.approx(
        (142.352793016856, 13.4725397858819, 142.943807935726, 14.2240507608538)
    )
    assert scenes[1].source_id != first.source_id


def test_the_ewkt_footprint_is_read_when_geofootprint_is_absent(shared_fixtures: Path) -> None:
    product = load(shared_fixtures, S2_TOP2)["value"][0]
    from_geojson = parse_product(product, Constellation.SENTINEL2).footprint_wkt
    without = {k: v for k, v in product.items() if k != "GeoFootprint"}
    from_ewkt = parse_product(without, Constellation.SENTINEL2).footprint_wkt
    assert shapely.from_wkt(from_ewkt).equals(shapely.from_wkt(from_geojson))


def test_a_missing_attribute_names_the_product_and_the_attribute(shared_fixtures: Path) -> None:
    product = copy.deepcopy(load(shared_fixtures, S2_TOP2)["value"][0])
    product["Attributes"] = [a for a in product["Attributes"] if a["Name"] != "orbitNumber"]
    expected = "product S2A_MSIL1C_20200808T010311_N0500_R045_T54PXA_20230413T212505: missing attribute(s) "
    with pytest.raises(CatalogueError, match=re.escape(expected + "orbitNumber")):
        parse_product(product, Constellation.SENTINEL2)


def test_parse_a_sentinel1_product_of_the_same_odata_schema(shared_fixtures: Path) -> None:
    # Creodias serves the same OData CSC schema; this is the only recorded S1 product with orbit attributes.
    recorded = load(shared_fixtures, "creodias/odata/products_s1_grd_expand_attributes_count_top10.json")
    product = recorded["value"][0]
    scene = parse_product(product, Constellation.SENTINEL1)
    assert scene.source_id == "S1A_IW_GRDH_1SSV_20141004T005844_20141004T005913_002673_002FAB_4FCD"
    keys = (
        "constellation",
        "satellite",
        "orbitDirection",
        "relativeOrbit",
        "orbit",
        "productType",
        "polarisationMode",
        "sliceNumber",
    )
    assert {k: scene.tags[k] for k in keys} == {
        "constellation": "SENTINEL1",
        "satellite": "SENTINEL1A",
        "orbitDirection": "ASCENDING",
        "relativeOrbit": "153",
        "orbit": "2673",
        "productType": "IW_GRDH_1S",
        "polarisationMode": "VV",
        "sliceNumber": "1",
    }
    assert "cloudCoverPercentage" not in scene.tags


# --- searches against the replay server ----------------------------------------------------------------


@pytest.fixture
def s1_pages(shared_fixtures: Path) -> list[Path]:
    return [shared_fixtures / p for p in S1_PAGES]


def s1_routes(pages: list[Path]) -> list[Route]:
    """Page i answers $skip=10*(i-1); the first page also answers a request without $skip."""
    routes = [Route("GET", PRODUCTS, body_file=pages[0], when=query_has({"$skip": None}))]
    routes += [
        Route("GET", PRODUCTS, body_file=page, when=query_has({"$skip": str(10 * i)}))
        for i, page in enumerate(pages)
    ]
    return routes


@pytest.fixture
def s1_server(s1_pages: list[Path]) -> Iterator[ReplayServer]:
    with ReplayServer(s1_routes(s1_pages), rewrite_hosts=[CDSE_HOST]) as server:
        yield server


def aux_searcher(server: ReplayServer, **options: Any) -> CdseODataSearcher:
    # The recorded S1 pages list auxiliary products (AUX_*, orbit files): no orbit attributes, no footprint.
    return CdseODataSearcher(
        base_url=server.url("/odata/v1"),
        page_size=10,
        backoff_s=0,
        required_attributes=("productType",),
        **options,
    )


@pytest.mark.integration
def test_every_page_is_read_through_next_links(s1_server: ReplayServer, s1_pages: list[Path]) -> None:
    recorded = [
        p["Name"].removesuffix(".SAFE") for page in s1_pages for p in json.loads(page.read_text())["value"]
    ]
    result = aux_searcher(s1_server).search(s1_query())
    assert len(recorded) == 47
    assert [s.source_id for s in result.scenes] == recorded
    assert len({s.source_id for s in result.scenes}) == 47
    assert (result.truncated, result.total, result.catalogue) == (False, 47, "cdse")
    first, *followed = s1_server.requests
    assert first.param("$filter") == build_filter(s1_query())
    assert (first.param("$top"), first.param("$orderby"), first.param("$expand"), first.param("$skip")) == (
        "10",
        "ContentDate/Start asc",
        "Attributes",
        None,
    )
    assert first.param("$count") == "true"
    # The next links were rewritten to the replay server and followed as they are.
    assert [r.param("$skip") for r in followed] == ["10", "20", "30", "40"]
    assert not s1_server.unmatched


@pytest.mark.integration
def test_a_limit_cuts_the_listing_and_says_so(s1_server: ReplayServer) -> None:
    all_ids = [s.source_id for s in aux_searcher(s1_server).search(s1_query()).scenes]
    s1_server.requests.clear()
    result = aux_searcher(s1_server).search(s1_query(limit=15))
    assert [s.source_id for s in result.scenes] == all_ids[:15]
    assert result.truncated is True
    assert [r.param("$skip") for r in s1_server.requests] == [None, "10"]


@pytest.mark.integration
def test_a_limit_equal_to_the_count_is_not_truncated(s1_server: ReplayServer) -> None:
    result = aux_searcher(s1_server).search(s1_query(limit=47))
    assert len(result.scenes) == 47 and result.truncated is False


@pytest.mark.integration
def test_page_and_limit_select_rows(s1_server: ReplayServer, s1_pages: list[Path]) -> None:
    result = aux_searcher(s1_server).search(s1_query(page=1, limit=20))
    third_page = [p["Name"].removesuffix(".SAFE") for p in json.loads(s1_pages[2].read_text())["value"]]
    assert len(result.scenes) == 20 and result.truncated is True
    assert [s.source_id for s in result.scenes[:10]] == third_page
    # The first request counts (no $skip: CDSE answers @odata.count on a first page only), then rows
    # 20.. are read from $skip=20, and one row more than the limit tells the listing goes on.
    assert [(r.param("$skip"), r.param("$top")) for r in s1_server.requests] == [
        (None, "10"),
        ("20", "10"),
        ("30", "10"),
        ("40", "10"),
    ]
    assert (result.total, s1_server.requests[0].param("$count")) == (47, "true")


@pytest.mark.integration
def test_without_a_count_paging_refuses_to_go_past_the_skip_cap(
    s1_pages: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The recorded first page with its "@odata.count" removed: a service that ignores $count=true
    # gives no count to cut the window by, so what $skip cannot reach is refused, not silently lost.
    page1 = load(s1_pages[0].parent, s1_pages[0].name)
    del page1["@odata.count"]
    (tmp_path / "page1.json").write_text(json.dumps(page1))
    routes = s1_routes([tmp_path / "page1.json", *s1_pages[1:]])
    monkeypatch.setattr(cdse, "CDSE_MAX_SKIP", 25)
    with ReplayServer(routes, rewrite_hosts=[CDSE_HOST]) as server:
        with pytest.raises(
            CatalogueError, match=r"needs \$skip=30, but CDSE refuses \$skip above 25 and gave no"
        ):
            aux_searcher(server).search(s1_query())
    assert len(server.requests) == 3


@pytest.mark.integration
def test_a_first_row_past_the_skip_cap_is_looked_for_by_count(s1_server: ReplayServer) -> None:
    # Row 10 010 is past what $skip reaches: the first request asks the count without $skip; the
    # recorded window holds 47 products, so the page is empty (and nothing is cut).
    result = aux_searcher(s1_server).search(s1_query(page=1001, limit=10))
    assert (result.scenes, result.truncated, result.total) == ([], False, 47)
    (request,) = s1_server.requests
    assert (request.param("$skip"), request.param("$count")) == (None, "true")


@pytest.mark.integration
def test_a_recorded_s2_search_with_a_limit(shared_fixtures: Path) -> None:
    routes = [Route("GET", PRODUCTS, body_file=shared_fixtures / S2_TOP2)]
    with ReplayServer(routes, rewrite_hosts=[CDSE_HOST]) as server:
        result = CdseODataSearcher(base_url=server.url("/odata/v1")).search(s2_query(limit=1))
    assert [s.source_id for s in result.scenes] == [
        "S2A_MSIL1C_20200808T010311_N0500_R045_T54PXA_20230413T212505"
    ]
    assert result.truncated is True
    (request,) = server.requests
    assert request.param("$top") == "2"  # one row more than the limit tells whether it cut
    assert request.param("$filter") == build_filter(s2_query())


@pytest.mark.integration
def test_a_next_link_to_another_host_is_read_from_the_configured_one(
    shared_fixtures: Path, caplog: pytest.LogCaptureFixture
) -> None:
    routes = [
        Route("GET", PRODUCTS, body_file=shared_fixtures / S2_TOP2, when=query_has({"$skip": None})),
        Route("GET", PRODUCTS, body=b'{"value": []}', when=query_has({"$skip": "2"})),
    ]
    with ReplayServer(routes) as server, caplog.at_level(logging.WARNING, logger="providers.cdse.search"):
        result = CdseODataSearcher(base_url=server.url("/odata/v1")).search(s2_query())
    assert len(result.scenes) == 2 and len(server.requests) == 2
    assert "nextLink points at catalogue.dataspace.copernicus.eu" in caplog.text


@pytest.mark.integration
def test_a_503_is_retried(shared_fixtures: Path) -> None:
    routes = [
        Route("GET", PRODUCTS, status=503, body=b"busy", times=1),
        Route("GET", PRODUCTS, body_file=shared_fixtures / S2_TOP2, when=query_has({"$skip": None})),
    ]
    with ReplayServer(routes) as server:
        result = CdseODataSearcher(base_url=server.url("/odata/v1"), backoff_s=0).search(s2_query(limit=1))
    assert len(result.scenes) == 1
    assert len(server.requests) == 2
    assert server.requests[0].query == server.requests[1].query


@pytest.mark.integration
def test_retries_are_bounded_and_retry_after_is_kept() -> None:
    route = Route("GET", PRODUCTS, status=429, body=b"slow down", headers={"Retry-After": "7"})
    with ReplayServer([route]) as server:
        with pytest.raises(CatalogueTemporaryError) as caught:
            CdseODataSearcher(base_url=server.url("/odata/v1"), max_retries=0).search(s2_query())
        assert caught.value.retry_after_s == 7.0
        assert "answered 429: slow down" in str(caught.value)
        route.headers = {}
        server.requests.clear()
        with pytest.raises(CatalogueTemporaryError):
            CdseODataSearcher(base_url=server.url("/odata/v1"), max_retries=2, backoff_s=0).search(s2_query())
        assert len(server.requests) == 3


@pytest.mark.integration
def test_a_400_is_permanent_and_shows_the_start_of_the_body() -> None:
    body = ('{"detail": "Invalid field: productTyp"}' + " " * 200 + "TAIL-NOT-SHOWN").encode()
    with ReplayServer([Route("GET", PRODUCTS, status=400, body=body)]) as server:
        with pytest.raises(CatalogueError) as caught:
            CdseODataSearcher(base_url=server.url("/odata/v1"), backoff_s=0).search(s2_query())
    message = str(caught.value)
    assert not isinstance(caught.value, CatalogueTemporaryError)
    assert f"{server.url(PRODUCTS)} answered 400: " in message and "Invalid field: productTyp" in message
    assert "TAIL-NOT-SHOWN" not in message and "$filter" not in message
    assert len(server.requests) == 1


@pytest.mark.integration
def test_a_timeout_is_temporary() -> None:
    with ReplayServer([Route("GET", PRODUCTS, body=b'{"value": []}', delay_s=1.0)]) as server:
        searcher = CdseODataSearcher(base_url=server.url("/odata/v1"), timeout_s=0.1, max_retries=0)
        with pytest.raises(CatalogueTemporaryError, match=re.escape("timed out after 0.1 s")):
            searcher.search(s2_query())


@pytest.mark.integration
def test_a_refused_connection_is_temporary() -> None:
    with ReplayServer() as server:
        url = server.url("/odata/v1")
    with pytest.raises(CatalogueTemporaryError, match="ConnectError"):
        CdseODataSearcher(base_url=url, max_retries=0).search(s2_query())
