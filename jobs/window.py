"""Rolling windows: a recurring ingestion of "the last N days" of an AOI.

A scheduled run gives the payload without (or with any) ``start_time``/``end_time`` and a window in days;
the window ends at the run's start, rounded down to the minute so that two runs of one schedule tick
agree, and begins ``days`` before. Each run adds only the acquisitions that are new to the AOI: what the
ledger already holds is dropped at planning ("already ingested"), and a new acquisition is linked to the
existing series (previous, reference), so a series grows run after run without branching.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from common.errors import FieldProblem, ValidationFailedError

MAX_WINDOW_DAYS = 3650.0


def rolling_window(payload: Mapping[str, Any], days: float, *, now: datetime | None = None) -> dict[str, Any]:
    """``payload`` with ``start_time``/``end_time`` set to the ``days`` before ``now`` (default: the
    current time, UTC, to the minute).

    Raises:
        ValidationFailedError: ``days`` is not a positive number of days (at most 10 years).
    """
    if isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days <= MAX_WINDOW_DAYS:
        why = f"{days!r} is not a number of days in (0, {MAX_WINDOW_DAYS:g}]; give e.g. 10 (the last ten)"
        raise ValidationFailedError("window_days", [FieldProblem("window_days", why)])
    end = (now or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    times = {"start_time": _iso(start), "end_time": _iso(end)}
    kept = {k: v for k, v in payload.items() if str(k).lower() not in times}
    return {**kept, **times}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
