"""Geocube records against the local Geocube server over a real socket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, Scene, Tile
from catalogue.records import delete_unused_records, ensure_records, scene_record_tags, with_record_tags
from geocube_client.client import GeocubeClient

pytestmark = pytest.mark.integration


def scenes(prefix: str) -> list[Scene]:
    base = datetime(2023, 5, 1, 10, 30, 11, 123456, tzinfo=UTC)
    return [
        Scene(
            source_id=f"{prefix}_{i}",
            date=base + timedelta(days=5 * i),
            constellation=Constellation.SENTINEL2,
            footprint_wkt=f"POLYGON (({i} 40, {i + 1} 40, {i + 1} 41, {i} 41, {i} 40))",
            tags={"cloudCoverPercentage": str(10 * i), "constellation": "SENTINEL2"},
        )
        for i in range(3)
    ]


def tiles_for(items: list[Scene]) -> list[Tile]:
    tiles = [
        Tile(source_id=s.source_id, scene_id=s.source_id, date=s.date, footprint_wkt=s.footprint_wkt)
        for s in items
    ]
    root = tiles[0].link()
    for before, tile in pairwise(tiles):
        tile.previous, tile.reference = before.link(), root
    return tiles


def run(client: GeocubeClient, items: list[Scene], record_tags: dict[str, str]):
    tiles = tiles_for(items)
    tags = {s.source_id: scene_record_tags(with_record_tags(s, record_tags), tiles) for s in items}
    return ensure_records(client, items, tags, record_tags=record_tags), tags


def test_records_are_created_once_then_reused(local_geocube: str) -> None:
    items = scenes("reuse")
    with GeocubeClient(local_geocube, insecure=True) as client:
        first, tags = run(client, items, {"source": "test-reuse"})
        assert len(first.created) == 3 and not first.reused
        second, _ = run(client, items, {"source": "test-reuse"})
        assert second.created == [] and sorted(second.reused) == sorted(first.created)
        assert second.record_ids == first.record_ids
        stored = {r.name: r for r in client.list_records(tags={"source": "test-reuse"})}
        assert stored["reuse_2"].tags["previous_scenes"] == '["reuse_1"]'
        assert stored["reuse_2"].tags["reference_scenes"] == '["reuse_0"]'
        assert stored["reuse_0"].tags == tags["reuse_0"]


def test_other_record_tags_make_other_records(local_geocube: str) -> None:
    items = scenes("tags")
    with GeocubeClient(local_geocube, insecure=True) as client:
        a, _ = run(client, items, {"source": "A"})
        b, _ = run(client, items, {"source": "B"})
        assert set(a.created).isdisjoint(b.created) and len(b.created) == 3


def test_conflicting_record_tag_is_a_clear_error() -> None:
    scene = scenes("conflict")[0]
    with pytest.raises(CatalogueError, match=r"record_tags\.constellation"):
        with_record_tags(scene, {"constellation": "LANDSAT"})


def test_unused_created_records_are_deleted(local_geocube: str) -> None:
    items = scenes("unused")
    with GeocubeClient(local_geocube, insecure=True) as client:
        outcome, _ = run(client, items, {"source": "test-unused"})
        keep = outcome.record_ids["unused_0"]
        assert delete_unused_records(client, outcome.created, [keep]) == 2
        left = client.list_records(tags={"source": "test-unused"})
        assert [r.id for r in left] == [keep]


def test_records_are_created_in_batches(local_geocube: str) -> None:
    items = scenes("batch")
    tiles = tiles_for(items)
    tags = {
        s.source_id: scene_record_tags(with_record_tags(s, {"source": "test-batch"}), tiles) for s in items
    }

    class Counting(GeocubeClient):
        batches: list[int] = []  # noqa: RUF012

        def create_records(self, records):  # type: ignore[no-untyped-def]
            self.batches.append(len(records))
            return super().create_records(records)

    with Counting(local_geocube, insecure=True) as client:
        outcome = ensure_records(client, items, tags, record_tags={"source": "test-batch"}, batch_size=2)
    assert Counting.batches == [2, 1] and len(outcome.created) == 3


def test_a_relinked_scene_keeps_its_record_with_new_link_tags(local_geocube: str) -> None:
    items = scenes("relink")
    with GeocubeClient(local_geocube, insecure=True) as client:
        first, _ = run(client, items[1:], {"source": "test-relink"})
        # An older acquisition arrives: items[1] now follows items[0].
        second, _ = run(client, items, {"source": "test-relink"})
        assert len(second.created) == 1, "only the new scene gets a new record"
        assert second.record_ids["relink_1"] == first.record_ids["relink_1"]
        assert first.record_ids["relink_1"] in second.relinked
        stored = {r.name: r for r in client.list_records(tags={"source": "test-relink"})}
        assert stored["relink_1"].tags["previous_scenes"] == '["relink_0"]'
        assert len(stored) == 3
