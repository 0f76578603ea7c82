"""``retry AOI|SCENE|TILE [--force]`` and ``fail TILE``: new ``ingest`` runs, and a tile failed by hand.

``retry AOI``: a new ``ingest`` run of the AOI with its latest parent run's parameters.

A new run on the same payload re-runs what is not done: the catalogue links it to the ledger's DONE
tiles, so only the failed items and the dependants they blocked are downloaded and processed again, and
the Geocube gets nothing new for the rest (records are reused). The parameters are the run's own, as the
Prefect API keeps them (the payload, the mode, a scenes or tiles document), so the retry is that run again.

Only a run made from this command line (or the demo: no deployment) is re-run here, in this process. A
run of the ``ingest`` deployment is retried where it ran: "Retry" on the run in the Prefect UI, which runs
the same flow run again on its work pool (its failed children run again: flows/dispatch.py).

``retry SCENE|TILE`` (and ``retry AOI --force``): a new ``ingest`` run, here, with the latest parent run's
payload and mode and a ``tiles`` document of the tiles ``jobs.retry.select_retry`` chooses (a run of the
deployment too: this new run's children then run on the work pools). ``fail TILE``: ``jobs.retry.fail_tile``,
refused while a run of the AOI is going.
"""

from __future__ import annotations

from typing import Any

from prefect import State
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterName
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import FlowRunSort

from jobs.retry import FailReport, Item, NothingToRetryError, Selection, fail_tile, resolve_item, select_retry
from storage.base import Storage

PARAMETERS = ("payload", "mode", "dry_run", "child_timeout_s", "scenes", "tiles")
__all__ = [
    "NothingToRetryError",
    "fail_item",
    "plan_item_retry",
    "retry_aoi",
    "retry_parameters",
    "run_ingest",
]


def latest_parent_run(aoi: str) -> FlowRun | None:
    """The AOI's latest ``ingest <AOI>`` run, or None."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["ingest"])),
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"ingest {aoi}"])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=1,
        )
    return runs[0] if runs else None


def retry_parameters(aoi: str, *, from_deployment: bool = False) -> tuple[FlowRun, dict[str, Any]]:
    """The latest parent run and the parameters to run it again with.

    Args:
        from_deployment: a run of the deployment may be the one (its payload and mode are taken).

    Raises:
        NothingToRetryError: no run, one still going, one of the deployment, or a dry run.
    """
    run = latest_parent_run(aoi)
    if run is None:
        raise NothingToRetryError(
            f"AOI {aoi!r}: no 'ingest {aoi}' run in the Prefect API at PREFECT_API_URL; ingest it first "
            "(geocube-ingester ingest PAYLOAD)"
        )
    if run.state is not None and not run.state.is_final():
        raise NothingToRetryError(
            f"AOI {aoi!r}: its latest run {run.name} [{run.id}] is still {run.state.name}: wait for it "
            "(geocube-ingester status) or cancel it"
        )
    if run.deployment_id is not None and not from_deployment:
        raise NothingToRetryError(
            f"AOI {aoi!r}: its latest run {run.name} [{run.id}] ran from a deployment: retry it on its "
            "work pool (Retry on the run in the Prefect UI)"
        )
    parameters = {k: v for k, v in run.parameters.items() if k in PARAMETERS}
    if parameters.get("dry_run"):
        raise NothingToRetryError(
            f"AOI {aoi!r}: its latest run {run.name} [{run.id}] was a dry run: ingest it"
        )
    if not isinstance(parameters.get("payload"), dict):
        raise NothingToRetryError(
            f"AOI {aoi!r}: its latest run {run.name} [{run.id}] has no payload parameter"
        )
    return run, parameters


def retry_aoi(aoi: str) -> State:
    """Run the AOI's latest parent run again, here, and return the new run's final state."""
    _, parameters = retry_parameters(aoi)
    return run_ingest(parameters)


def plan_item_retry(
    storage: Storage, name: str, *, aoi: str | None = None, force: bool = False
) -> tuple[Selection, dict[str, Any]] | None:
    """What ``retry NAME`` runs and the parameters of its new ``ingest`` run; None for a plain AOI
    retry (``retry_aoi``: the latest run's parameters as they are).

    Raises:
        ItemNotFoundError, AmbiguousItemError (jobs.retry): the name fits no item, or several.
        NothingToRetryError: nothing to run, no parent run to take the payload from, a run going.
    """
    from catalogue.ledger import load_ledger
    from catalogue.models import without_link_secrets
    from flows.status import read_status
    from jobs.links import tile_graph_reads_links
    from jobs.payload import parse_payload
    from jobs.retry import ItemNotFoundError, planned_tiles

    try:
        item = resolve_item(storage, name, aoi=aoi)
    except ItemNotFoundError as exc:
        if aoi is not None or force:
            raise
        if latest_parent_run(name) is not None:
            return None  # an AOI whose runs wrote no ledger yet: its latest run again
        raise NothingToRetryError(
            f"AOI {name!r}: no 'ingest {name}' run in the Prefect API at PREFECT_API_URL; ingest it first "
            f"(geocube-ingester ingest PAYLOAD). Nor is it a scene or tile: {exc}"
        ) from None
    if item.kind == "aoi" and not force:
        return None
    _, parameters = retry_parameters(item.aoi, from_deployment=True)
    payload = parse_payload(parameters["payload"])
    status = read_status(storage, item.aoi)
    ledger = load_ledger(storage, item.aoi)
    selection = select_retry(
        item,
        ledger=ledger,
        planned=planned_tiles(storage, ledger),
        states={key: s.state for key, s in status.tiles.items()},
        force=force,
        reads_links=tile_graph_reads_links(payload),
    )
    run_parameters = {k: v for k, v in parameters.items() if k not in ("scenes", "tiles", "dry_run")}
    # a flow parameter is shown in the Prefect UI: its links go without their secrets
    return selection, run_parameters | {"tiles": without_link_secrets(selection.document())}


def run_ingest(parameters: dict[str, Any]) -> State:
    """A new ``ingest`` run, here, with ``parameters``; its final state."""
    from flows.ingest import ingest

    state: State = ingest(**parameters, return_state=True)
    return state


def fail_item(storage: Storage, name: str, *, aoi: str | None = None) -> FailReport:
    """``fail NAME``: the tile marked FAILED in its AOI's ledger (``jobs.retry.fail_tile``).

    Raises:
        NothingToRetryError: a run of the AOI is going (its ledger update would undo this).
    """
    import os

    from common.settings import load_settings
    from jobs.resources import open_geocube

    item: Item = resolve_item(storage, name, aoi=aoi)
    if item.kind == "aoi":
        raise NothingToRetryError(
            f"{name!r} is an AOI: fail one of its tiles (geocube-ingester status {name})"
        )
    reads_links: bool | None = None  # unknown without the latest run's payload
    if os.environ.get("PREFECT_API_URL"):
        run = latest_parent_run(item.aoi)
        if run is not None and run.state is not None and not run.state.is_final():
            raise NothingToRetryError(
                f"AOI {item.aoi!r}: its run {run.name} [{run.id}] is {run.state.name}: wait for it to end, "
                "then fail the tile"
            )
        if run is not None and isinstance(run.parameters.get("payload"), dict):
            from jobs.links import tile_graph_reads_links
            from jobs.payload import parse_payload

            reads_links = tile_graph_reads_links(parse_payload(run.parameters["payload"]))
    return fail_tile(storage, item, open_store=lambda: open_geocube(load_settings()), reads_links=reads_links)
