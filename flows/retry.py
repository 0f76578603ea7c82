"""``retry AOI``: a new ``ingest`` run of the AOI with its latest parent run's parameters.

A new run on the same payload re-runs what is not done: the catalogue links it to the ledger's DONE
tiles, so only the failed items and the dependants they blocked are downloaded and processed again, and
the Geocube gets nothing new for the rest (records are reused). The parameters are the run's own, as the
Prefect API keeps them (the payload, the mode, a scenes or tiles document), so the retry is that run again.

Only a run made from this command line (or the demo: no deployment) is re-run here, in this process. A
run of the ``ingest`` deployment is retried where it ran: "Retry" on the run in the Prefect UI, which runs
the same flow run again on its work pool (its failed children run again: flows/dispatch.py).
"""

from __future__ import annotations

from typing import Any

from prefect import State
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterName
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import FlowRunSort

from common.errors import PermanentError

PARAMETERS = ("payload", "mode", "dry_run", "child_timeout_s", "scenes", "tiles")


class NothingToRetryError(PermanentError):
    """The AOI has no parent run to re-run, or its latest one cannot be re-run from here."""


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


def retry_parameters(aoi: str) -> tuple[FlowRun, dict[str, Any]]:
    """The latest parent run and the parameters to run it again with.

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
    if run.deployment_id is not None:
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
    from flows.ingest import ingest

    _, parameters = retry_parameters(aoi)
    state: State = ingest(**parameters, return_state=True)
    return state
