"""The parent flow: validate, catalogue, then one download per scene and one processing per tile.

A tile's processing waits for its scene's download. When its tile graph reads T1/T2
(``jobs.planning.graph_reads_links``), it also waits for its previous and reference tiles to be
*finished*, completed or failed (their results are its inputs, through ``allow_failure``); otherwise the
tiles of a series run in parallel, with no edge between them.

Failures don't cascade: a tile whose previous or reference failed is processed against the failed
tile's own previous, and a failed root hands the reference role to the next DONE tile of the series
(``catalogue.relink``; decided by the dispatch when the tile starts, ``flows.dispatch``). After the
children, the records' link tags and the AOI ledger follow those effective links, so a later run never
links a new acquisition to a failed tile.

The run ends Failed when any scene or tile failed, with the counts in its message and the summary in an
IngestionFailedError (``flows.outcome.summary_of`` reads it back from either state).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import State, allow_failure, flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.states import Completed
from prefect.task_runners import ThreadPoolTaskRunner

from catalogue.graphviz import make_dot
from catalogue.plan import IngestionPlan
from common.redaction import install_redaction
from flows.aoi_lock import aoi_slot
from flows.dispatch import Kind, Mode, dispatch
from flows.logs import route_domain_logs
from flows.outcome import final_state
from flows.pools import processing_engines
from flows.progress import Progress
from jobs.ingestion import Prepared, plan_document
from jobs.models import JobResult, JobStatus, SceneJob, TileJob
from jobs.status import cause_first
from jobs.summary import IngestionSummary, OutcomeRow
from jobs.window import rolling_window
from tasks.catalogue import (
    delete_unused_records_task,
    jobs_task,
    plan_task,
    prepare_task,
    quota_task,
    records_task,
    update_ledger_task,
)
from tasks.links import reads_links_task, relink_records_task

MAX_PARALLEL_CHILDREN = 16


def _run_name() -> str:
    payload = flow_run.parameters.get("payload") or {}
    name = payload.get("name") if isinstance(payload, dict) else None
    return f"ingest {name or '?'}"


def _artifact_key(aoi: str, what: str) -> str:
    return f"{what}-{''.join(c if c.isalnum() else '-' for c in aoi.lower())}"[:100]


def _row(kind: str, item_id: str, date: datetime, future: PrefectFuture[Any]) -> OutcomeRow:
    """The outcome of one child: its result when it completed, its state's message otherwise."""
    state = future.state
    row = OutcomeRow(
        kind=kind,
        id=item_id,
        date=f"{date:%Y-%m-%d}",
        status=JobStatus.SKIPPED,
        message=f"not run ({state.name})",
    )
    if state.is_completed():
        result: JobResult = future.result()
        outputs = result.stored if kind == "scene" else result.indexed
        update = {"status": result.status, "message": result.message, "outputs": outputs,
                  "provider": result.provider, "bytes_fetched": result.bytes_fetched,
                  "bytes_by_provider": result.bytes_by_provider}  # fmt: skip
        return row.model_copy(update=update)
    if state.is_failed() or state.is_crashed():
        cause = cause_first(state.message or state.type.value)  # the cause, not Prefect's wrapping
        return row.model_copy(update={"status": JobStatus.FAILED, "message": cause})
    return row


def _follow(
    progress: Progress,
    scene_jobs: list[SceneJob],
    tile_jobs: list[TileJob],
    downloads: dict[str, PrefectFuture[Any]],
    processing: dict[str, PrefectFuture[Any]],
) -> None:
    """Wait for every child, counting each as it ends (log line, artifacts, the CLI's bar)."""
    what: dict[Any, tuple[str, str, str, datetime]] = {}
    for sj in scene_jobs:
        what[downloads[sj.scene.source_id]] = ("scene", sj.label, sj.scene.source_id, sj.scene.date)
    for tj in tile_jobs:
        what[processing[tj.tile.key]] = ("tile", tj.label, tj.tile.source_id, tj.tile.date)
    for future in as_completed(list(what)):
        future.wait()  # done: this keeps its final state (else .state asks the API, which may lag)
        kind, label, item, date = what[future]
        row = _row(kind, item, date, future)
        progress.finished(kind, label, row.status.value, row.message)


def _submit_children(
    scene_jobs: list[SceneJob],
    tile_jobs: list[TileJob],
    mode: Mode,
    child_timeout_s: float,
    *,
    reads_links: bool,
) -> tuple[dict[str, PrefectFuture[Any]], dict[str, PrefectFuture[Any]]]:
    """One dispatch per scene download and per tile; a tile waits for its scene's download and, when
    its graph ``reads_links``, for its previous and reference tiles, completed or failed."""
    downloads = {
        sj.scene.source_id: dispatch.submit(
            Kind.DOWNLOAD, sj.label, sj, mode, child_timeout_s=child_timeout_s
        )
        for sj in scene_jobs
    }
    processing: dict[str, PrefectFuture[Any]] = {}
    for tj in tile_jobs:  # date order: a tile's previous and reference are submitted before it
        upstream = {
            name: allow_failure(processing[link.key])
            for name, link in (("previous", tj.tile.previous), ("reference", tj.tile.reference))
            if reads_links and link is not None and link.key in processing
        }
        processing[tj.tile.key] = dispatch.submit(
            Kind.PROCESS,
            tj.label,
            tj,
            mode,
            child_timeout_s=child_timeout_s,
            download=allow_failure(downloads[tj.scene.source_id]),
            return_state=False,
            **upstream,
        )
    return downloads, processing


def _processing_engines(log: Any) -> frozenset[str] | None:
    """The engines the processing pool declares (``flows.pools``); None (this machine's) when unreadable."""
    try:
        return processing_engines()
    except Exception as exc:  # noqa: BLE001 (the API's own errors: validation falls back, and says so)
        log.warning("the processing pool's engines could not be read (%s): checking this machine's", exc)
        return None


def _graph_state(status: str) -> str:
    return "NEW" if status == "SKIPPED" else status


def _plan_artifact(plan: IngestionPlan) -> None:
    create_markdown_artifact(
        key=_artifact_key(plan.aoi, "plan"),
        markdown=f"```\n{plan.describe()}\n```",
        description="Scenes and tiles planned, with the previous/reference graph",
    )


@flow(
    name="ingest",
    flow_run_name=_run_name,
    # The summary (or the IngestionFailedError carrying it) in the result storage: readable from the API.
    persist_result=True,
    # Prefect types task_runner invariantly: a ThreadPoolTaskRunner is refused as TaskRunner[PrefectFuture].
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_PARALLEL_CHILDREN),  # type: ignore[arg-type]
)
def ingest(
    payload: dict[str, Any],
    mode: Mode = Mode.LOCAL,
    dry_run: bool = False,
    child_timeout_s: float = 6 * 3600,
    scenes: dict[str, Any] | None = None,
    tiles: dict[str, Any] | None = None,
    window_days: float | None = None,
) -> State:
    """Ingest an AOI: the payload is the original ingester's JSON ("AreaToIngest").

    Args:
        payload: the AOI payload (GeoJSON Feature with name, start_time, end_time, scene_type, ...).
        mode: ``local`` runs the children in this process; ``deployments`` runs them on the
            ``download-pool`` and ``processing-pool`` work pools.
        dry_run: stop after the plan (catalogue and graph) without creating records or downloading.
        child_timeout_s: how long to wait for one child flow run in ``deployments`` mode.
        scenes: scenes to ingest instead of searching (the original's scenes GeoJSON document).
        tiles: tiles to ingest, with their previous/reference links, used as they are (the
            original's tiles GeoJSON document); their scenes come from the same document.
        window_days: ingest the last ``window_days`` days, ending now (a schedule's rolling window:
            the payload's own start_time/end_time are replaced; each run adds only new acquisitions).
    """
    install_redaction()
    route_domain_logs()
    log = get_run_logger()
    mode = Mode(mode)
    if window_days is not None:
        payload = rolling_window(payload, window_days)
        log.info("window: %s .. %s", payload["start_time"], payload["end_time"])
    # Graphs are checked against the engines of the machines that will run them.
    engines = _processing_engines(log) if mode is Mode.DEPLOYMENTS else None
    prepared = prepare_task(payload, document=tiles or scenes, dry_run=dry_run, engines=engines)
    if dry_run:
        return _ingest(prepared, mode, child_timeout_s, dry_run=True)
    with aoi_slot(prepared.payload.name, log):  # one run of an AOI at a time: planning to ledger update
        return _ingest(prepared, mode, child_timeout_s, dry_run=False)


def _ingest(prepared: Prepared, mode: Mode, child_timeout_s: float, *, dry_run: bool) -> State:
    log = get_run_logger()
    plan = plan_task(prepared)
    _plan_artifact(plan)
    for line in quota_task(prepared.storage_uri, plan):  # before any download: the accounts' usage
        (log.warning if line.startswith("over quota") else log.info)("%s", line)
    summary = IngestionSummary(aoi=plan.aoi, mode=mode.value, truncated=plan.truncated)
    if dry_run or not plan.scenes:
        log.info("%s", plan.describe())
        document = plan_document(prepared, plan)
        return Completed(message=plan.summary(), data=summary.model_dump(mode="json") | {"plan": document})

    records = records_task(prepared.payload, plan)
    scene_jobs, tile_jobs = jobs_task(prepared, plan, records)
    reads_links = reads_links_task(prepared.payload)
    progress = Progress(plan.aoi, len(scene_jobs), len(tile_jobs), log)
    progress.start()
    downloads, processing = _submit_children(
        scene_jobs, tile_jobs, mode, child_timeout_s, reads_links=reads_links
    )
    _follow(progress, scene_jobs, tile_jobs, downloads, processing)
    for sj in scene_jobs:
        summary.rows.append(_row("scene", sj.scene.source_id, sj.scene.date, downloads[sj.scene.source_id]))
    status: dict[str, str] = {}  # by tile key, never by position
    for tj in tile_jobs:
        row = _row("tile", tj.tile.source_id, tj.tile.date, processing[tj.tile.key])
        summary.rows.append(row)
        status[tj.tile.key] = row.status.value
    delete_unused_records_task(records, summary)
    relink_records_task(plan, status, records)  # link tags as processed, around failed tiles
    update_ledger_task(prepared.payload, plan, status, prepared.storage_uri)
    dot = make_dot(plan.aoi, plan.tiles, {k: _graph_state(v) for k, v in status.items()})
    create_markdown_artifact(
        key=_artifact_key(plan.aoi, "graph"),
        markdown=f"```dot\n{dot}```",
        description="The tiles by series, coloured by state (`geocube-ingester graph AOI` draws it)",
    )
    create_table_artifact(
        key=_artifact_key(plan.aoi, "outcome"),
        table=[
            r.model_dump(mode="json", exclude={"outputs"}) | {"outputs": len(r.outputs)} for r in summary.rows
        ],
        description=summary.headline(),
    )
    log.info("%s\n%s", summary.headline(), summary.table())
    return final_state(summary)  # Failed carries an exception with the summary: flows/outcome.py
