"""The retry policy shared by the tasks: retry temporary errors only (STYLE.md §3)."""

from __future__ import annotations

from typing import Any

from common.errors import is_temporary

RETRY_DELAYS_S = [5, 30, 120]


def retry_if_temporary(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn`` of every task: True only for a TemporaryError."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and is_temporary(exc)
