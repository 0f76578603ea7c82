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

With ``scenes_per_child``/``tiles_per_child`` above 1, the children are batches (``jobs.batches``): one
child run per batch, cut in date order, with the same edges between batches; each scene and tile is
still its own run inside its batch's.

The run ends Failed when any scene or tile failed, with the counts in its message and the summary in an
IngestionFailedError (``flows.outcome.summary_of`` reads it back from either state).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
from flows.dispatch import Kind, Mode, dispatch, dispatch_batch
from flows.logs import route_domain_logs
from flows.outcome import final_state
from flows.pools import processing_engines
from flows.progress import Progress
from jobs.batches import BatchResult, SceneBatch, TileBatch, cut
from jobs.ingestion import Prepared, plan_document
from jobs.models import JobResult, JobStatus, SceneJob, TileJob
from jobs.stash import JobRef, load_document
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
    if state.is_completed():
        return _result_row(kind, item_id, date, future.result())
    return _state_row(kind, item_id, date, state)


def _result_row(kind: str, item_id: str, date: datetime, result: JobResult) -> OutcomeRow:
    outputs = result.stored if kind == "scene" else result.indexed
    return OutcomeRow(
        kind=kind, id=item_id, date=f"{date:%Y-%m-%d}", status=result.status, message=result.message,
        outputs=outputs, provider=result.provider, bytes_fetched=result.bytes_fetched,
        bytes_by_provider=result.bytes_by_provider,
    )  # fmt: skip


def _state_row(kind: str, item_id: str, date: datetime, state: State) -> OutcomeRow:
    """The outcome of a child that did not complete: the cause of its failure, else "not run"."""
    row = OutcomeRow(
        kind=kind,
        id=item_id,
        date=f"{date:%Y-%m-%d}",
        status=JobStatus.SKIPPED,
        message=f"not run ({state.name})",
    )
    if state.is_failed() or state.is_crashed():
        cause = cause_first(state.message or state.type.value)  # the cause, not Prefect's wrapping
        return row.model_copy(update={"status": JobStatus.FAILED, "message": cause})
    return row


def _batch_rows(
    kind: str, items: list[tuple[str, str, datetime]], future: PrefectFuture[Any]
) -> list[OutcomeRow]:
    """The outcome of each item (key, id, date) of a batch child, from its BatchResult."""
    state = future.state
    if not state.is_completed():
        return [_state_row(kind, item_id, date, state) for _, item_id, date in items]
    result: BatchResult = future.result()
    rows = []
    for key, item_id, date in items:
        outcome = result.items.get(key)
        if outcome is not None and outcome.result is not None:
            rows.append(_result_row(kind, item_id, date, outcome.result))
        else:
            message = outcome.error if outcome is not None else "not in its batch's result"
            rows.append(
                OutcomeRow(kind=kind, id=item_id, date=f"{date:%Y-%m-%d}", status=JobStatus.FAILED,
                           message=cause_first(message))
            )  # fmt: skip
    return rows


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


@dataclass
class _Batches:
    """The batch children of a run and the items of each (``scenes_per_child``/``tiles_per_child``)."""

    scenes: list[tuple[SceneBatch, PrefectFuture[Any]]] = field(default_factory=list)
    tiles: list[tuple[TileBatch, PrefectFuture[Any]]] = field(default_factory=list)

    def rows(self) -> tuple[list[OutcomeRow], list[tuple[str, OutcomeRow]]]:
        """The scenes' rows, and each tile's (key, row), in the batches' order."""
        scenes = [
            row
            for batch, future in self.scenes
            for row in _batch_rows(
                "scene", [(j.scene.source_id, j.scene.source_id, j.scene.date) for j in batch.jobs], future
            )
        ]
        tiles = []
        for batch, future in self.tiles:
            items = [(j.tile.key, j.tile.source_id, j.tile.date) for j in batch.jobs]
            tiles += [
                (key, row) for (key, _, _), row in zip(items, _batch_rows("tile", items, future), strict=True)
            ]
        return scenes, tiles


def _submit_batches(
    prepared: Prepared,
    scene_jobs: list[SceneJob],
    tile_jobs: list[TileJob],
    mode: Mode,
    child_timeout_s: float,
    *,
    reads_links: bool,
    scenes_per_child: int,
    tiles_per_child: int,
) -> _Batches:
    """One child per batch of scenes and per batch of tiles, cut in date order (``jobs.batches``): a
    tile batch waits for the download batches of its scenes and, when its graph ``reads_links``, for
    the tile batches holding its tiles' previous and reference, completed or failed."""
    out = _Batches()
    storage_uri, aoi = prepared.storage_uri, prepared.payload.name
    scene_batch_of: dict[str, int] = {}
    for index, jobs in enumerate(cut(scene_jobs, scenes_per_child)):
        batch = SceneBatch(aoi=aoi, storage_uri=storage_uri, jobs=jobs)
        future = dispatch_batch.submit(
            Kind.DOWNLOAD, batch.label, batch, mode, child_timeout_s=child_timeout_s
        )
        out.scenes.append((batch, future))
        scene_batch_of.update({j.scene.source_id: index for j in jobs})
    tile_batch_of: dict[str, int] = {}
    for index, tiles_cut in enumerate(cut(tile_jobs, tiles_per_child)):
        tile_batch = TileBatch(aoi=aoi, storage_uri=storage_uri, jobs=tiles_cut, reads_links=reads_links)
        scenes = {j.scene.source_id: scene_batch_of[j.scene.source_id] for j in tiles_cut}
        upstream_keys = sorted(
            {
                link.key
                for j in tiles_cut
                for link in (j.tile.previous, j.tile.reference)
                if reads_links and link is not None and tile_batch_of.get(link.key, index) != index
            }
        )
        upstream = sorted({tile_batch_of[key] for key in upstream_keys})
        future = dispatch_batch.submit(
            Kind.PROCESS,
            tile_batch.label,
            tile_batch,
            mode,
            child_timeout_s=child_timeout_s,
            downloads=[allow_failure(out.scenes[i][1]) for i in sorted(set(scenes.values()))],
            download_labels={scene: out.scenes[i][0].label for scene, i in scenes.items()},
            upstream=[allow_failure(out.tiles[i][1]) for i in upstream],
            upstream_tiles=upstream_keys,
        )
        out.tiles.append((tile_batch, future))
        tile_batch_of.update({j.tile.key: index for j in tiles_cut})
    return out


def _follow_batches(progress: Progress, batches: _Batches) -> None:
    """Wait for every batch child, counting its items as it ends (log lines, artifacts, the CLI's bar)."""
    what: dict[Any, tuple[str, SceneBatch | TileBatch]] = {}
    what.update({future: ("scene", batch) for batch, future in batches.scenes})
    what.update({future: ("tile", batch) for batch, future in batches.tiles})
    for future in as_completed(list(what)):
        future.wait()
        kind, batch = what[future]
        if isinstance(batch, SceneBatch):
            items = [(j.scene.source_id, j.scene.source_id, j.scene.date, j.label) for j in batch.jobs]
        else:
            items = [(j.tile.key, j.tile.source_id, j.tile.date, j.label) for j in batch.jobs]
        rows = _batch_rows(kind, [(k, i, d) for k, i, d, _ in items], future)
        for (_, _, _, label), row in zip(items, rows, strict=True):
            progress.finished(kind, label, row.status.value, row.message)


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
    scenes_per_child: int = 1,
    tiles_per_child: int = 1,
    document_ref: JobRef | None = None,
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
        scenes_per_child: scenes downloaded one after another by one child run (1: a child per scene).
        tiles_per_child: tiles processed one after another by one child run (1: a child per tile). A
            batch pays the per-child start (a worker's poll, spawn and imports: 7-10 s) once; each of
            its scenes and tiles is its own task run in the batch's run.
        document_ref: a scenes or tiles document too large for Prefect's parameters (about 950
            scenes), written to the storage by the caller (``jobs.stash``; the CLI does it).
    """
    install_redaction()
    route_domain_logs()
    log = get_run_logger()
    mode = Mode(mode)
    for name, value in (("scenes_per_child", scenes_per_child), ("tiles_per_child", tiles_per_child)):
        if value < 1:
            raise ValueError(f"{name} {value}: must be at least 1 (1 runs one child per item)")
    if window_days is not None:
        payload = rolling_window(payload, window_days)
        log.info("window: %s .. %s", payload["start_time"], payload["end_time"])
    # Graphs are checked against the engines of the machines that will run them.
    engines = _processing_engines(log) if mode is Mode.DEPLOYMENTS else None
    document = tiles or scenes or (load_document(document_ref) if document_ref is not None else None)
    prepared = prepare_task(payload, document=document, dry_run=dry_run, engines=engines)
    if dry_run:
        return _ingest(prepared, mode, child_timeout_s, dry_run=True)
    with aoi_slot(prepared.payload.name, log):  # one run of an AOI at a time: planning to ledger update
        return _ingest(
            prepared, mode, child_timeout_s, dry_run=False, scenes_per_child=scenes_per_child,
            tiles_per_child=tiles_per_child,
        )  # fmt: skip


def _ingest(
    prepared: Prepared,
    mode: Mode,
    child_timeout_s: float,
    *,
    dry_run: bool,
    scenes_per_child: int = 1,
    tiles_per_child: int = 1,
) -> State:
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
    status: dict[str, str] = {}  # by tile key, never by position
    if scenes_per_child == 1 and tiles_per_child == 1:
        downloads, processing = _submit_children(
            scene_jobs, tile_jobs, mode, child_timeout_s, reads_links=reads_links
        )
        _follow(progress, scene_jobs, tile_jobs, downloads, processing)
        for sj in scene_jobs:
            summary.rows.append(
                _row("scene", sj.scene.source_id, sj.scene.date, downloads[sj.scene.source_id])
            )
        for tj in tile_jobs:
            row = _row("tile", tj.tile.source_id, tj.tile.date, processing[tj.tile.key])
            summary.rows.append(row)
            status[tj.tile.key] = row.status.value
    else:
        batches = _submit_batches(
            prepared, scene_jobs, tile_jobs, mode, child_timeout_s, reads_links=reads_links,
            scenes_per_child=scenes_per_child, tiles_per_child=tiles_per_child,
        )  # fmt: skip
        _follow_batches(progress, batches)
        scene_rows, tile_rows = batches.rows()
        summary.rows += scene_rows + [row for _, row in tile_rows]
        status.update({key: row.status.value for key, row in tile_rows})
    delete_unused_records_task(records, summary)
    # link tags as processed, around failed tiles (with the ledger's other tiles of the scenes)
    relink_records_task(plan, status, records, prepared.storage_uri)
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
