"""The CDSE STAC preset (providers.stac.api.CDSE_STAC) against a test double on 127.0.0.1.

No recorded CDSE STAC response exists (PROVENANCE.md, "Not found": only code mocks and hand-written
dicts were found). The double is therefore BUILT FROM THE PROVIDER'S PUBLISHED API DOCUMENTATION, not
from a recording: https://documentation.dataspace.copernicus.eu/APIs/STAC.html (endpoint
``https://stac.dataspace.copernicus.eu/v1``, STAC API 1.x item search, collections ``sentinel-1-slc``,
``sentinel-2-l2a``...; item properties ``product:type``, ``sat:orbit_state``, ``sat:relative_orbit``,
``sat:absolute_orbit``, ``sar:instrument_mode``, ``sar:polarizations``; the ``Product`` asset, i.e. the
OData ``/Products(<Id>)/$value`` download, with an ``s3`` alternate), and the CDSE release notes (at most
10 000 items paged). The values are those of a real product of the shared fixtures,
``S1A_IW_SLC__1SDV_20200511T135117_..._7768`` (its ``manifest.safe``: footprint, relative orbit 71,
DESCENDING, orbit 32518, IW, VV+VH); its CDSE Id is unknown, so the UUID is a placeholder. The landing
page is the minimal one of test_stac_api.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, SceneQuery
from providers.stac.api import CDSE_STAC, StacApiSearcher, build_cdse_stac_search
from tests.support.replay import ReplayServer, Route
from tests.unit.providers.stac_support import landing_page

CDSE_STAC_HOST = "https://stac.dataspace.copernicus.eu"
NAME = "S1A_IW_SLC__1SDV_20200511T135117_20200511T135144_032518_03C421_7768"
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000007768"
# manifest.safe <gml:coordinates> (lat,lon pairs), as GeoJSON lon/lat.
FOOTPRINT = [
    [-115.650406, 37.133995],
    [-118.4748, 37.530949],
    [-118.142548, 39.150517],
    [-115.252251, 38.75486],
]


def documented_item(name: str, polarizations: list[str]) -> dict[str, Any]:
    """A sentinel-1-slc item with the documented CDSE properties and Product asset."""
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": name,
        "collection": "sentinel-1-slc",
        "geometry": {"type": "Polygon", "coordinates": [[*FOOTPRINT, FOOTPRINT[0]]]},
        "bbox": [-118.4748, 37.133995, -115.252251, 39.150517],
        "properties": {
            "datetime": "2020-05-11T13:51:17.000000Z",
            "platform": "sentinel-1a",
            "constellation": "sentinel-1",
            "product:type": "IW_SLC__1S",
            "sar:instrument_mode": "IW",
            "sar:polarizations": polarizations,
            "sat:orbit_state": "descending",
            "sat:relative_orbit": 71,
            "sat:absolute_orbit": 32518,
        },
        "assets": {
            "Product": {
                "href": f"https://download.dataspace.copernicus.eu/odata/v1/Products({PLACEHOLDER_ID})/$value",
                "type": "application/zip",
                "roles": ["data", "archive"],
                "alternate": {"s3": {"href": f"s3://eodata/Sentinel-1/SAR/SLC/2020/05/11/{name}.SAFE"}},
            }
        },
        "links": [],
    }


def item_collection(items: list[dict[str, Any]], matched: int) -> bytes:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": items,
            "numberMatched": matched,
            "numberReturned": len(items),
            "links": [],
        }
    ).encode()


def s1_query(**changes: Any) -> SceneQuery:
    fields: dict[str, Any] = {
        "aoi_wkt": "POINT (-117 38)",
        "start": datetime(2020, 5, 11, tzinfo=UTC),
        "end": datetime(2020, 5, 12, tzinfo=UTC),
        "constellation": Constellation.SENTINEL1,
    }
    return SceneQuery(**(fields | changes))


def serve(search_body: bytes) -> ReplayServer:
    routes = [
        Route("GET", "/v1", body=landing_page(f"{CDSE_STAC_HOST}/v1", "cdse-stac")),
        Route("POST", "/v1/search", body=search_body, content_type="application/geo+json"),
    ]
    return ReplayServer(routes, rewrite_hosts=[CDSE_STAC_HOST])


@pytest.mark.integration
def test_a_sentinel1_search_filters_with_cql2_and_keeps_the_product_link() -> None:
    vv_only = documented_item(NAME[:-4] + "ABCD", ["VV"])
    with serve(item_collection([documented_item(NAME, ["VV", "VH"]), vv_only], matched=2)) as server:
        params = {
            "producttype": "SLC",
            "polarisationmode": "VV VH",
            "sensoroperationalmode": "IW",
            "relativeorbitnumber": "71",
            "orbitdirection": "DESCENDING",
        }
        result = StacApiSearcher(CDSE_STAC, url=server.url("/v1"), backoff_s=0).search(
            s1_query(parameters=params)
        )
    body = server.requests[1].json()
    assert (body["collections"], body["limit"], body["filter-lang"]) == (["sentinel-1-slc"], 200, "cql2-json")
    assert body["filter"] == {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "sat:relative_orbit"}, 71]},
            {"op": "=", "args": [{"property": "sar:instrument_mode"}, "IW"]},
            {"op": "=", "args": [{"property": "sat:orbit_state"}, "descending"]},
        ],
    }
    (scene,) = result.scenes  # the VV-only product fails the polarisation test run on each item
    assert scene.source_id == NAME and scene.catalogue == "stac-cdse"
    assert scene.tags == {
        "sourceID": NAME,
        "constellation": "SENTINEL1",
        "satellite": "SENTINEL1A",
        "ingestionDate": "2020-05-11T13:51:17.000000Z",
        "productType": "IW_SLC__1S",
        "relativeOrbit": "71",
        "orbit": "32518",
        "orbitDirection": "DESCENDING",
        "polarisationMode": "VV VH",
        "uuid": PLACEHOLDER_ID,
    }
    assert scene.metadata["download_link"].endswith(f"/odata/v1/Products({PLACEHOLDER_ID})/$value")
    assert scene.metadata["download_alternates"] == {
        "s3": f"s3://eodata/Sentinel-1/SAR/SLC/2020/05/11/{NAME}.SAFE"
    }


@pytest.mark.integration
def test_more_items_than_cdse_pages_is_refused_with_the_fix() -> None:
    with serve(item_collection([documented_item(NAME, ["VV", "VH"])], matched=10_001)) as server:
        searcher = StacApiSearcher(CDSE_STAC, url=server.url("/v1"), backoff_s=0)
        with pytest.raises(
            CatalogueError, match="10001 items match, but the service pages no further than 10000"
        ):
            searcher.search(s1_query())
        assert len(searcher.search(s1_query(limit=5)).scenes) == 1  # a limit within reach is fine


def test_sentinel2_filters() -> None:
    q = s1_query(
        constellation=Constellation.SENTINEL2,
        parameters={"producttype": "S2MSI2A", "cloudcoverpercentage": "[0 TO 30]", "tileid": "T31TCJ"},
    )
    search = build_cdse_stac_search(q)
    assert search.collections == ["sentinel-2-l2a"] and search.keep is None
    assert search.filter == {
        "op": "and",
        "args": [
            {"op": ">=", "args": [{"property": "eo:cloud_cover"}, 0.0]},
            {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 30.0]},
            {"op": "=", "args": [{"property": "grid:code"}, "MGRS-31TCJ"]},
        ],
    }
    assert build_cdse_stac_search(s1_query(parameters={"producttype": "GRD"})).collections == [
        "sentinel-1-grd"
    ]
    with pytest.raises(CatalogueError, match="does not understand 'cloudcoverpercentage'"):
        build_cdse_stac_search(s1_query(parameters={"cloudcoverpercentage": "[0 TO 5]"}))
