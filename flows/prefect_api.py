"""Making sure a Prefect API answers before a flow runs, with a wait that survives a busy machine.

Without ``PREFECT_API_URL``, Prefect starts a temporary API server in a subprocess and gives up after
``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` (default 20 s). On a loaded 2-core machine its first
start (database migrations) took longer than that and the demo died with a raw traceback. So the CLI and
the demo start that server themselves, with a longer wait, and turn a failure into a message that says
which setting to change or which server to point at. With ``PREFECT_API_URL`` set, the server is polled
(``/api/health``) for the same time before the flow starts.

``prepare_environment`` must run before ``prefect`` is imported: Prefect reads its settings then.
"""

from __future__ import annotations

import os
import time
from collections.abc import MutableMapping

from common.errors import PermanentError

STARTUP_TIMEOUT_ENV = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
DEFAULT_STARTUP_TIMEOUT_S = 180


class PrefectApiUnavailableError(PermanentError):
    """No Prefect API answered in time; the message names the setting to change."""


def prepare_environment(environ: MutableMapping[str, str] | None = None) -> None:
    """Default settings for a run from the command line: a start-up wait fit for a busy machine."""
    env = os.environ if environ is None else environ
    env.setdefault(STARTUP_TIMEOUT_ENV, str(DEFAULT_STARTUP_TIMEOUT_S))
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # offline, it only logs an error


def startup_timeout_s(environ: MutableMapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    raw = env.get(STARTUP_TIMEOUT_ENV, str(DEFAULT_STARTUP_TIMEOUT_S))
    try:
        value = int(float(raw))
    except ValueError:
        raise PrefectApiUnavailableError(
            f"{STARTUP_TIMEOUT_ENV}={raw!r} is not a number of seconds; "
            f"set it to e.g. {DEFAULT_STARTUP_TIMEOUT_S}"
        ) from None
    if value <= 0:
        raise PrefectApiUnavailableError(f"{STARTUP_TIMEOUT_ENV}={raw!r} must be > 0 seconds")
    return value


def wait_for_api(api_url: str, *, timeout_s: float, poll_s: float = 0.5) -> None:
    """Poll ``<api_url>/health`` until it answers 200.

    Raises:
        PrefectApiUnavailableError: no answer within ``timeout_s``.
    """
    import httpx

    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while True:
        try:
            response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=5.0)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        if time.monotonic() >= deadline:
            raise PrefectApiUnavailableError(
                f"the Prefect API at PREFECT_API_URL={api_url} did not answer within {timeout_s:.0f} s "
                f"({last}): start it (prefect server start), or unset PREFECT_API_URL to let the ingester "
                "start a temporary one"
            )
        time.sleep(poll_s)


def ensure_prefect_api() -> str:
    """Start (or wait for) the Prefect API the next flow will use; return its URL.

    Raises:
        PrefectApiUnavailableError: it did not come up in time; the message says what to change.
    """
    timeout_s = startup_timeout_s()
    api_url = os.environ.get("PREFECT_API_URL", "")
    if api_url:
        wait_for_api(api_url, timeout_s=timeout_s)
        return api_url
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # one per process: the flow engine reuses this instance
    started = time.monotonic()
    try:
        server.start(timeout=timeout_s)
    except RuntimeError as exc:
        reason = str(exc).splitlines()[0][:300]
        raise PrefectApiUnavailableError(
            f"Prefect's temporary API server did not start within {timeout_s} s "
            f"({time.monotonic() - started:.0f} s spent; {reason}). On a busy machine raise "
            f"{STARTUP_TIMEOUT_ENV} (now {timeout_s}), or start a server yourself (prefect server start) "
            "and set PREFECT_API_URL=http://127.0.0.1:4200/api"
        ) from None
    return server.api_url
