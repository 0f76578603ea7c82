"""The child flows, one per scene download and one per tile processing.

In ``deployments`` mode they run as the deployments ``download-scene`` (work pool ``download-pool``)
and ``process-tile`` (work pool ``processing-pool``); in ``local`` mode the parent runs them as
subflows in its own process. Their parameters are jobs (no secrets: settings come from the
environment of the worker).
"""

from __future__ import annotations

from typing import Any, TypeVar

from prefect import flow
from prefect.runtime import flow_run

from common.errors import PermanentError
from common.redaction import install_redaction
from flows.logs import route_domain_logs
from jobs.models import JobResult, SceneJob, TileJob
from jobs.stash import JobRef, load_job
from tasks.jobs import download_scene_with_retries, process_tile_with_retries

_J = TypeVar("_J", SceneJob, TileJob)


def _job_fields() -> dict[str, Any]:
    """The job's fields as the run's parameters hold them (the job itself, or its reference)."""
    job = flow_run.parameters.get("job")
    if job is not None:
        return job if isinstance(job, dict) else dict(job.model_dump(mode="json"))
    ref = flow_run.parameters.get("job_ref") or {}
    return ref if isinstance(ref, dict) else dict(ref.model_dump(mode="json"))


def _scene_run_name() -> str:
    data = _job_fields()
    scene = data.get("scene", {}).get("source_id") if "scene" in data else data.get("item")
    return f"download {data.get('aoi')}/{scene}"


def _tile_run_name() -> str:
    data = _job_fields()
    if "tile" not in data:
        return f"process {data.get('aoi')}/{data.get('item')}"
    tile = data["tile"]
    return f"process {data.get('aoi')}/{tile.get('source_id')}@{str(tile.get('date'))[:10]}"


def _the_job(job: _J | None, job_ref: JobRef | None, model: type[_J]) -> _J:
    if job is not None:
        return job
    if job_ref is None:
        raise PermanentError("the child run has neither job nor job_ref: start it from the ingest flow")
    return load_job(job_ref, model)


@flow(name="download-scene", flow_run_name=_scene_run_name, persist_result=True, log_prints=False)
def download_scene(job: SceneJob | None = None, job_ref: JobRef | None = None) -> JobResult:
    """Download one scene with the provider chain, run its scene graph, store its tiles. A job too large
    for flow parameters (a scene of ~1 000 bursts) comes as ``job_ref`` (``jobs.stash``)."""
    install_redaction()
    route_domain_logs()
    return download_scene_with_retries(_the_job(job, job_ref, SceneJob))


@flow(name="process-tile", flow_run_name=_tile_run_name, persist_result=True, log_prints=False)
def process_tile(job: TileJob | None = None, job_ref: JobRef | None = None) -> JobResult:
    """Process one tile with its tile graph, store and index the layers, clean up."""
    install_redaction()
    route_domain_logs()
    return process_tile_with_retries(_the_job(job, job_ref, TileJob))
