"""The two job tasks: download a scene, process a tile. Retried on temporary errors only."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from uuid import UUID

from prefect import task
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from common.settings import load_settings
from jobs.download import run_scene_job
from jobs.models import JobResult, SceneJob, TileJob
from jobs.process import run_tile_job
from jobs.resources import open_geocube
from providers.fetch import progress_reporter
from tasks.retry import RETRY_DELAYS_S, job_retry_policy, retry_if_temporary


@task(
    name="download-and-store",
    task_run_name="download {job.aoi}/{job.scene.source_id}",
    retries=3,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_if_temporary,
)
def download_scene_task(job: SceneJob) -> JobResult:
    with _progress_artifact(job):
        return run_scene_job(job, load_settings())


@contextlib.contextmanager
def _progress_artifact(job: SceneJob) -> Iterator[None]:
    """A Prefect progress artifact of the scene's download, fed by the download core."""
    artifact: list[UUID] = []

    def report(written: int, total: int | None) -> None:
        if not total:
            return
        percent = min(100.0, 100.0 * written / total)
        if not artifact:
            created = create_progress_artifact(percent, description=f"download {job.label}")
            assert isinstance(created, UUID)  # a sync call in a sync task: the id, not a coroutine
            artifact.append(created)
        else:
            update_progress_artifact(artifact[0], percent)

    token = progress_reporter.set(report)
    try:
        yield
    finally:
        progress_reporter.reset(token)


def download_scene_with_retries(job: SceneJob) -> JobResult:
    """The download task with the job's retry policy (payload ``is_retriable``/``retry_count``)."""
    retries, condition = job_retry_policy(is_retriable=job.is_retriable, retry_count=job.retry_count)
    return download_scene_task.with_options(retries=retries, retry_condition_fn=condition)(job)


@task(
    name="process-and-index",
    task_run_name="process {job.aoi}/{job.tile.source_id}@{job.tile.date:%Y-%m-%d}",
    retries=3,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_if_temporary,
)
def process_tile_task(job: TileJob) -> JobResult:
    settings = load_settings()
    with open_geocube(settings) as geocube:
        return run_tile_job(job, settings, geocube)


def process_tile_with_retries(job: TileJob) -> JobResult:
    """The processing task with the job's retry policy (payload ``is_retriable``/``retry_count``)."""
    retries, condition = job_retry_policy(is_retriable=job.is_retriable, retry_count=job.retry_count)
    return process_tile_task.with_options(retries=retries, retry_condition_fn=condition)(job)
