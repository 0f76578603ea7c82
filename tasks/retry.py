"""The retry policy shared by the tasks (STYLE.md §3).

Temporary errors are always retried. The payload's ``is_retriable``/``retry_count`` (the original's
RETRY status with its countdown) add retries of other failures of a job, ``retry_count`` times, except
fatal ones (a step's ``FATAL ERROR``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.errors import FatalError, is_temporary

RETRY_DELAYS_S: list[float] = [5, 30, 120]
TEMPORARY_RETRIES = len(RETRY_DELAYS_S)


def retry_if_temporary(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn`` of the catalogue tasks: True only for a TemporaryError."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and not isinstance(exc, FatalError) and is_temporary(exc)


def job_retry_policy(*, is_retriable: bool, retry_count: int) -> tuple[int, Callable[[Any, Any, Any], bool]]:
    """(retries, retry_condition_fn) of a download or processing job."""

    def condition(task: Any, task_run: Any, state: Any) -> bool:
        exc = state.result(raise_on_failure=False)
        if not isinstance(exc, BaseException) or isinstance(exc, FatalError):
            return False  # a fatal failure has already run its clean-up (e.g. deleted the product)
        if is_temporary(exc):
            return True
        attempt = int(getattr(task_run, "run_count", 1) or 1)
        return is_retriable and not isinstance(exc, FatalError) and attempt <= retry_count

    return max(TEMPORARY_RETRIES, retry_count if is_retriable else 0), condition
