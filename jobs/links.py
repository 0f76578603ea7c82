"""The use cases of the tile links around a run: whether the tiles wait for each other, and the records'
link tags after it (``catalogue.relink``). ``tasks.links`` adds retries; the parent flow calls them.
"""

from __future__ import annotations

from collections.abc import Mapping

from catalogue.ledger import load_ledger
from catalogue.models import Tile
from catalogue.plan import IngestionPlan
from catalogue.records import RecordsOutcome, link_tag_updates, update_link_tags
from catalogue.relink import relink_by_status
from common.settings import load_settings
from graphs.loader import load_graph
from jobs.payload import Payload
from jobs.planning import graph_reads_links
from jobs.resources import open_geocube
from storage import open_storage


def tile_graph_reads_links(payload: Payload) -> bool:
    """Whether the payload's tile graph reads T1/T2: then a tile waits for its previous and reference,
    else the tiles of a series run in parallel (``jobs.planning.graph_reads_links``)."""
    graph = load_graph(payload.tile_graph_name, graph_root=load_settings().graph_root)
    return graph_reads_links(graph)


def relink_records(
    plan: IngestionPlan, status: Mapping[str, str], records: RecordsOutcome, storage_uri: str = ""
) -> list[str]:
    """After a run: the records whose scenes' tiles were re-linked around failed ones get the link tags
    of the links the tiles were processed with. Returns the records changed (no Geocube call when none).

    A scene's tags name the links of all its tiles. A run of some of them only (``retry TILE``) adds the
    scene's other tiles from the AOI's ledger in ``storage_uri``, as they are there, so that their links
    stay in the tags.
    """
    updates = link_updates(plan, status, other_tiles_of_the_scenes(plan, storage_uri))
    if not updates:
        return []
    with open_geocube(load_settings()) as geocube:
        return update_link_tags(geocube, records.record_ids, updates)


def link_updates(
    plan: IngestionPlan, status: Mapping[str, str], rest: list[Tile]
) -> dict[str, dict[str, str]]:
    """scene -> its new link tags, from the run's tiles as processed and the scenes' ``rest`` of tiles."""
    effective = relink_by_status(plan.tiles, status)
    return link_tag_updates(plan.scenes, [*plan.tiles, *rest], [*effective, *rest])


def other_tiles_of_the_scenes(plan: IngestionPlan, storage_uri: str) -> list[Tile]:
    """The ledger's tiles of the plan's scenes that the plan does not hold."""
    if not storage_uri:
        return []
    ledger = load_ledger(open_storage(storage_uri), plan.aoi)
    scenes = {s.source_id for s in plan.scenes}
    here = {t.key for t in plan.tiles}
    return [t for key, t in ledger.tiles.items() if t.scene_id in scenes and key not in here]
