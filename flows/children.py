"""The child flows, one per scene download and one per tile processing.

In ``deployments`` mode they run as the deployments ``download-scene`` (work pool ``download-pool``)
and ``process-tile`` (work pool ``processing-pool``); in ``local`` mode the parent runs them as
subflows in its own process. Their parameters are jobs (no secrets: settings come from the
environment of the worker).

``download-scenes`` and ``process-tiles`` (same pools) run a batch of them in one child run
(``jobs.batches``: the parent's ``scenes_per_child``/``tiles_per_child``): each scene or tile is its own
task run of the batch's run, with its retries: a task costs milliseconds of the API, a subflow about
0.4 s (prefect-notes.md), which is the point of a batch.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from prefect import flow
from prefect.runtime import flow_run
from prefect.utilities.asyncutils import run_coro_as_sync

from common.errors import PermanentError
from common.redaction import install_redaction
from flows.api_retries import with_api_retries
from flows.logs import route_domain_logs
from jobs.batches import BatchResult, SceneBatch, TileBatch, run_scene_batch, run_tile_batch
from jobs.models import JobResult, SceneJob, TileJob
from jobs.stash import JobRef, load_job
from tasks.jobs import download_scene_with_retries, process_tile_with_retries

_J = TypeVar("_J", SceneJob, TileJob, SceneBatch, TileBatch)


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


# In this process (a local parent's children, a batch's items), the same flows run as async twins: a
# sync subflow's engine waits up to 1 s at its end for its heartbeat thread, which sleeps in 1 s steps
# (prefect-notes.md: 1.1-1.3 s per trivial sync subflow, 0.36 s per async one). Same names, same run
# names, same parameters: the UI, ``status`` and the zombie automation see the same runs. The job
# itself runs in a worker thread, with the flow run's context.


@flow(name="download-scene", flow_run_name=_scene_run_name, persist_result=True, log_prints=False)
async def _download_scene_here(job: SceneJob) -> JobResult:
    install_redaction()
    route_domain_logs()
    return await asyncio.to_thread(download_scene_with_retries, job)


@flow(name="process-tile", flow_run_name=_tile_run_name, persist_result=True, log_prints=False)
async def _process_tile_here(job: TileJob) -> JobResult:
    install_redaction()
    route_domain_logs()
    return await asyncio.to_thread(process_tile_with_retries, job)


def download_here(job: SceneJob) -> JobResult:
    """The download child, as a subflow in this process (of a batch's run, or of a local parent's)."""
    return with_api_retries(job.label, lambda: run_coro_as_sync(_download_scene_here(job=job)))


def process_here(job: TileJob) -> JobResult:
    """The processing child, as a subflow in this process (of a batch's run, or of a local parent's)."""
    return with_api_retries(job.label, lambda: run_coro_as_sync(_process_tile_here(job=job)))


def download_item(job: SceneJob) -> JobResult:
    """One scene of a batch: its download task (retries included), a task run of the batch's run."""
    return with_api_retries(job.label, lambda: download_scene_with_retries(job))


def process_item(job: TileJob) -> JobResult:
    """One tile of a batch: its processing task (retries included), a task run of the batch's run."""
    return with_api_retries(job.label, lambda: process_tile_with_retries(job))


def _batch_run_name() -> str:
    data = _job_fields()
    jobs = data.get("jobs")
    if not isinstance(jobs, list):  # by reference (jobs.stash): its item is the batch's label
        return f"batch {data.get('item')}"
    kind = "tiles" if jobs and "tile" in jobs[0] else "scenes"
    dates = [str((j.get("tile") or j.get("scene") or {}).get("date"))[:10] for j in jobs]
    span = dates[0] if len(set(dates)) <= 1 else f"{dates[0]}..{dates[-1]}"
    return f"batch {data.get('aoi')}/{len(jobs)} {kind} {span}"


@flow(name="download-scenes", flow_run_name=_batch_run_name, persist_result=True, log_prints=False)
def download_scenes(job: SceneBatch | None = None, job_ref: JobRef | None = None) -> BatchResult:
    """Download a batch of scenes one after another, each as its own task run (``download AOI/SCENE``)."""
    install_redaction()
    route_domain_logs()
    batch = _the_job(job, job_ref, SceneBatch)
    return run_scene_batch(batch, download_item)


@flow(name="process-tiles", flow_run_name=_batch_run_name, persist_result=True, log_prints=False)
def process_tiles(job: TileBatch | None = None, job_ref: JobRef | None = None) -> BatchResult:
    """Process a batch of tiles in date order, each as its own task run (``process AOI/TILE@DATE``),
    re-linked around the failures before it."""
    install_redaction()
    route_domain_logs()
    batch = _the_job(job, job_ref, TileBatch)
    return run_tile_batch(batch, process_item)
