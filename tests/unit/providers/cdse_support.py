"""Queries and fixture names shared by the CDSE tests (the window of the recorded CDSE answers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from catalogue.models import Constellation, SceneQuery

CDSE_HOST = "https://catalogue.dataspace.copernicus.eu"
PRODUCTS = "/odata/v1/Products"
AOI = "POLYGON ((137.7729 13.1342, 137.7729 23.886, 153.7491 23.886, 153.7491 13.1342, 137.7729 13.1342))"
S2_TOP2 = "cdse/odata/products_s2_l1c_expand_attributes_assets_top2.json"
S1_PAGES = [f"cdse/odata/products_s1_20140405-20140414_expand_attributes_page{i}.json" for i in range(1, 6)]
PRODUCT_TYPE_S2 = (
    "Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and "
    "att/OData.CSC.StringAttribute/Value eq 'S2MSI1C')"
)


def s2_query(**changes: Any) -> SceneQuery:
    fields: dict[str, Any] = {
        "aoi_wkt": AOI,
        "start": datetime(2020, 8, 8, tzinfo=UTC),
        "end": datetime(2020, 8, 16, tzinfo=UTC),
        "constellation": Constellation.SENTINEL2,
    }
    return SceneQuery(**(fields | changes))


def s1_query(**changes: Any) -> SceneQuery:
    # The window of the recorded S1 pages (2014-04-05 .. 2014-04-14).
    return s2_query(
        constellation=Constellation.SENTINEL1,
        start=datetime(2014, 4, 5, tzinfo=UTC),
        end=datetime(2014, 4, 14, tzinfo=UTC),
        **changes,
    )


def load(fixtures: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((fixtures / name).read_text()))
