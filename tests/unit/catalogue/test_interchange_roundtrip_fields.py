"""Scene.catalogue and Tile.burst_id survive an interchange round trip, in both shapes (issue 11 item 9)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from catalogue.interchange import InterchangeShape, read_interchange, write_interchange
from catalogue.models import Constellation, Scene, Tile, TileLink

BOX = "POLYGON ((9 54, 13 54, 13 56, 9 56, 9 54))"
BURST = "POLYGON ((9.5 54.5, 10.5 54.5, 10.5 55, 9.5 55, 9.5 54.5))"
S1_JAN11 = "S1A_IW_SLC__1SDV_20220111T170124_20220111T170151_041416_04ECAD_F4D7"
S1_JAN23 = "S1A_IW_SLC__1SDV_20220123T170123_20220123T170150_041591_04F274_1609"
S2 = "S2A_MSIL1C_20220112T103401_N0301_R108_T32UNG_20220112T123456"


def _plan() -> tuple[list[Scene], list[Tile]]:
    jan11 = datetime(2022, 1, 11, 17, 1, 24, 370000, tzinfo=UTC)
    scenes = [
        Scene(
            source_id=S1_JAN11,
            date=jan11,
            constellation=Constellation.SENTINEL1,
            footprint_wkt=BOX,
            tags={"relativeOrbit": "44"},
            metadata={"uuid": "a1"},
            catalogue="cdse",
            record_id="r1",
        ),
        Scene(
            source_id=S1_JAN23,
            date=jan11 + timedelta(days=12),
            constellation=Constellation.SENTINEL1,
            footprint_wkt=BOX,
            metadata={"uuid": "a2"},
            catalogue="asf",
        ),
        # An S2 scene (one whole-scene tile, no burst id) and a scene with no catalogue named.
        Scene(
            source_id=S2,
            date=datetime(2022, 1, 12, 10, 34, 1, tzinfo=UTC),
            constellation=Constellation.SENTINEL2,
            footprint_wkt=BOX,
            catalogue="",
        ),
    ]
    tiles: list[Tile] = []
    for scene in scenes[:2]:
        for nr, burst_id in enumerate((8951, 8952, 8953)):
            tiles.append(
                Tile(
                    source_id=f"A44_IW1_{8951 + nr}",
                    scene_id=scene.source_id,
                    date=scene.date,
                    footprint_wkt=BURST,
                    swath_id="IW1",
                    tile_nr=nr + 1,
                    anx_time=8951 + nr,
                    burst_id=burst_id + 94_000,
                )
            )
    root = tiles[0].link()
    for older, newer in zip(tiles[:3], tiles[3:], strict=True):
        newer.previous = older.link()
        newer.reference = TileLink(source_id=root.source_id, scene_id=root.scene_id, date=root.date)
    tiles.append(Tile(source_id=S2, scene_id=S2, date=scenes[2].date, footprint_wkt=BOX, burst_id=None))
    return scenes, tiles


@pytest.mark.parametrize("shape", list(InterchangeShape))
def test_catalogue_and_burst_id_survive_a_round_trip(shape: InterchangeShape) -> None:
    scenes, tiles = _plan()
    text = json.dumps(write_interchange(scenes, tiles, aoi="Denmark", shape=shape))
    document = read_interchange(json.loads(text))
    assert document.shape is shape
    assert [s.model_dump() for s in document.scenes] == [s.model_dump() for s in scenes]
    assert [t.model_dump() for t in document.tiles] == [t.model_dump() for t in tiles]


@pytest.mark.parametrize("shape", list(InterchangeShape))
def test_a_document_read_and_written_back_keeps_them(shape: InterchangeShape) -> None:
    """Written, read, written again in the shape it was read in: the same document."""
    scenes, tiles = _plan()
    first = write_interchange(scenes, tiles, aoi="Denmark", shape=shape)
    document = read_interchange(first)
    again = write_interchange(
        document.scenes, document.tiles, aoi="Denmark", shape=document.shape, originals=document.originals
    )
    assert again == first
