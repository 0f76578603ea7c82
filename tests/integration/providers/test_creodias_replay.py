"""Creodias catalogue against the replay server serving the real recorded Creodias OData page (S1 GRD,
``$top=10``, ``@odata.count`` 3 123 749 and an ``@odata.nextLink`` to ``$skip=10``; shared fixtures
``creodias/odata``, PROVENANCE.md "Creodias OData"). Only that first page was recorded: the page after it
is served as the end of the listing (``{"value": []}``, the OData shape of an empty page)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from catalogue.models import Constellation, SceneQuery
from providers.cdse.search import build_filter
from providers.creodias import CreodiasODataSearcher
from tests.support.replay import ReplayServer, Route, query_has

pytestmark = pytest.mark.integration

CREODIAS_HOST = "https://datahub.creodias.eu"
PRODUCTS = "/odata/v1/Products"
PAGE = "creodias/odata/products_s1_grd_expand_attributes_count_top10.json"
# Around the first recorded product (northern Mexico, 2014-10-04).
QUERY = SceneQuery(
    aoi_wkt="POLYGON ((-106 27, -102 27, -102 30, -106 30, -106 27))",
    start=datetime(2014, 10, 1, tzinfo=UTC),
    end=datetime(2014, 10, 8, tzinfo=UTC),
    constellation=Constellation.SENTINEL1,
    parameters={"producttype": "GRD"},
)


def recorded_names(fixtures: Path) -> list[str]:
    return [p["Name"].removesuffix(".SAFE") for p in json.loads((fixtures / PAGE).read_text())["value"]]


def serve(fixtures: Path) -> ReplayServer:
    return ReplayServer(
        [
            Route("GET", PRODUCTS, body_file=fixtures / PAGE, when=query_has({"$skip": None})),
            Route("GET", PRODUCTS, body=b'{"value": []}', when=query_has({"$skip": "10"})),
        ],
        rewrite_hosts=[CREODIAS_HOST],
    )


def searcher(server: ReplayServer, **options: Any) -> CreodiasODataSearcher:
    return CreodiasODataSearcher(base_url=server.url("/odata/v1"), backoff_s=0, **options)


def test_a_limit_within_the_recorded_page(shared_fixtures: Path) -> None:
    with serve(shared_fixtures) as server:
        result = searcher(server).search(QUERY.model_copy(update={"limit": 5}))
    (request,) = server.requests
    assert request.path == PRODUCTS
    assert request.param("$filter") == build_filter(QUERY)
    assert (request.param("$top"), request.param("$expand")) == ("6", "Attributes")
    assert [s.source_id for s in result.scenes] == recorded_names(shared_fixtures)[:5]
    assert (result.catalogue, result.truncated, result.total) == ("creodias", True, 3123749)
    assert {s.catalogue for s in result.scenes} == {"creodias"}


def test_the_recorded_next_link_is_followed(shared_fixtures: Path) -> None:
    with serve(shared_fixtures) as server:
        result = searcher(server).search(QUERY.model_copy(update={"limit": 15}))
    first, second = server.requests
    assert first.param("$skip") is None and first.param("$top") == "16"
    # The second request is Creodias' own nextLink, moved onto the replay server and read as it is.
    assert (second.param("$skip"), second.param("$top"), second.param("$count")) == ("10", "10", "True")
    assert second.param("$filter") == (
        "Collection/Name eq 'SENTINEL-1' and Attributes/OData.CSC.StringAttribute/any(att:att/Name eq "
        "'productType' and att/OData.CSC.StringAttribute/Value eq 'GRD')"
    )
    assert [s.source_id for s in result.scenes] == recorded_names(shared_fixtures)
    assert (result.truncated, result.total) == (False, 3123749)
    assert not server.unmatched
