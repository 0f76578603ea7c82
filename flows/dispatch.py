"""Running a child job, in-process (``local``) or on its work pool (``deployments``): one code path.

Both modes go through the same ``dispatch`` task, so the parent's task graph, with its ``wait_for``
and ``allow_failure`` edges, is the same, and the Prefect UI draws the same dependency arrows.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from prefect import task
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.runtime import flow_run
from prefect.states import Cancelling

from common.errors import PermanentError
from flows.children import download_scene, process_tile
from flows.results import read_result
from jobs.models import JobResult, JobStatus, SceneJob, TileJob


class Mode(StrEnum):
    LOCAL = "local"
    DEPLOYMENTS = "deployments"


class Kind(StrEnum):
    DOWNLOAD = "download"
    PROCESS = "process"


log = logging.getLogger(__name__)

DEPLOYMENTS = {
    Kind.DOWNLOAD: "download-scene/download-scene",
    Kind.PROCESS: "process-tile/process-tile",
}


class ChildFailedError(PermanentError):
    """A child flow run ended in a state other than Completed."""


class UpstreamFailedError(PermanentError):
    """A tile cannot be processed because its scene was not downloaded."""


@task(task_run_name="{kind} {label}")
def dispatch(
    kind: Kind,
    label: str,
    job: SceneJob | TileJob,
    mode: Mode,
    *,
    child_timeout_s: float,
    download: Any = None,
) -> JobResult:
    """Run one child job and return its JobResult; raise if the child did not complete.

    The job crosses a process boundary only in ``deployments`` mode, as the child's JSON parameters.

    ``download`` is the scene download's result, passed through ``allow_failure``: when the download
    failed it is the exception, and the tile fails with a message saying so (rather than staying
    NotReady for ever).
    """
    if isinstance(download, BaseException):
        raise UpstreamFailedError(f"{label}: not processed because its scene was not downloaded ({download})")
    if mode == Mode.LOCAL:
        if isinstance(job, SceneJob):
            return download_scene(job=job)
        return process_tile(job=job)
    # One child per parent attempt: a retried parent (same flow run id, next run count) runs the failed
    # children again instead of getting their old FAILED runs back (prefect-notes.md, idempotency keys).
    item = f"{job.scene.source_id}/{job.tile.source_id if isinstance(job, TileJob) else ''}"
    child: FlowRun = run_deployment(  # type: ignore[assignment]  # sync call: the FlowRun itself
        name=DEPLOYMENTS[kind],
        parameters={"job": job.model_dump(mode="json")},
        as_subflow=True,
        timeout=child_timeout_s,
        poll_interval=2,
        tags=["geocube-ingester", f"aoi:{job.aoi}", kind.value],
        idempotency_key=f"{flow_run.id}:{flow_run.run_count}:{kind.value}:{item}",
    )
    state = child.state
    if state is not None and not state.is_final():
        # run_deployment returns when the timeout runs out, the child still going: stop it, so that the
        # tiles released by this failure never run beside it.
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(child.id, Cancelling(message="the parent stopped waiting"), force=True)
        raise ChildFailedError(
            f"{label}: child flow run {child.name} still {state.type.value} after {child_timeout_s:g} s "
            "(child_timeout_s): cancelled"
        )
    if state is None or not state.is_completed():
        what = state.type.value if state is not None else "no state"
        message = state.message if state is not None and state.message else ""
        raise ChildFailedError(f"{label}: child flow run {child.name} ended {what} {message}".strip())
    try:
        loaded = read_result(state)  # from the shared result storage, wherever the child ran
        if isinstance(loaded, JobResult):
            return loaded
        if isinstance(loaded, dict):
            return JobResult.model_validate(loaded)
    except Exception as exc:  # noqa: BLE001 - the run is done: its state is enough for the outcome
        # A result on the child's machine only (no shared result storage block) cannot be read here.
        log.warning(
            "%s: result of %s not readable here (%s): its provider, bytes and outputs are missing from the "
            "outcome; give every pool a shared result storage (PREFECT_DEFAULT_RESULT_STORAGE_BLOCK, "
            "deployments/up.sh)",
            label,
            child.name,
            str(exc)[:200],
        )
    return JobResult(status=JobStatus.DONE, message=state.message or "")
