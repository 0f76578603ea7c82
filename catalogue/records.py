"""Geocube records: one per scene, reused when an identical one exists (name, time, tags).

The Geocube identifies a record by (name, tags, time) and refuses a duplicate (geocube-api.md), so a
re-run must find and reuse its records. Tags are therefore deterministic: ``previous_scenes`` and
``reference_scenes`` are sorted JSON arrays (the original built them from Go map order, defeating
reuse: original-ingester.md §9.2 item 6).

The link tags follow the links the tiles were *processed* with: records are created before the run from
the planned links, and after it, a scene whose tiles were re-linked around a failure
(``catalogue.relink``) gets its ``previous_scenes``/``reference_scenes`` tags rewritten
(``link_tag_updates``, ``update_link_tags``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shapely import unary_union, wkt
from shapely.geometry import MultiPolygon, Polygon

from catalogue.errors import CatalogueError
from catalogue.models import Scene, Tile
from geocube_client.client import GeocubeClient
from geocube_client.models import NewRecord

log = logging.getLogger(__name__)

PROCESSING_DATE_TAG = "processingDate"
LINK_TAGS = ("previous_scenes", "reference_scenes")


def _comparable(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k != PROCESSING_DATE_TAG}


def _without_links(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in _comparable(tags).items() if k not in LINK_TAGS}


@dataclass
class RecordsOutcome:
    record_ids: dict[str, str] = field(default_factory=dict)  # scene source_id -> record id
    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    relinked: list[str] = field(default_factory=list, metadata={"doc": "reused with new link tags"})


def with_record_tags(scene: Scene, record_tags: dict[str, str]) -> Scene:
    """The scene with the payload's ``record_tags`` added to its tags.

    Raises CatalogueError when a payload tag contradicts a tag the catalogue set (§2.8, checked while
    planning, before any record or download).
    """
    tags = dict(scene.tags)
    for key, value in record_tags.items():
        if key in tags and tags[key] != value:
            raise CatalogueError(
                f"record_tags.{key}: the payload says {value!r} but the catalogue says {tags[key]!r} for "
                f"scene {scene.source_id}; remove or rename this tag in record_tags"
            )
        tags[key] = value
    return scene.model_copy(update={"tags": tags})


def scene_record_tags(scene: Scene, tiles: Iterable[Tile]) -> dict[str, str]:
    """The tags of a scene's record: the scene's tags and its links in the previous/reference graph."""
    tags = dict(scene.tags)
    mine = [t for t in tiles if t.scene_id == scene.source_id]
    tags["previous_scenes"] = json.dumps(sorted({t.previous.scene_id for t in mine if t.previous}))
    tags["reference_scenes"] = json.dumps(sorted({t.reference.scene_id for t in mine if t.reference}))
    tags.pop(PROCESSING_DATE_TAG, None)
    return tags


def link_tag_updates(
    scenes: Iterable[Scene], planned: Iterable[Tile], effective: Iterable[Tile]
) -> dict[str, dict[str, str]]:
    """scene source_id -> its new link tags, for the scenes whose tags from the ``effective`` tiles
    differ from those from the ``planned`` ones (what their records were created with)."""
    before: dict[str, list[Tile]] = {}
    after: dict[str, list[Tile]] = {}
    for tile in planned:
        before.setdefault(tile.scene_id, []).append(tile)
    for tile in effective:
        after.setdefault(tile.scene_id, []).append(tile)
    updates: dict[str, dict[str, str]] = {}
    for scene in scenes:
        old = scene_record_tags(scene, before.get(scene.source_id, []))
        new = scene_record_tags(scene, after.get(scene.source_id, []))
        if any(old[k] != new[k] for k in LINK_TAGS):
            updates[scene.source_id] = {k: new[k] for k in LINK_TAGS}
    return updates


def update_link_tags(
    store: GeocubeClient, record_ids: dict[str, str], updates: dict[str, dict[str, str]]
) -> list[str]:
    """Rewrite the link tags of the records of the scenes in ``updates``; return the records changed.

    Scenes without a record here are left out (a record of a scene not downloaded is deleted anyway).
    """
    changed = []
    for scene_id, tags in sorted(updates.items()):
        record_id = record_ids.get(scene_id)
        if record_id and store.add_records_tags([record_id], tags):
            changed.append(record_id)
    if changed:
        log.info(
            "records: link tags of %d record(s) follow the tiles re-linked around failures", len(changed)
        )
    return changed


def _union_wkt(scenes: Sequence[Scene]) -> str:
    union = unary_union([wkt.loads(s.footprint_wkt) for s in scenes]).simplify(1e-6)
    if isinstance(union, Polygon | MultiPolygon):
        return str(union.wkt)
    polygons = [g for g in getattr(union, "geoms", []) if isinstance(g, Polygon)]
    return str(MultiPolygon(polygons).wkt)


def find_scene_records(store: GeocubeClient, scenes: Iterable[Scene]) -> dict[str, str]:
    """scene source_id -> the id of the record made for it (same name and time, and the scene's tags but
    its processing date): what delete and fail look up for scenes a ledger holds."""
    found: dict[str, str] = {}
    for scene in scenes:
        wanted = _comparable(scene.tags)
        for record in store.list_records(name=scene.source_id, from_time=scene.date, to_time=scene.date):
            if record.name == scene.source_id and wanted.items() <= record.tags.items():
                found[scene.source_id] = record.id
    return found


def _same_time(a: datetime, b: datetime) -> bool:
    # The Geocube keeps microseconds.
    return abs((a - b).total_seconds()) < 1e-6


def ensure_records(
    store: GeocubeClient,
    scenes: Sequence[Scene],
    tags_by_scene: dict[str, dict[str, str]],
    *,
    record_tags: dict[str, str],
    batch_size: int = 500,
) -> RecordsOutcome:
    """Reuse or create one record per scene; return the ids.

    One ListRecords over the union of footprints and the time range finds the candidates; exact
    matches are reused; the rest get their AOI (CreateAOI reuses an existing one) and are created in
    atomic CreateRecords batches of ``batch_size``.
    """
    outcome = RecordsOutcome()
    if not scenes:
        return outcome
    existing = store.list_records(
        tags=record_tags or None,
        aoi_wkt=_union_wkt(scenes),
        from_time=min(s.date for s in scenes),
        to_time=max(s.date for s in scenes),
    )
    by_name: dict[str, list[Any]] = {}
    for record in existing:
        by_name.setdefault(record.name, []).append(record)
    to_create: list[Scene] = []
    for scene in scenes:
        wanted = tags_by_scene[scene.source_id]
        candidates = [r for r in by_name.get(scene.source_id, []) if _same_time(r.time, scene.date)]
        exact = next((r for r in candidates if _comparable(r.tags) == wanted), None)
        if exact is not None:
            outcome.record_ids[scene.source_id] = exact.id
            outcome.reused.append(exact.id)
            continue
        # Same scene whose series changed (an older acquisition was inserted before it): same record,
        # new link tags.
        relinked = next((r for r in candidates if _without_links(r.tags) == _without_links(wanted)), None)
        if relinked is not None:
            store.add_records_tags([relinked.id], {k: wanted[k] for k in LINK_TAGS})
            outcome.record_ids[scene.source_id] = relinked.id
            outcome.reused.append(relinked.id)
            outcome.relinked.append(relinked.id)
            continue
        to_create.append(scene)
    for start in range(0, len(to_create), batch_size):
        batch = to_create[start : start + batch_size]
        records = [
            NewRecord(
                name=s.source_id,
                time=s.date,
                tags=tags_by_scene[s.source_id],
                aoi_id=store.create_aoi(s.footprint_wkt),
            )
            for s in batch
        ]
        ids = store.create_records(records)  # atomic: all of the batch or none
        for scene, record_id in zip(batch, ids, strict=True):
            outcome.record_ids[scene.source_id] = record_id
            outcome.created.append(record_id)
    log.info("records: %d reused, %d created", len(outcome.reused), len(outcome.created))
    return outcome


def delete_unused_records(store: GeocubeClient, created: Sequence[str], used: Iterable[str]) -> int:
    """Delete records this run created for scenes that were finally not ingested."""
    keep = set(used)
    orphans = [r for r in created if r not in keep]
    if not orphans:
        return 0
    return store.delete_records(orphans, no_fail=True)
