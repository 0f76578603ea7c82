"""The retry policy: only temporary errors are retried."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from common.errors import PermanentError, TemporaryError
from geocube_client.errors import GeocubeNotFoundError, GeocubeTemporaryError
from graphs.errors import GraphError, GraphFatalError
from providers.errors import DownloadTemporaryError, ProductNotFoundError
from tasks.retry import job_retry_policy, retry_if_temporary


@dataclass
class FakeState:
    exc: BaseException

    def result(self, raise_on_failure: bool = True) -> BaseException:
        assert raise_on_failure is False
        return self.exc


def wrapped(inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise PermanentError("outer") from exc
    except PermanentError as outer:
        return outer


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (TemporaryError("x"), True),
        (DownloadTemporaryError("503"), True),
        (GeocubeTemporaryError("UNAVAILABLE", code="UNAVAILABLE", rpc="IndexDatasets"), True),
        (wrapped(DownloadTemporaryError("reset")), True),
        (PermanentError("bad payload"), False),
        (ProductNotFoundError("404"), False),
        (GeocubeNotFoundError("no record", code="NOT_FOUND", rpc="IndexDatasets"), False),
        (ValueError("bug"), False),
    ],
)
def test_only_temporary_errors_are_retried(exc: BaseException, retried: bool) -> None:
    assert retry_if_temporary(None, None, FakeState(exc)) is retried


@dataclass
class FakeRun:
    run_count: int


def test_job_policy_retries_temporary_errors_whatever_the_payload() -> None:
    retries, condition = job_retry_policy(is_retriable=False, retry_count=0)
    assert retries == 3
    assert condition(None, FakeRun(3), FakeState(DownloadTemporaryError("503"))) is True
    assert condition(None, FakeRun(1), FakeState(PermanentError("corrupt"))) is False


def test_retriable_payload_retries_other_failures_retry_count_times_but_never_fatal_ones() -> None:
    retries, condition = job_retry_policy(is_retriable=True, retry_count=5)
    assert retries == 5
    assert condition(None, FakeRun(1), FakeState(GraphError("step failed"))) is True
    assert condition(None, FakeRun(5), FakeState(GraphError("step failed"))) is True
    assert condition(None, FakeRun(6), FakeState(GraphError("step failed"))) is False
    assert condition(None, FakeRun(1), FakeState(GraphFatalError("FATAL ERROR: empty"))) is False


def test_a_retry_after_longer_than_the_scheduled_delay_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("tasks.retry.time.sleep", slept.append)
    _, condition = job_retry_policy(is_retriable=False, retry_count=0)
    busy = DownloadTemporaryError("429", retry_after_s=100)
    assert condition(None, FakeRun(1), FakeState(busy)) and slept == [100 - 5], "Prefect waits 5 s itself"
    assert retry_if_temporary(None, FakeRun(3), FakeState(busy)) and slept == [95], "120 s >= 100 s"
    soon = DownloadTemporaryError("503", retry_after_s=2)
    assert retry_if_temporary(None, FakeRun(1), FakeState(soon)) and slept == [95]


def test_a_retry_after_past_an_hour_is_not_retried_in_this_run(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("tasks.retry.time.sleep", slept.append)
    later = DownloadTemporaryError("429", retry_after_s=7200)
    assert not retry_if_temporary(None, FakeRun(1), FakeState(later)) and slept == []
    assert retry_if_temporary(None, FakeRun(1), FakeState(DownloadTemporaryError("429", retry_after_s=3600)))
    assert slept == [3600 - 5]
