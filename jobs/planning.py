"""Turning a plan into jobs: one SceneJob per scene, one TileJob per tile (in dependency order)."""

from __future__ import annotations

from catalogue.plan import IngestionPlan
from jobs.models import SceneJob, SceneRef, TileJob
from jobs.payload import Payload


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
