"""Our previous/reference graph equals the original ingester's on its own catalogue output.

``original-ingester/interchange/tiles.json`` is the original's ``/catalog/tiles`` answer for three
Sentinel-1 scenes of track A44 (Denmark tutorial): a FeatureCollection whose feature properties hold
a ``Tiles`` list of bursts with ``SourceID``, ``SceneID``, ``Date``, ``AnxTime``, ``Previous`` and
``Reference``. We link the bursts without their links and compare.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from catalogue.models import Constellation, Tile
from catalogue.tiles import link_tiles


def load_original(shared_fixtures: Path) -> list[dict[str, Any]]:
    collection = json.loads((shared_fixtures / "original-ingester/interchange/tiles.json").read_text())
    return [tile for feature in collection["features"] for tile in feature["properties"]["Tiles"]]


def link_pair(link: dict[str, str] | None) -> tuple[str, str, datetime] | None:
    """The original's link as (tile id, scene id, date)."""
    if link is None:
        return None
    return (link["SourceID"], link["SceneID"], datetime.fromisoformat(link["Date"]))


def test_links_equal_the_original_ingesters(shared_fixtures: Path) -> None:
    original = load_original(shared_fixtures)
    assert len(original) == 9
    tiles = [
        Tile(
            source_id=o["SourceID"],
            scene_id=o["SceneID"],
            date=o["Date"],
            footprint_wkt=o["GeometryWKT"],
            swath_id=o["Data"]["swath_id"],
            tile_nr=o["Data"]["tile_nr"],
            anx_time=o["AnxTime"],
        )
        for o in original
    ]

    result = link_tiles(tiles, constellation=Constellation.SENTINEL1)

    ours = {(t.source_id, t.scene_id): t for t in result.tiles}
    assert len(ours) == len(original)
    for o in original:
        tile = ours[o["SourceID"], o["SceneID"]]
        pair = (tile.source_id, tile.scene_id)
        previous = (p.source_id, p.scene_id, p.date) if (p := tile.previous) else None
        reference = (r.source_id, r.scene_id, r.date) if (r := tile.reference) else None
        assert previous == link_pair(o["Previous"]), pair
        assert reference == link_pair(o["Reference"]), pair
    assert [(s.place, s.count) for s in result.series] == [
        ("S1:A44_IW1:8951", 3),
        ("S1:A44_IW1:8979", 3),
        ("S1:A44_IW1:9007", 3),
    ]


def test_the_benchmark_baseline_gives_the_same_links_as_ours() -> None:
    """bench.tiles compares link_tiles with a straight port of BurstsSort: both must link alike."""
    from bench.pooling import bursts_sort
    from bench.tiles import make_tiles

    tiles = make_tiles(3000)

    def links(linked: list[Tile]) -> dict[str, tuple[str | None, str | None]]:
        return {
            t.key: (t.previous.key if t.previous else None, t.reference.key if t.reference else None)
            for t in linked
        }

    ours = link_tiles(tiles, constellation=Constellation.SENTINEL1).tiles
    assert len(ours) == 3000 and sum(t.previous is not None for t in ours) == 3000 - 1350
    assert links(ours) == links(bursts_sort(tiles))
