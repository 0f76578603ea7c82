"""Static STAC catalogue on disk (providers.stac.static), on catalogues written here with pystac."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pystac
import pytest
import shapely

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, SceneQuery
from providers.stac.static import StaticStacSearcher

# Names of real products (fixtures/s2, fixtures/s1); the items themselves are made up here.
S2_IN = "S2A_MSIL1C_20210403T101021_N0300_R022_T33TUM_20210403T110551"
S2_CLOUDY = "S2B_MSIL1C_20210406T101559_N0300_R065_T33TUM_20210406T121923"
S2_FAR = "S2A_MSIL1C_20210404T094031_N0300_R036_T33TWM_20210404T104113"
S2_LATE = "S2A_MSIL1C_20210420T101021_N0300_R022_T33TUM_20210420T110551"
S1_IN = "S1A_IW_SLC__1SDV_20210405T051617_20210405T051644_037311_046573_2C67"
AOI = "POLYGON ((12 45, 13 45, 13 46, 12 46, 12 45))"
INSIDE = [[12.5, 45.5], [13.5, 45.5], [13.5, 46.5], [12.5, 46.5], [12.5, 45.5]]
FAR = [[20.0, 10.0], [21.0, 10.0], [21.0, 11.0], [20.0, 11.0], [20.0, 10.0]]


def make_item(
    item_id: str,
    when: datetime,
    ring: list[list[float]],
    properties: dict[str, Any],
    assets: dict[str, pystac.Asset] | None = None,
) -> pystac.Item:
    geometry = {"type": "Polygon", "coordinates": [ring]}
    item = pystac.Item(
        item_id, geometry, list(shapely.from_geojson(json.dumps(geometry)).bounds), when, properties
    )
    for key, asset in (assets or {"product": pystac.Asset(f"./{item_id}.zip", roles=["data"])}).items():
        item.add_asset(key, asset)
    return item


def s2_props(cloud: float | None = 10.0, **more: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "constellation": "sentinel-2",
        "platform": "sentinel-2a",
        "s2:product_type": "S2MSI1C",
        "sat:relative_orbit": 22,
        "sat:orbit_state": "descending",
    }
    if cloud is not None:
        props["eo:cloud_cover"] = cloud
    return props | more


def items() -> list[pystac.Item]:
    return [
        make_item(S2_LATE, datetime(2021, 4, 20, 10, 10, 21, tzinfo=UTC), INSIDE, s2_props()),
        make_item(S2_IN, datetime(2021, 4, 3, 10, 10, 21, tzinfo=UTC), INSIDE, s2_props()),
        make_item(
            S2_CLOUDY,
            datetime(2021, 4, 6, 10, 15, 59, tzinfo=UTC),
            INSIDE,
            {"platform": "sentinel-2b", "eo:cloud_cover": 90.0},
        ),
        make_item(S2_FAR, datetime(2021, 4, 4, 9, 40, 31, tzinfo=UTC), FAR, s2_props()),
        make_item(
            S1_IN,
            datetime(2021, 4, 5, 5, 16, 17, tzinfo=UTC),
            INSIDE,
            {"platform": "sentinel-1a", "sat:orbit_state": "ascending"},
        ),
    ]


def write_catalog(root: Path, stac_items: list[pystac.Item]) -> Path:
    catalog = pystac.Catalog("archive", "the user's archive")
    catalog.add_items(stac_items)
    catalog.normalize_hrefs(str(root))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return root


def query(constellation: Constellation = Constellation.SENTINEL2, **changes: Any) -> SceneQuery:
    fields: dict[str, Any] = {
        "aoi_wkt": AOI,
        "start": datetime(2021, 4, 1, tzinfo=UTC),
        "end": datetime(2021, 4, 15, tzinfo=UTC),
        "constellation": constellation,
    }
    return SceneQuery(**(fields | changes))


def test_items_are_matched_on_constellation_date_and_aoi(tmp_path: Path) -> None:
    searcher = StaticStacSearcher(write_catalog(tmp_path / "stac", items()))
    result = searcher.search(query())
    assert [s.source_id for s in result.scenes] == [S2_IN, S2_CLOUDY]  # by date; FAR and LATE left out
    assert (result.catalogue, result.truncated, result.total) == ("static-stac", False, 2)
    s1 = searcher.search(query(Constellation.SENTINEL1))
    assert [s.source_id for s in s1.scenes] == [S1_IN]
    assert s1.scenes[0].tags["orbitDirection"] == "ASCENDING"


def test_item_is_mapped_to_a_scene_with_an_absolute_download_link(tmp_path: Path) -> None:
    root = write_catalog(tmp_path / "stac", items())
    scene = StaticStacSearcher(root).search(query()).scenes[0]
    assert scene.source_id == S2_IN and scene.constellation is Constellation.SENTINEL2
    assert scene.date == datetime(2021, 4, 3, 10, 10, 21, tzinfo=UTC)
    assert scene.catalogue == "static-stac"
    assert scene.tags == {
        "sourceID": S2_IN,
        "constellation": "SENTINEL2",
        "satellite": "SENTINEL2A",
        "productType": "S2MSI1C",
        "cloudCoverPercentage": "10",
        "relativeOrbit": "22",
        "orbitDirection": "DESCENDING",
        "ingestionDate": "2021-04-03T10:10:21Z",  # as every catalogue writes it (one STAC mapping)
    }
    expected = root / S2_IN / f"{S2_IN}.zip"  # pystac's self-contained layout: <root>/<id>/<id>.json
    assert scene.metadata["download_link"] == str(expected)
    assert Path(scene.metadata["download_link"]).is_absolute()
    assert shapely.from_wkt(scene.footprint_wkt).equals(shapely.Polygon(INSIDE))


def test_start_is_included_and_end_excluded(tmp_path: Path) -> None:
    root = write_catalog(tmp_path / "stac", items())
    at_start = query(
        start=datetime(2021, 4, 3, 10, 10, 21, tzinfo=UTC), end=datetime(2021, 4, 6, 10, 15, 59, tzinfo=UTC)
    )
    assert [s.source_id for s in StaticStacSearcher(root).search(at_start).scenes] == [S2_IN]


def test_cloud_cover_filter_leaves_out_items_without_it_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stac_items = [
        *items(),
        make_item(
            "S2A_MSIL1C_20210410T101021_N0300_R022_T33TUM_20210410T110551",
            datetime(2021, 4, 10, tzinfo=UTC),
            INSIDE,
            s2_props(cloud=None),
        ),
    ]
    root = write_catalog(tmp_path / "stac", stac_items)
    with caplog.at_level(logging.WARNING, logger="providers.stac.static"):
        result = StaticStacSearcher(root).search(query(parameters={"cloudcoverpercentage": "[0 TO 50]"}))
    assert [s.source_id for s in result.scenes] == [S2_IN]
    assert "1 item(s)" in caplog.text and "lack eo:cloud_cover" in caplog.text


def test_page_and_limit(tmp_path: Path) -> None:
    root = write_catalog(tmp_path / "stac", items())
    end = datetime(2021, 5, 1, tzinfo=UTC)
    first = StaticStacSearcher(root).search(query(limit=2, end=end))
    second = StaticStacSearcher(root).search(query(limit=2, page=1, end=end))
    assert [s.source_id for s in first.scenes] == [S2_IN, S2_CLOUDY] and first.truncated is True
    assert [s.source_id for s in second.scenes] == [S2_LATE] and second.truncated is False
    assert first.total == second.total == 3


def test_a_folder_of_item_files_without_catalog(tmp_path: Path) -> None:
    folder = tmp_path / "items"
    (folder / "2021").mkdir(parents=True)
    data_asset = pystac.Asset("../data/band.tif", roles=["data"])
    item = make_item(
        S2_IN,
        datetime(2021, 4, 3, tzinfo=UTC),
        INSIDE,
        s2_props(),
        assets={"thumbnail": pystac.Asset("thumb.png", roles=["thumbnail"]), "B04": data_asset},
    )
    (folder / "2021" / f"{S2_IN}.json").write_text(json.dumps(item.to_dict(include_self_link=False)))
    (folder / "notes.json").write_text('{"type": "Collection-ish note"}')
    scenes = StaticStacSearcher(folder).search(query()).scenes
    assert [s.source_id for s in scenes] == [S2_IN]
    assert scenes[0].metadata["download_link"] == str(folder / "data" / "band.tif")


def test_unknown_parameters_and_a_missing_folder_are_errors(tmp_path: Path) -> None:
    root = write_catalog(tmp_path / "stac", items())
    with pytest.raises(CatalogueError, match="does not understand 'tileid'; known: cloudcoverpercentage"):
        StaticStacSearcher(root).search(query(parameters={"tileid": "T33TUM"}))
    with pytest.raises(CatalogueError, match="GEOCUBE_INGESTER_STATIC_STAC_CATALOG"):
        StaticStacSearcher(tmp_path / "absent").search(query())


def test_a_broken_catalog_names_the_folder(tmp_path: Path) -> None:
    (tmp_path / "catalog.json").write_text("{not json")
    with pytest.raises(CatalogueError, match=f"cannot read the catalogue in {tmp_path}"):
        StaticStacSearcher(tmp_path).search(query())


def test_a_static_item_maps_as_a_stac_api_item_does(tmp_path: Path) -> None:
    """One STAC item -> Scene mapping: the static searcher gives what a STAC API search would."""
    from providers.stac.items import item_to_scene

    root = write_catalog(tmp_path / "stac", items())
    scene = StaticStacSearcher(root).search(query()).scenes[0]
    item = json.loads((root / S2_IN / f"{S2_IN}.json").read_text())
    item["assets"]["product"]["href"] = scene.metadata["download_link"]  # the API gives absolute hrefs
    via_api = item_to_scene(item, Constellation.SENTINEL2, catalogue="static-stac")
    assert via_api.tags == scene.tags and via_api.date == scene.date
    assert via_api.metadata["download_link"] == scene.metadata["download_link"]
    assert via_api.footprint_wkt == scene.footprint_wkt


def test_a_static_catalogues_item_can_be_fetched_as_its_assets(tmp_path: Path) -> None:
    """The item file is the scene's ``stac_item_href``: the stac-assets provider reads it there."""
    from providers.stac.assets import StacAssetsDownloader

    bands = {
        "red": pystac.Asset("./B04.tif", roles=["data"]),
        "nir": pystac.Asset("./B08.tif", roles=["data"]),
        "thumbnail": pystac.Asset("./thumb.png", roles=["thumbnail"]),
    }
    item = make_item(S2_IN, datetime(2021, 4, 3, 10, 10, 21, tzinfo=UTC), INSIDE, s2_props(), bands)
    root = write_catalog(tmp_path / "archive", [item])
    for name in ("B04.tif", "B08.tif", "thumb.png"):
        (root / S2_IN / name).write_bytes(name.encode())
    (scene,) = StaticStacSearcher(root).search(query()).scenes
    assert scene.metadata["stac_item_href"] == str(root / S2_IN / f"{S2_IN}.json")
    (tmp_path / "out").mkdir()
    folder = StacAssetsDownloader().download(scene, tmp_path / "out")
    assert sorted(p.name for p in folder.iterdir()) == ["B04.tif", "B08.tif", f"{S2_IN}.json"]
    assert (folder / "B08.tif").read_bytes() == b"B08.tif"
