"""The HTTP policy of the project: one table from a status to what happens next, and Retry-After.

Every HTTP caller (the catalogues through ``catalogue.http``, S1 annotation ranges, the STAC and DHuS
stacks, the download providers) classifies a status with ``classify_status``, then raises its own
package's error for that outcome (STYLE.md §3):

| status | outcome | what happens next |
|---|---|---|
| 2xx | ``OK`` | |
| 408, 425, 429, 5xx but 501, 505 and 511 | ``TEMPORARY`` | retry later (``Retry-After`` honoured) |
| 404, 410 | ``UNAVAILABLE`` | a download tries the next provider; a search is misconfigured |
| 401, 403, 407 | ``AUTH`` | refresh the credentials once, or say which setting holds them |
| any other | ``PERMANENT`` | stop, with the first 200 characters of the answer |

501 (not implemented), 505 (HTTP version) and 511 (network authentication, a captive portal) do not
change by waiting. Why three client stacks remain: httpx is ours; pystac-client and sentinelsat bring
requests and are reached through their own session hooks (``providers.stac.requests_io``,
``providers.dhus``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

__all__ = ["HttpOutcome", "classify_status", "is_temporary_status", "parse_retry_after"]

_WAITING_DOES_NOT_HELP = frozenset({501, 505, 511})


class HttpOutcome(StrEnum):
    OK = "ok"
    TEMPORARY = "temporary"
    UNAVAILABLE = "unavailable"
    AUTH = "auth"
    PERMANENT = "permanent"


def classify_status(status: int) -> HttpOutcome:
    """What an HTTP status means for the caller (the table of the module docstring)."""
    if 200 <= status < 300:
        return HttpOutcome.OK
    if status in (408, 425, 429) or (500 <= status < 600 and status not in _WAITING_DOES_NOT_HELP):
        return HttpOutcome.TEMPORARY
    if status in (404, 410):
        return HttpOutcome.UNAVAILABLE
    if status in (401, 403, 407):
        return HttpOutcome.AUTH
    return HttpOutcome.PERMANENT


def is_temporary_status(status: int) -> bool:
    """Whether asking again later may get another answer (``classify_status`` is ``TEMPORARY``)."""
    return classify_status(status) is HttpOutcome.TEMPORARY


def parse_retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header (RFC 9110 §10.2.3: seconds or an HTTP date) in seconds from now, or None.

    A date in the past is 0; a value that is neither (``"soon"``, ``"1.5"``) is None.
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
