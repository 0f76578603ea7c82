"""The parent's final state: a failed ingestion resolves into an exception that carries its summary.

A deployed run's engine takes the result of the run at its end (``run_flow`` in result mode); a Failed
state whose data is a dict made it log ``TypeError: Unexpected result for failed state`` on every
failed ``ingest`` run (issue 11). Calling a flow without ``return_state`` takes the same path.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from prefect import State, flow
from prefect.states import Failed

from flows.outcome import IngestionFailedError, final_state, summary_of
from flows.results import read_result
from jobs.models import JobStatus
from jobs.summary import IngestionSummary, OutcomeRow

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]  # a Prefect API: 20 s to start


def summary(*statuses: JobStatus) -> IngestionSummary:
    rows = [
        OutcomeRow(kind="tile", id=f"T{i}", date="2024-01-05", status=s, message=f"m{i}", outputs=["a.tif"])
        for i, s in enumerate(statuses)
    ]
    return IngestionSummary(aoi="Outcome", mode="deployments", rows=rows)


@flow(persist_result=True)
def finishing(failed: bool) -> State:
    return final_state(summary(JobStatus.DONE, JobStatus.FAILED if failed else JobStatus.DONE))


@flow
def finishing_with_a_dict() -> State:
    failed = summary(JobStatus.FAILED)
    return Failed(message=failed.headline(), data=failed.model_dump(mode="json"))


def test_a_failed_state_with_a_dict_is_what_broke_deployed_runs() -> None:
    with pytest.raises(TypeError, match="cannot be resolved into an exception"):
        finishing_with_a_dict()


def test_a_failed_ingestion_raises_its_summary_not_a_type_error() -> None:
    with pytest.raises(IngestionFailedError) as caught:
        finishing(failed=True)
    assert (
        str(caught.value)
        == "Outcome: scenes: 0/0 done, 0 failed, 0 skipped; tiles: 1/2 done, 1 failed, 0 skipped"
    )
    assert [r.status for r in caught.value.summary.rows] == [JobStatus.DONE, JobStatus.FAILED]


def test_summary_of_reads_both_states_also_back_from_the_api() -> None:
    from prefect.client.orchestration import get_client

    for failed in (True, False):
        state = finishing(failed=failed, return_state=True)
        assert state.is_failed() is failed
        local = summary_of(state)
        assert local is not None and local.rows[1].status == (JobStatus.FAILED if failed else JobStatus.DONE)
        run_id = state.state_details.flow_run_id
        assert run_id is not None
        with get_client(sync_client=True) as client:  # the persisted result, as another process reads it
            stored = client.read_flow_run(run_id).state
        assert stored is not None and summary_of(stored) == local


def test_a_run_that_failed_before_its_children_has_no_summary() -> None:
    @flow
    def invalid() -> None:
        raise ValueError("layers.B04: unknown variable")

    state = invalid(return_state=True)
    assert summary_of(state) is None
    assert "layers.B04" in str(state.result(raise_on_failure=False))


def test_a_result_in_a_saved_block_reads_back_without_leaving_a_socket_open(tmp_path: Path) -> None:
    """Prefect's own ``state.result()`` resolves a saved block with a client it never closes: read three
    times, its open sockets fail this test (``-W error``) once collected."""
    from prefect.client.orchestration import get_client
    from prefect.filesystems import LocalFileSystem

    LocalFileSystem(basepath=str(tmp_path)).save("outcome-test-results", overwrite=True)
    shared: LocalFileSystem = LocalFileSystem.load("outcome-test-results")  # type: ignore[assignment]
    state = finishing.with_options(result_storage=shared)(failed=True, return_state=True)
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    with get_client(sync_client=True) as client:
        stored = client.read_flow_run(run_id).state
    assert stored is not None
    for _ in range(3):
        read = summary_of(stored)
        assert read is not None and read.rows[1].status == JobStatus.FAILED
    assert isinstance(read_result(stored), IngestionFailedError)
    assert list(tmp_path.iterdir()), "the result was not written to the block's folder"
    gc.collect()
