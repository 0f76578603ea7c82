"""A retry of some tiles of a scene keeps the links of its other tiles in the scene's record tags."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from catalogue.ledger import add_to_ledger
from catalogue.models import Constellation, Scene, Tile, TileLink
from catalogue.plan import IngestionPlan
from jobs.links import link_updates, other_tiles_of_the_scenes
from storage import open_storage

BOX = "POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))"
START = datetime(2024, 1, 5, tzinfo=UTC)


def scene(i: int) -> Scene:
    date = START + timedelta(days=12 * i)
    name = f"S1A_IW_SLC__1SDV_{date:%Y%m%dT%H%M%S}_{date:%Y%m%dT%H%M%S}_04141{i}_04ECA{i}_F4D{i}"
    return Scene(source_id=name, date=date, constellation=Constellation.SENTINEL1, footprint_wkt=BOX)


def burst(s: Scene, name: str, previous: Scene | None, reference: Scene | None) -> Tile:
    def link(of: Scene | None) -> TileLink | None:
        return TileLink(source_id=name, scene_id=of.source_id, date=of.date) if of else None

    return Tile(source_id=name, scene_id=s.source_id, date=s.date, footprint_wkt=BOX,
                previous=link(previous), reference=link(reference))  # fmt: skip


def test_a_retry_of_one_burst_keeps_the_other_bursts_links_in_the_tags(tmp_path: Path) -> None:
    s1, s2, s3 = scene(0), scene(1), scene(2)
    a2, a3 = burst(s2, "A", s1, s1), burst(s3, "A", s2, s1)
    b3 = burst(s3, "B", s2, s1)
    storage = open_storage(str(tmp_path))
    add_to_ledger(storage, "Aoi", [s1, s2, s3], [a2, a3, b3], {a2.key: "FAILED", b3.key: "DONE"})
    # retry of A of s2 (failed) and A of s3 that it blocked; A of s2 fails again: A of s3 runs against s1
    plan = IngestionPlan(aoi="Aoi", constellation=Constellation.SENTINEL1, scenes=[s2, s3], tiles=[a2, a3])
    rest = other_tiles_of_the_scenes(plan, str(tmp_path))
    assert [t.key for t in rest] == [b3.key]
    updates = link_updates(plan, {a2.key: "FAILED", a3.key: "DONE"}, rest)
    assert json.loads(updates[s3.source_id]["previous_scenes"]) == sorted([s1.source_id, s2.source_id]), (
        "B of s3 still links s2: the tags name both"
    )
