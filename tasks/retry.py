"""The retry policy shared by the tasks (STYLE.md §3).

Temporary errors are always retried. The payload's ``is_retriable``/``retry_count`` (the original's
RETRY status with its countdown) add retries of other failures of a job, ``retry_count`` times, except
fatal ones (a step's ``FATAL ERROR``).

A server's ``Retry-After`` is honoured: Prefect waits ``RETRY_DELAYS_S`` between attempts, so when the
error asks for longer, the condition waits the difference first (Prefect 3 retries a task in its own
process, so this holds the same worker slot the retry would). Past ``MAX_RETRY_AFTER_S`` it is not
retried in this run: the task fails with the server's "come back later".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from common.errors import FatalError, is_temporary

RETRY_DELAYS_S: list[float] = [5, 30, 120]
TEMPORARY_RETRIES = len(RETRY_DELAYS_S)
MAX_RETRY_AFTER_S = 3600.0

log = logging.getLogger(__name__)


def _attempt(task_run: Any) -> int:
    return int(getattr(task_run, "run_count", 1) or 1)


def _wait_as_asked(exc: BaseException, attempt: int) -> bool:
    """Wait what ``Retry-After`` asks beyond Prefect's own delay; False when it asks too long."""
    asked = getattr(exc, "retry_after_s", None)
    if not isinstance(asked, int | float) or asked <= 0:
        return True
    if asked > MAX_RETRY_AFTER_S:
        log.warning("the server asks to come back in %.0f s: not retried in this run", asked)
        return False
    scheduled = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S)) - 1]
    if asked > scheduled:
        log.info("the server asks to come back in %.0f s: waiting %.0f s more", asked, asked - scheduled)
        time.sleep(asked - scheduled)
    return True


def retry_if_temporary(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn`` of the catalogue tasks: True only for a TemporaryError."""
    exc = state.result(raise_on_failure=False)
    if not (isinstance(exc, BaseException) and not isinstance(exc, FatalError) and is_temporary(exc)):
        return False
    return _wait_as_asked(exc, _attempt(task_run))


def job_retry_policy(*, is_retriable: bool, retry_count: int) -> tuple[int, Callable[[Any, Any, Any], bool]]:
    """(retries, retry_condition_fn) of a download or processing job."""

    def condition(task: Any, task_run: Any, state: Any) -> bool:
        exc = state.result(raise_on_failure=False)
        if not isinstance(exc, BaseException) or isinstance(exc, FatalError):
            return False  # a fatal failure has already run its clean-up (e.g. deleted the product)
        attempt = _attempt(task_run)
        if is_temporary(exc):
            return _wait_as_asked(exc, attempt)
        return is_retriable and not isinstance(exc, FatalError) and attempt <= retry_count

    return max(TEMPORARY_RETRIES, retry_count if is_retriable else 0), condition
