"""Running a child job, in-process (``local``) or on its work pool (``deployments``): one code path.

Both modes go through the same ``dispatch`` task, so the parent's task graph, with its ``allow_failure``
edges, is the same, and the Prefect UI draws the same dependency arrows.

Failures don't cascade. A tile's dispatch receives the outcomes of its previous and reference tiles
(through ``allow_failure``: a :class:`TileResult` when DONE, a :class:`TileNotProcessedError` when not),
each carrying the links that tile was processed with. When the tile starts, it decides its *effective*
links from them (``catalogue.relink``: past a failed previous to the last DONE tile, a failed root's role
to the next DONE tile of the series), and the processing child receives those as T1/T2. Its own result
or error carries them on to its dependants. A tile whose graph does not read T1/T2 gets no upstream
(``jobs.planning.graph_reads_links``): it runs at once with its planned links, which its graph ignores.
"""

from __future__ import annotations

import hashlib
import json
import logging
from enum import StrEnum
from typing import Any

from prefect import task
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.runtime import flow_run
from prefect.states import Cancelling
from pydantic import BaseModel, Field

from catalogue.relink import Links, Outcome
from common.errors import PermanentError
from flows.api_retries import with_api_retries
from flows.children import download_here, download_item, process_here, process_item
from flows.results import read_result
from jobs.batches import (
    BatchResult,
    SceneBatch,
    TileBatch,
    failed_scenes,
    relinked,
    run_scene_batch,
    run_tile_batch,
    short,
    upstream_outcomes,
    with_note,
)
from jobs.models import JobResult, JobStatus, SceneJob, TileJob
from jobs.stash import job_parameters


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
BATCH_DEPLOYMENTS = {  # one child run for several scenes or tiles (jobs.batches)
    Kind.DOWNLOAD: "download-scenes/download-scenes",
    Kind.PROCESS: "process-tiles/process-tiles",
}


class ChildFailedError(PermanentError):
    """A child flow run ended in a state other than Completed."""


class UpstreamFailedError(PermanentError):
    """A tile cannot be processed because its scene was not downloaded."""


class TileNotProcessedError(PermanentError):
    """A tile's processing failed or could not start; it carries the links it was tried with, from
    which its dependants re-link (``catalogue.relink``).

    The links travel as the exception's second argument (a JSON-able dict), so the exception pickles
    into a result storage and back as it is; the message is the cause's.
    """

    def __init__(self, message: str, links: dict[str, Any]) -> None:
        super().__init__(message, links)

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def links(self) -> Links:
        return Links.model_validate(self.args[1])


class TileResult(JobResult):
    """A processed tile's result, with the links it was processed with (its dependants re-link from
    them)."""

    links: Links = Field(default_factory=Links, description="The effective previous/reference (T1/T2)")


def _outcome(upstream: Any) -> Outcome | None:
    """An upstream tile's outcome as its dispatch left it; None when it is not in this run."""
    if upstream is None:
        return None
    if isinstance(upstream, TileResult):
        return Outcome(done=upstream.status == JobStatus.DONE, links=upstream.links)
    if isinstance(upstream, TileNotProcessedError):
        return Outcome(done=False, links=upstream.links)
    if isinstance(upstream, JobResult):
        return Outcome(done=upstream.status == JobStatus.DONE)
    return Outcome(done=False)  # crashed or cancelled without its links: nothing DONE is known before it


@task(task_run_name="{kind} {label}")
def dispatch(
    kind: Kind,
    label: str,
    job: SceneJob | TileJob,
    mode: Mode,
    *,
    child_timeout_s: float,
    download: Any = None,
    previous: Any = None,
    reference: Any = None,
) -> JobResult:
    """Run one child job and return its JobResult (a TileResult for a tile); raise if the child did
    not complete (a TileNotProcessedError for a tile).

    The job crosses a process boundary only in ``deployments`` mode, as the child's JSON parameters.

    ``download`` is the scene download's result, passed through ``allow_failure``: when the download
    failed it is the exception, and the tile fails with a message saying so (rather than staying
    NotReady for ever). ``previous`` and ``reference`` are the dispatch results of the tile's previous
    and reference tiles (through ``allow_failure``), None when they are not in this run or the graph
    does not read them: the tile is processed with the effective links decided from them (module
    docstring).
    """
    if not isinstance(job, TileJob):
        return _run_child(kind, label, job, mode, child_timeout_s=child_timeout_s)
    job, links, note = relinked(job, _outcome(previous), _outcome(reference))
    try:
        if isinstance(download, BaseException):
            raise UpstreamFailedError(
                f"{label}: not processed because its scene was not downloaded ({short(str(download))})"
            )
        result = _run_child(kind, label, job, mode, child_timeout_s=child_timeout_s)
    except Exception as exc:
        # Short: the error travels into every dependant's parameters and state (a scene of 1 000 tiles).
        raise TileNotProcessedError(short(str(exc)), links.model_dump(mode="json")) from exc
    result = with_note(result, note)
    return TileResult.model_validate(result.model_dump() | {"links": links})


def _run_child(
    kind: Kind, label: str, job: SceneJob | TileJob, mode: Mode, *, child_timeout_s: float
) -> JobResult:
    """The child's JobResult, run in this process or on its pool; raise if it did not complete."""
    log.info(
        "%s: started (%s)", label, "in this process" if mode == Mode.LOCAL else f"on {DEPLOYMENTS[kind]}"
    )
    if mode == Mode.LOCAL:
        return download_here(job) if isinstance(job, SceneJob) else process_here(job)
    item = f"{job.scene.source_id}/{job.tile.source_id if isinstance(job, TileJob) else ''}"
    loaded = _run_deployed(DEPLOYMENTS[kind], kind, label, job, item, child_timeout_s=child_timeout_s)
    if isinstance(loaded, JobResult):
        return loaded
    if isinstance(loaded, dict):
        return JobResult.model_validate(loaded)
    # A result on the child's machine only (no shared result storage block) cannot be read here.
    log.warning(
        "%s: result not readable here (%s): its provider, bytes and outputs are missing from the outcome; "
        "give every pool a shared result storage (PREFECT_DEFAULT_RESULT_STORAGE_BLOCK, deployments/up.sh)",
        label,
        loaded,
    )
    return JobResult(status=JobStatus.DONE, message="")


class _Unreadable(str):
    """Why a completed child's result could not be read here."""


def _run_deployed(
    deployment: str,
    kind: Kind,
    label: str,
    job: BaseModel,
    item: str,
    *,
    child_timeout_s: float,
) -> Any:
    """Run ``job`` as a run of ``deployment`` and return what it stored (an :class:`_Unreadable` when
    its result cannot be read here); raise ChildFailedError if it did not complete."""
    aoi, storage_uri = getattr(job, "aoi"), getattr(job, "storage_uri")  # noqa: B009 - jobs and batches
    # A job too large for Prefect's 512 KiB parameter limit travels by reference (jobs.stash).
    parameters = job_parameters(job, aoi=aoi, item=item, storage_uri=storage_uri)
    # One child per parent attempt: a retried parent (same flow run id, next run count) runs the failed
    # children again instead of getting their old FAILED runs back (prefect-notes.md, idempotency keys).
    # A retried dispatch (the API was unavailable) gets the same child back.
    key = f"{flow_run.id}:{flow_run.run_count}:{kind.value}:{item}"
    child: FlowRun = with_api_retries(  # type: ignore[assignment]  # sync call: the FlowRun itself
        label,
        lambda: run_deployment(
            name=deployment,
            parameters=parameters,
            as_subflow=True,
            timeout=child_timeout_s,
            poll_interval=2,
            tags=["geocube-ingester", f"aoi:{aoi}", kind.value],
            idempotency_key=key,
        ),
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
        raise ChildFailedError(short(f"{label}: child flow run {child.name} ended {what} {message}".strip()))
    try:
        return read_result(state)  # from the shared result storage, wherever the child ran
    except Exception as exc:  # noqa: BLE001 - the run is done: the caller decides what it can tell
        return _Unreadable(f"{child.name}: {str(exc)[:200]}")


@task(task_run_name="{kind} {label}")
def dispatch_batch(
    kind: Kind,
    label: str,
    batch: SceneBatch | TileBatch,
    mode: Mode,
    *,
    child_timeout_s: float,
    downloads: list[Any] | None = None,
    download_labels: dict[str, str] | None = None,
    upstream: list[Any] | None = None,
    upstream_tiles: list[str] | None = None,
) -> BatchResult:
    """Run a batch of scenes or tiles as one child (``jobs.batches``) and return every item's outcome.

    A tile batch gets, through ``allow_failure``, the results of the download batches of its scenes
    (``downloads``; ``download_labels``: scene id -> the label of its download batch) and of the tile
    batches holding its tiles' previous and reference (``upstream``; ``upstream_tiles``: the keys of
    those tiles). A failure inside the batch is that item's outcome; a batch that could not run at all
    raises, and its items count as failed where they are needed.
    """
    if isinstance(batch, TileBatch):
        batch = batch.model_copy(
            update={
                "upstream": upstream_outcomes(upstream or [], upstream_tiles or []),
                "failed_scenes": failed_scenes(downloads or [], download_labels or {}),
            }
        )
    log.info(
        "%s: started (%s)",
        label,
        "in this process" if mode == Mode.LOCAL else f"on {BATCH_DEPLOYMENTS[kind]}",
    )
    if mode == Mode.LOCAL:
        if isinstance(batch, SceneBatch):
            return run_scene_batch(batch, download_item)
        return run_tile_batch(batch, process_item)
    # Two batches may share a label (bursts of one date cut in several batches): the child's idempotency
    # key names its items, not its label.
    keys = [j.scene.source_id if isinstance(j, SceneJob) else j.tile.key for j in batch.jobs]
    item = f"{label}#{hashlib.sha256(json.dumps(keys).encode()).hexdigest()[:16]}"
    loaded = _run_deployed(BATCH_DEPLOYMENTS[kind], kind, label, batch, item, child_timeout_s=child_timeout_s)
    if isinstance(loaded, _Unreadable):
        raise ChildFailedError(
            f"{label}: its result is not readable here ({loaded}): give every pool a shared result "
            "storage (PREFECT_DEFAULT_RESULT_STORAGE_BLOCK, deployments/up.sh)"
        )
    return BatchResult.model_validate(loaded.model_dump() if isinstance(loaded, BaseModel) else loaded)
