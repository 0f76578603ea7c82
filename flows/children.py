"""The child flows, one per scene download and one per tile processing.

In ``deployments`` mode they run as the deployments ``download-scene`` (work pool ``download-pool``)
and ``process-tile`` (work pool ``processing-pool``); in ``local`` mode the parent runs them as
subflows in its own process. Their parameters are jobs (no secrets: settings come from the
environment of the worker).
"""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run

from common.redaction import install_redaction
from flows.logs import route_domain_logs
from jobs.models import JobResult, SceneJob, TileJob
from tasks.jobs import download_scene_with_retries, process_tile_with_retries


def _scene_run_name() -> str:
    job = flow_run.parameters.get("job") or {}
    scene = job.get("scene", {}) if isinstance(job, dict) else job.scene.model_dump()
    aoi = job.get("aoi") if isinstance(job, dict) else job.aoi
    return f"download {aoi}/{scene.get('source_id')}"


def _tile_run_name() -> str:
    job = flow_run.parameters.get("job") or {}
    data = job if isinstance(job, dict) else job.model_dump(mode="json")
    tile = data.get("tile", {})
    return f"process {data.get('aoi')}/{tile.get('source_id')}@{str(tile.get('date'))[:10]}"


@flow(name="download-scene", flow_run_name=_scene_run_name, persist_result=True, log_prints=False)
def download_scene(job: SceneJob) -> JobResult:
    """Download one scene with the provider chain, run its scene graph, store its tiles."""
    install_redaction()
    route_domain_logs()
    return download_scene_with_retries(job)


@flow(name="process-tile", flow_run_name=_tile_run_name, persist_result=True, log_prints=False)
def process_tile(job: TileJob) -> JobResult:
    """Process one tile with its tile graph, store and index the layers, clean up."""
    install_redaction()
    route_domain_logs()
    return process_tile_with_retries(job)
