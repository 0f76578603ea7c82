"""The parent's final state, and the outcome summary read back from it.

A Failed state's data must resolve into an exception: wherever Prefect takes the result of a failed
run (a deployed run's engine does, at the end of every run), ``get_state_exception`` raises
``TypeError: Unexpected result for failed state ... dict cannot be resolved into an exception`` for
anything else. So a failed ingestion's data is an :class:`IngestionFailedError` that carries the
summary; a completed one's is the summary itself, as a dict. :func:`summary_of` reads both.
"""

from __future__ import annotations

from typing import Any

from prefect import State
from prefect.states import Completed, Failed

from common.errors import PermanentError
from flows.results import read_result
from jobs.summary import IngestionSummary


class IngestionFailedError(PermanentError):
    """Some scene or tile failed; the message is the headline, ``summary`` every row.

    The summary travels as the exception's second argument (a JSON-able dict), so the exception
    pickles into a result storage and back as it is.
    """

    def __init__(self, headline: str, summary: dict[str, Any]) -> None:
        super().__init__(headline, summary)

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def summary(self) -> IngestionSummary:
        return IngestionSummary.model_validate(self.args[1])


def final_state(summary: IngestionSummary, **extra: Any) -> State:
    """Completed with the summary (and ``extra``) as data, or Failed with an IngestionFailedError."""
    data = summary.model_dump(mode="json") | extra
    if summary.failed:
        return Failed(message=summary.headline(), data=IngestionFailedError(summary.headline(), data))
    return Completed(message=summary.headline(), data=data)


def summary_of(state: State) -> IngestionSummary | None:
    """The summary of a finished ``ingest`` run, or None (it failed before its children, e.g. on an
    invalid payload: its state's message says why)."""
    data = read_result(state)
    if isinstance(data, IngestionFailedError):
        return data.summary
    if isinstance(data, dict) and "rows" in data:
        return IngestionSummary.model_validate(data)
    return None
