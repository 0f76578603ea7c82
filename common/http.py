"""HTTP pieces shared by the catalogues (``catalogue.http``) and the download providers (``providers``).

Each package classifies its own statuses into its own errors (STYLE.md §3); what they share is how an
answer says when to come back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["parse_retry_after"]


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
