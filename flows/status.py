"""What the Prefect API knows of an AOI: every parent run and every child run named after it.

Runs are found by name, as flows/ingest.py and flows/children.py name them: the parent ``ingest <AOI>``,
the children ``download <AOI>/<scene>`` and ``process <AOI>/<tile>@<date>`` (local subflows and
deployed runs alike; deployed children are also tagged ``aoi:<AOI>``). A child's parameters hold its
job, so its tile's previous/reference links are known before the ledger has them. A batch child
(``batch <AOI>/...``, ``scenes_per_child``/``tiles_per_child``) runs its items as task runs of the same
names: they are read as the children are, the tiles from the batch's own parameters (when the batch was
not passed by reference: then the ledger names them once written). The merge itself is
jobs/status.py; this module only reads. Prefect is imported only when an API is asked (a ledger-only
``status`` starts in a fraction of a second).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from catalogue.ledger import Ledger, load_ledger
from catalogue.models import Tile
from jobs.models import TileJob
from jobs.status import AoiStatus, Attempt, Fact, ItemState, build_status, state_of_outcome, state_of_run
from storage.base import Storage

log = logging.getLogger(__name__)

R = TypeVar("R")
PAGE = 200  # Prefect's default page size (PREFECT_API_DEFAULT_LIMIT)


@dataclass
class RunFacts:
    facts: list[Fact] = field(default_factory=list)
    tiles: dict[str, Tile] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read_runs(aoi: str) -> list[object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    runs: list[object] = []
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=aoi)),
                sort=FlowRunSort.EXPECTED_START_TIME_ASC,
                limit=PAGE,
                offset=len(runs),
            )
            runs.extend(page)
            if len(page) < PAGE:
                return runs


def _read_task_runs(flow_run_ids: list[object]) -> list[object]:
    """The task runs of the given flow runs (the items of batch children)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    runs: list[object] = []
    if not flow_run_ids:
        return runs
    with get_client(sync_client=True) as client:
        for start in range(0, len(flow_run_ids), PAGE):
            ids = FlowRunFilterId(any_=flow_run_ids[start : start + PAGE])  # type: ignore[arg-type]
            read = 0
            while True:
                page = client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=ids),
                    sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                    limit=PAGE,
                    offset=read,
                )
                runs.extend(page)
                read += len(page)
                if len(page) < PAGE:
                    break
    return runs


def _told(runs: list[object], kind: type[R]) -> Iterator[tuple[R, datetime, ItemState, str]]:
    """Each flow or task run of ``kind`` with what its state says: when, which, and its message (runs
    without a time are left out)."""
    for run in runs:
        if not isinstance(run, kind):
            continue
        state: Any = getattr(run, "state", None)
        at = state.timestamp if state is not None else getattr(run, "created", None)
        if at is None:
            continue
        state_type = getattr(run, "state_type", None)
        run_state = state_of_run(state_type.value if state_type else "", getattr(run, "state_name", "") or "")
        yield run, at, run_state, (state.message or "") if state is not None else ""


def _batch_tiles(run: object) -> list[Tile]:
    """The tiles a batch child's parameters hold (none when the batch went by reference)."""
    from jobs.batches import TileBatch

    job = getattr(run, "parameters", {}).get("job")
    if not isinstance(job, dict) or "reads_links" not in job:
        return []
    try:
        return [j.tile for j in TileBatch.model_validate(job).jobs]
    except ValidationError:
        return []


def _tile_key_by_label(ledger: Ledger, tiles: dict[str, Tile]) -> dict[tuple[str, str], str]:
    """An outcome row names a tile by its id and date: the key of that tile."""
    return {(t.source_id, f"{t.date:%Y-%m-%d}"): key for key, t in (ledger.tiles | tiles).items()}


def run_facts(aoi: str, ledger: Ledger) -> RunFacts:
    """The facts the Prefect API holds about ``aoi`` (the API is the one PREFECT_API_URL names)."""
    from prefect.client.schemas.objects import FlowRun

    from flows.outcome import summary_of

    out = RunFacts()
    parents: list[FlowRun] = []
    batches: list[FlowRun] = []
    download, process = f"download {aoi}/", f"process {aoi}/"
    for run, at, run_state, message in _told(_read_runs(aoi), FlowRun):
        if run.name == f"ingest {aoi}":
            parents.append(run)
        elif run.name.startswith(f"batch {aoi}/"):
            batches.append(run)
            out.tiles |= {tile.key: tile for tile in _batch_tiles(run)}
        elif run.name.startswith(download):
            key = run.name[len(download) :]
            out.facts.append(Fact("scene", key, run_state, at, message, str(run.id)))
        elif run.name.startswith(process):
            job = run.parameters.get("job")
            try:
                tile = TileJob.model_validate(job).tile
            except ValidationError:
                continue  # not one of ours, or another version's parameters
            out.tiles[tile.key] = tile
            out.facts.append(Fact("tile", tile.key, run_state, at, message, str(run.id)))
    keys = _tile_key_by_label(ledger, out.tiles)
    # Items run as task runs of a deployed batch child, or of the parent itself in local mode.
    _item_facts(out, [r.id for r in batches + parents], keys, download=download, process=process)
    for run in parents:
        state = run.state
        out.attempts.append(
            Attempt(
                name=f"{run.name} [{run.id}]" + (f" x{run.run_count}" if run.run_count > 1 else ""),
                state=run.state_name or "?",
                started=run.start_time,
                message=(state.message or "") if state is not None and not state.is_completed() else "",
            )
        )
        if state is None or not state.is_final():
            continue
        try:
            summary = summary_of(state)
        except Exception as exc:  # noqa: BLE001 - a result not readable here: the child runs still tell
            out.notes.append(f"{run.name} [{run.id}]: outcome not readable here ({type(exc).__name__})")
            continue
        for row in summary.rows if summary is not None else []:
            if row.kind == "scene":
                key = row.id
            else:
                key = keys.get((row.id, row.date), f"?/{row.id}@{row.date}")
            at = state.timestamp
            out.facts.append(
                Fact(row.kind, key, state_of_outcome(row.status.value), at, row.message, str(run.id))
            )
    return out


def _item_facts(
    out: RunFacts,
    batch_ids: list[object],
    keys: dict[tuple[str, str], str],
    *,
    download: str,
    process: str,
) -> None:
    """The facts of the batch children's items: their task runs, named as single children are (the
    dispatch tasks of single children, named so too, say what their child says)."""
    from prefect.client.schemas.objects import TaskRun

    for run, at, run_state, message in _told(_read_task_runs(batch_ids), TaskRun):
        where = str(run.id)
        if run.name.startswith(download):
            out.facts.append(Fact("scene", run.name[len(download) :], run_state, at, message, where))
        elif run.name.startswith(process):
            source_id, _, date = run.name[len(process) :].rpartition("@")
            key = keys.get((source_id, date))
            if key is not None:
                out.facts.append(Fact("tile", key, run_state, at, message, where))


def read_status(storage: Storage, aoi: str, *, use_prefect: bool = True) -> AoiStatus:
    """The AOI's status from its ledger and, when a Prefect API is configured, its runs.

    Without ``PREFECT_API_URL`` (or with ``use_prefect`` False) the ledger alone is read, and a note
    says so; an API that does not answer gives the same, with the reason.
    """
    ledger = load_ledger(storage, aoi)
    notes: list[str] = []
    facts = RunFacts()
    if not use_prefect:
        notes.append(
            "from the ledger alone (--no-prefect): runs in progress and failure messages are not shown"
        )
    elif not os.environ.get("PREFECT_API_URL"):
        notes.append(
            "no Prefect API (PREFECT_API_URL is unset): from the ledger alone; set PREFECT_API_URL to the "
            "server the runs used to see every attempt, runs in progress and failure messages"
        )
    else:
        try:
            facts = run_facts(aoi, ledger)
        except Exception as exc:  # noqa: BLE001 - httpx, Prefect's own errors: any of them means "no API"
            notes.append(
                f"the Prefect API at PREFECT_API_URL={os.environ['PREFECT_API_URL']} did not answer "
                f"({type(exc).__name__}): from the ledger alone"
            )
    if not ledger.tiles and not facts.facts and not facts.attempts:
        notes.append(
            f"nothing known of AOI {aoi!r}: no ledger in {storage.uri_of(aoi)} and no run named after it"
        )
    return build_status(
        aoi,
        ledger=ledger,
        facts=facts.facts,
        tiles=facts.tiles,
        attempts=facts.attempts,
        notes=notes + facts.notes,
    )
