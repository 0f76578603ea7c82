"""Fixture names and the minimal landing page shared by the STAC API tests."""

from __future__ import annotations

import json

CASSETTE = "stac/earth-search_v1_search_s2l2a_landsat-c2-l2.cassette.yaml"
L1C_LIMIT1 = "stac/earth-search_v1_search_sentinel-2-l1c_limit1.json"
USGS_SR_ITEM = (
    "landsat/LC08_L2SP_008059_20191201_20200825_02_T1/LC08_L2SP_008059_20191201_20200825_02_T1_SR_stac.json"
)

CONFORMS_TO = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/item-search#filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
]


def landing_page(root: str, catalog_id: str) -> bytes:
    """A minimal STAC API landing page (STAC API v1.0.0, "Core" and "Item Search"), not a recording."""
    search = {"rel": "search", "type": "application/geo+json", "href": f"{root}/search"}
    return json.dumps(
        {
            "type": "Catalog",
            "stac_version": "1.0.0",
            "id": catalog_id,
            "description": f"{catalog_id} (minimal landing page built from the STAC API spec)",
            "conformsTo": CONFORMS_TO,
            "links": [
                {"rel": "self", "type": "application/json", "href": root},
                {"rel": "root", "type": "application/json", "href": root},
                search | {"method": "GET"},
                search | {"method": "POST"},
            ],
        }
    ).encode()
