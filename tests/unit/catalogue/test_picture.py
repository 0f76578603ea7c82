"""Picture of a plan (catalogue.picture), drawn for the original's real tiles.json and Denmark AOI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import shapely
from PIL import Image

from catalogue.errors import CatalogueError
from catalogue.interchange import read_interchange
from catalogue.models import Tile
from catalogue.picture import DPI, FIGURE_SIZE_IN, draw_plan

EXPECTED_SIZE = (round(FIGURE_SIZE_IN[0] * DPI), round(FIGURE_SIZE_IN[1] * DPI))


@pytest.fixture(scope="module")
def denmark_aoi_wkt(shared_fixtures: Path) -> str:
    payload = shared_fixtures / "original-ingester" / "payloads" / "DenmarkDemoS1.json"
    return str(shapely.from_geojson(json.dumps(json.loads(payload.read_text())["geometry"])).wkt)


def distinct_colours(path: Path) -> int:
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


@pytest.mark.slow  # matplotlib: about 1 s
def test_draw_the_denmark_s1_plan(shared_fixtures: Path, denmark_aoi_wkt: str, tmp_path: Path) -> None:
    document = read_interchange(shared_fixtures / "original-ingester" / "interchange" / "tiles.json")
    png = tmp_path / "plan.png"
    written = draw_plan(
        png, aoi_wkt=denmark_aoi_wkt, scenes=document.scenes, tiles=document.tiles, title="DenmarkDemo"
    )
    assert written == png
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.size == EXPECTED_SIZE
    # AOI fill and edge, three series, three scene outlines, text: far from a blank canvas.
    assert distinct_colours(png) > 50
    assert [p.name for p in tmp_path.iterdir()] == ["plan.png"]  # no temporary file left


@pytest.mark.slow  # matplotlib: about 1 s
def test_a_plan_of_many_series_is_drawn_per_swath(denmark_aoi_wkt: str, tmp_path: Path) -> None:
    start = datetime(2022, 1, 11, 17, 1, 24, tzinfo=UTC)
    tiles = [
        Tile(
            source_id=f"A44_{swath}_{8951 + 28 * nr}",
            scene_id="S1A_IW_SLC__1SDV_20220111T170124_20220111T170151_041416_04ECAD_F4D7",
            date=start + timedelta(seconds=nr),
            footprint_wkt=f"POLYGON (({x} {54 + nr / 8}, {x + 0.5} {54 + nr / 8}, {x + 0.5} "
            f"{54.1 + nr / 8}, {x} {54.1 + nr / 8}, {x} {54 + nr / 8}))",
            swath_id=swath,
            tile_nr=nr,
        )
        for nr in range(12)
        for swath, x in (("IW1", 9.0), ("IW2", 9.5), ("IW3", 10.0))
    ]
    png = draw_plan(tmp_path / "many.png", aoi_wkt=denmark_aoi_wkt, scenes=[], tiles=tiles)
    assert distinct_colours(png) > 20


def test_an_aoi_alone_is_drawn(tmp_path: Path) -> None:
    png = draw_plan(
        tmp_path / "sub" / "aoi.png", aoi_wkt="POLYGON ((9 54, 10 54, 10 55, 9 54))", scenes=[], tiles=[]
    )
    with Image.open(png) as image:
        assert image.size == EXPECTED_SIZE


def test_a_bad_wkt_names_the_field_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="aoi_wkt: not valid WKT"):
        draw_plan(tmp_path / "plan.png", aoi_wkt="POLYGON ((9 54", scenes=[], tiles=[])
    assert list(tmp_path.iterdir()) == []
