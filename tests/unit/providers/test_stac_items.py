"""STAC items as Scenes (providers.stac.items), read from real recorded items (PROVENANCE.md "STAC",
"landsat/"): Earth Search v1 Sentinel-2 L2A/L1C and Landsat C2 L2, and a USGS-published STAC 0.7 item."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import shapely

from catalogue.errors import CatalogueError
from catalogue.models import Constellation
from providers.stac.items import item_constellation, item_to_scene, parse_stac_datetime
from tests.support.cassette import load_interactions
from tests.unit.providers.stac_support import CASSETTE, L1C_LIMIT1, USGS_SR_ITEM


def cassette_items(fixtures: Path) -> dict[str, dict[str, Any]]:
    first = load_interactions(fixtures / CASSETTE)[0]
    features = json.loads(first["response"]["body"]["string"])["features"]
    return {f["id"]: f for f in features}


def test_an_earth_search_sentinel2_l2a_item(shared_fixtures: Path) -> None:
    item = cassette_items(shared_fixtures)["S2A_13TDE_20231008_0_L2A"]
    assert item_constellation(item) is Constellation.SENTINEL2
    scene = item_to_scene(item, Constellation.SENTINEL2, catalogue="stac-earth-search")
    # The ESA product name (s2:product_uri), not Earth Search's own id, as the CDSE searcher gives.
    assert scene.source_id == "S2A_MSIL2A_20231008T175231_N0509_R141_T13TDE_20231008T233154"
    assert scene.date == datetime(2023, 10, 8, 18, 2, 55, 276000, tzinfo=UTC)
    assert scene.tags == {
        "sourceID": scene.source_id,
        "constellation": "SENTINEL2",
        "satellite": "SENTINEL2A",
        "ingestionDate": "2023-10-08T18:02:55.276000Z",
        "productType": "S2MSI2A",
        "relativeOrbit": "141",  # no sat:relative_orbit in Earth Search items: read from the name
        "cloudCoverPercentage": "0.000299",
        "tileId": "13TDE",  # mgrs:utm_zone + mgrs:latitude_band + mgrs:grid_square
    }
    assets = scene.metadata["assets"]
    assert len(assets) == 35 and assets["red"].endswith("/S2A_13TDE_20231008_0_L2A/B04.tif")
    assert "download_link" not in scene.metadata  # Earth Search has no product archive asset
    assert (scene.metadata["stac_id"], scene.metadata["collection"]) == (
        "S2A_13TDE_20231008_0_L2A",
        "sentinel-2-l2a",
    )
    assert shapely.from_wkt(scene.footprint_wkt).intersects(shapely.Point(-105.1019, 40.1672))


def test_an_earth_search_landsat_item(shared_fixtures: Path) -> None:
    item = cassette_items(shared_fixtures)["LC08_L2SP_033032_20231008_02_T1"]
    assert item_constellation(item) is Constellation.LANDSAT89
    scene = item_to_scene(item, Constellation.LANDSAT89, catalogue="stac-earth-search")
    assert scene.source_id == "LC08_L2SP_033032_20231008_02_T1"
    assert scene.tags == {
        "sourceID": "LC08_L2SP_033032_20231008_02_T1",
        "constellation": "LANDSAT",
        "satellite": "LANDSAT08",
        "ingestionDate": "2023-10-08T17:37:26.656958Z",
        "productType": "LC_C02_L2SP",  # <id[0:2]>_C<landsat:collection_number>_<landsat:correction>
        "cloudCoverPercentage": "0.06",
        "landCloudCoverPercentage": "0.06",
        "sunAzimuth": "157.5994568",
        "sunElevation": "41.18722795",
    }
    assert scene.metadata["assets"]["red"].startswith("s3://usgs-landsat/collection02/level-2/")


def test_a_usgs_stac_0_7_item(shared_fixtures: Path) -> None:
    item = json.loads((shared_fixtures / USGS_SR_ITEM).read_text())
    assert item_constellation(item) is Constellation.LANDSAT89
    scene = item_to_scene(item, Constellation.LANDSAT89, catalogue="stac-landsat")
    assert scene.date == datetime(2019, 12, 1, tzinfo=UTC)  # "datetime": "2019-12-01"
    assert scene.tags == {
        "sourceID": "LC08_L2SP_008059_20191201_20200825_02_T1",
        "constellation": "LANDSAT",
        "satellite": "LANDSAT08",
        "ingestionDate": "2019-12-01",
        # No landsat:correction in a STAC 0.7 item: the processing level comes from the id.
        "productType": "LC_C02_L2SP",
        "cloudCoverPercentage": "81.02",
        "landCloudCoverPercentage": "81.02",
        "sunAzimuth": "136.31696044",  # eo:sun_azimuth
        "sunElevation": "57.08727307",
    }
    assert len(scene.metadata["assets"]) == 17


def test_an_earth_search_sentinel2_l1c_item(shared_fixtures: Path) -> None:
    item = json.loads((shared_fixtures / L1C_LIMIT1).read_text())["features"][0]
    scene = item_to_scene(item, Constellation.SENTINEL2, catalogue="stac-earth-search")
    assert scene.source_id == "S2B_MSIL1C_20240206T131259_N0510_R081_T27VWK_20240206T133903"
    assert {k: scene.tags[k] for k in ("productType", "tileId", "relativeOrbit", "satellite")} == {
        "productType": "S2MSI1C",
        "tileId": "27VWK",
        "relativeOrbit": "81",
        "satellite": "SENTINEL2B",
    }


def test_constellations_of_items_from_other_missions(shared_fixtures: Path) -> None:
    item = dict(cassette_items(shared_fixtures)["LC08_L2SP_033032_20231008_02_T1"])
    landsat7 = item | {"id": "LE07_L2SP_033032_20231008_02_T1", "properties": {"platform": "landsat-7"}}
    assert item_constellation(landsat7) is None  # Landsat89 means Landsat 8 and 9
    assert item_constellation({"id": "x", "collection": "sentinel-1-grd"}) is Constellation.SENTINEL1


def test_dates() -> None:
    assert parse_stac_datetime("2019-12-01") == datetime(2019, 12, 1, tzinfo=UTC)
    assert parse_stac_datetime("2023-10-08T17:37:26.656958Z") == datetime(
        2023, 10, 8, 17, 37, 26, 656958, tzinfo=UTC
    )
    assert parse_stac_datetime("2023-10-08T19:37:26+02:00") == datetime(2023, 10, 8, 17, 37, 26, tzinfo=UTC)


def test_an_item_without_datetime_is_an_error() -> None:
    with pytest.raises(CatalogueError, match="item S2X has no id or no datetime"):
        item_to_scene({"id": "S2X", "properties": {}}, Constellation.SENTINEL2, catalogue="c")
