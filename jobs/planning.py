"""Turning a plan into jobs: one SceneJob per scene, one TileJob per tile (in dependency order).

A tile waits for its previous and reference tiles only when its graph reads them (``graph_reads_links``):
otherwise the tiles of a series run in parallel. Sentinel-2's ExtractS2Bands, for one, never looks at T1
or T2.
"""

from __future__ import annotations

from catalogue.plan import IngestionPlan
from graphs.model import TILE_CONDITIONS, ArgType, Condition, Graph
from jobs.models import SceneJob, SceneRef, TileJob
from jobs.payload import Payload

# Tile conditions that compare T0 with T1/T2, or T1 with T2: they need the previous/reference decided.
_LINK_CONDITIONS = frozenset(c for c in TILE_CONDITIONS if c is not Condition.PASS)


def graph_reads_links(graph: Graph) -> bool:
    """Whether a tile graph needs its tile's previous (T1) or reference (T2): in-files or out-files of
    T1/T2, a condition on T1/T2 (steps, in-files, out-files), an ``in`` argument of T1/T2, or the
    ``cohdate`` tile argument (T2's date unless T1 and T2 are one scene). Only then does a tile wait for
    its previous and reference, and its links depend on their outcomes (``catalogue.relink``)."""
    if any(graph.in_files[1:]) or any(graph.out_files[1:]):
        return True
    conditions = [step.condition for step in graph.processing_steps]
    conditions += [f.condition for files in graph.in_files for f in files]
    for files in graph.out_files:
        conditions += [f.condition for f in files] + [f.error_condition for f in files if f.error_condition]
    if any(c in _LINK_CONDITIONS for c in conditions):
        return True
    args = [arg for step in graph.processing_steps for arg in step.args.values()]
    return any(
        (arg.type == ArgType.IN and arg.tile_index != 0)
        or (arg.type == ArgType.TILE and arg.value == "cohdate")
        for arg in args
    )


def make_jobs(
    payload: Payload,
    plan: IngestionPlan,
    *,
    instances_id: dict[str, str],
    record_ids: dict[str, str],
    storage_uri: str,
) -> tuple[list[SceneJob], list[TileJob]]:
    """Build the jobs. Tile jobs come in date order, so a tile's previous and reference come first."""
    scenes = {
        s.source_id: s.model_copy(update={"record_id": record_ids.get(s.source_id, "")}) for s in plan.scenes
    }
    tiles_by_scene = plan.tiles_by_scene()
    scene_jobs = [
        SceneJob(
            aoi=plan.aoi,
            scene=scene,
            tiles=tiles_by_scene[scene_id],
            graph_name=payload.scene_graph_name,
            graph_config=payload.graph_config,
            storage_uri=storage_uri,
            is_retriable=payload.is_retriable,
            retry_count=payload.retry_count,
        )
        for scene_id, scene in scenes.items()
    ]
    tile_jobs = [
        TileJob(
            aoi=plan.aoi,
            scene=SceneRef.of(scenes[t.scene_id]),
            tile=t,
            graph_name=payload.tile_graph_name,
            graph_config=payload.graph_config,
            instances_id=instances_id,
            storage_uri=storage_uri,
            is_retriable=payload.is_retriable,
            retry_count=payload.retry_count,
        )
        for t in sorted(plan.tiles, key=lambda t: (t.date, t.scene_id, t.source_id))
    ]
    return scene_jobs, tile_jobs
