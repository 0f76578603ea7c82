"""The use cases of the tile links around a run: whether the tiles wait for each other, and the records'
link tags after it (``catalogue.relink``). ``tasks.links`` adds retries; the parent flow calls them.
"""

from __future__ import annotations

from collections.abc import Mapping

from catalogue.plan import IngestionPlan
from catalogue.records import RecordsOutcome, link_tag_updates, update_link_tags
from catalogue.relink import relink_by_status
from common.settings import load_settings
from graphs.loader import load_graph
from jobs.payload import Payload
from jobs.planning import graph_reads_links
from jobs.resources import open_geocube


def tile_graph_reads_links(payload: Payload) -> bool:
    """Whether the payload's tile graph reads T1/T2: then a tile waits for its previous and reference,
    else the tiles of a series run in parallel (``jobs.planning.graph_reads_links``)."""
    graph = load_graph(payload.tile_graph_name, graph_root=load_settings().graph_root)
    return graph_reads_links(graph)


def relink_records(plan: IngestionPlan, status: Mapping[str, str], records: RecordsOutcome) -> list[str]:
    """After a run: the records whose scenes' tiles were re-linked around failed ones get the link tags
    of the links the tiles were processed with. Returns the records changed (no Geocube call when none).
    """
    effective = relink_by_status(plan.tiles, status)
    updates = link_tag_updates(plan.scenes, plan.tiles, effective)
    if not updates:
        return []
    with open_geocube(load_settings()) as geocube:
        return update_link_tags(geocube, records.record_ids, updates)
