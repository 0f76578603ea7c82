"""The two job tasks: download a scene, process a tile. Retried on temporary errors only."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from uuid import UUID

from prefect import task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectNotFound

from common.settings import load_settings
from jobs.download import run_scene_job
from jobs.models import JobResult, SceneJob, TileJob
from jobs.process import run_tile_job
from jobs.quota import record_download
from jobs.resources import open_geocube
from providers.fetch import progress_reporter
from providers.tokens import slot_acquirer
from tasks.retry import RETRY_DELAYS_S, job_retry_policy, retry_if_temporary

log = logging.getLogger(__name__)


@task(
    name="download-and-store",
    task_run_name="download {job.aoi}/{job.scene.source_id}",
    retries=3,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_if_temporary,
)
def download_scene_task(job: SceneJob) -> JobResult:
    token = slot_acquirer.set(global_slot)
    try:
        settings = load_settings()
        with _progress_artifact(job):
            result = run_scene_job(job, settings)
        for provider, nbytes in (result.bytes_by_provider or {result.provider: result.bytes_fetched}).items():
            record_download(job.storage_uri, provider, nbytes, scene=job.scene.source_id, settings=settings)
        return result
    finally:
        slot_acquirer.reset(token)


_MISSING_LIMITS: set[str] = set()


def global_slot(name: str) -> contextlib.AbstractContextManager[object]:
    """One slot of the Prefect global concurrency limit ``name``, shared by every worker; nothing when
    the limit does not exist (said once: Prefect would only warn and run unlimited)."""
    if name in _MISSING_LIMITS:
        return contextlib.nullcontext()
    try:
        with get_client(sync_client=True) as client:
            client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        _MISSING_LIMITS.add(name)
        log.info(
            "no global concurrency limit %s: this account's downloads are limited per worker only; "
            "create it with: prefect gcl create %s --limit 4 (deployments/up.sh does)", name, name,
        )  # fmt: skip
        return contextlib.nullcontext()
    return concurrency(name, occupy=1, strict=True)


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
