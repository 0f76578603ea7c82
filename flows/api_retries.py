"""Calls that survive a Prefect API that does not answer for a while (503 under load, a restart).

Prefect's client already retries a request a few times within seconds (``PREFECT_CLIENT_MAX_RETRIES``);
under load, the ephemeral API answered 503 past those, and a tile failed whose job never started. The
calls wrapped here (starting a child run, running a child in this process) are idempotent: a child run
started again with the same idempotency key is the same run, and a job run again over its own outputs
does nothing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TypeVar

import httpx
from prefect.exceptions import PrefectHTTPStatusError
from prefect.settings import PREFECT_API_URL

from jobs.batches import short

log = logging.getLogger(__name__)
_R = TypeVar("_R")

API_RETRY_DELAYS_S = (5.0, 15.0, 45.0)


def api_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the Prefect API not answering: a 5xx or 429 from it (after
    the client's own retries), or no connection to it. The jobs' own HTTP errors are providers' errors,
    classified in ``providers.errors``: never these."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PrefectHTTPStatusError):
            code = current.response.status_code
            return code >= 500 or code == 429
        if isinstance(current, httpx.TransportError) and _is_prefect_api(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_prefect_api(exc: httpx.TransportError) -> bool:
    try:
        host = exc.request.url.host
    except RuntimeError:  # no request attached
        return False
    apis = {os.environ.get("PREFECT_API_URL") or "", PREFECT_API_URL.value() or ""} - {""}
    return host == "ephemeral-prefect" or any(httpx.URL(api).host == host for api in apis)


def with_api_retries(label: str, call: Callable[[], _R]) -> _R:
    """``call()``, again after a pause when the Prefect API did not answer (``api_unavailable``): a busy
    API (503 under load, a restart) must not fail a tile whose job never started or already ran (both
    are idempotent: a re-run of a done job does nothing)."""
    for attempt, delay in enumerate((*API_RETRY_DELAYS_S, None), start=1):
        try:
            return call()
        except Exception as exc:
            if delay is None or not api_unavailable(exc):
                raise
            log.warning(
                "%s: the Prefect API did not answer (%s); again in %g s (%d/%d)",
                label, short(str(exc), 300), delay, attempt, len(API_RETRY_DELAYS_S),
            )  # fmt: skip
            time.sleep(delay)
    raise AssertionError("unreachable")  # the last attempt returns or raises
