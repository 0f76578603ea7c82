"""Secrets from Prefect Secret blocks: what the environment of a worker leaves unset.

``common.settings.load_settings`` asks the lookup registered here (at the import of ``tasks``) for each
secret setting the environment does not set, by its block name: create the block once, e.g.
``prefect block create secret`` or ``Secret(value=...).save("geocube-ingester-cdse-password")``, and every
worker reads it; nothing secret goes into a deployment's variables or a flow's parameters.

Only inside a flow or task run (there is an API to ask then; a CLI ``plan`` outside any run asks
nothing, and never starts a temporary Prefect server). Answers are kept 60 s per process, so a block
created or changed later is seen by the next tasks.
"""

from __future__ import annotations

import logging
import threading
import time

from prefect.blocks.system import Secret
from prefect.context import FlowRunContext, TaskRunContext

log = logging.getLogger(__name__)

CACHE_S = 60.0
_cache: dict[str, tuple[float, str | None]] = {}
_lock = threading.Lock()


def prefect_secret(name: str) -> str | None:
    """The value of the Prefect Secret block ``name``; None outside a run, or when there is none."""
    if FlowRunContext.get() is None and TaskRunContext.get() is None:
        return None
    now = time.monotonic()
    with _lock:
        cached = _cache.get(name)
        if cached is not None and now - cached[0] < CACHE_S:
            return cached[1]
    value: str | None
    try:
        secret = Secret.load(name, _sync=True)  # type: ignore[call-arg]
        assert isinstance(secret, Secret)  # a sync call: the block, not a coroutine
        value = str(secret.get())
    except ValueError:  # no block document of that name
        value = None
    except Exception as exc:  # noqa: BLE001 - an unreachable API is the environment's setting to fix
        log.warning("Prefect Secret block %s could not be read: %s", name, type(exc).__name__)
        value = None
    with _lock:
        _cache[name] = (now, value)
    return value
