"""One run of an AOI at a time: a Prefect global concurrency limit of 1 slot, named after the AOI.

Two runs of one AOI at once would plan against the same ledger and link their acquisitions into two
series, and one could remove a product zip the other still reads. So the parent holds the AOI's slot from
planning to its ledger update; a second run waits for it (and says so in its log), then plans against the
first one's outcome. The limit is created on first use (``geocube-ingester-aoi-<name>``, 1 slot) and kept;
``strict``: a limit that cannot be taken fails the run instead of running unguarded. A dry run takes no
slot: it writes nothing. The slot's lease is 60 s, renewed while the parent lives: a killed parent's slot
frees within about a minute.

A slot can also leak: Prefect keeps leases in the server's memory by default, so a server restart loses
the lease of a run in flight, whose release is then a no-op, and the slot stays taken for ever. So each
parent tags its own flow run with the limit's name before it asks for the slot, and a slot that is taken
while no other Running flow run carries that tag is freed (and logged as such): by the run that releases
its own (its release was lost), and by a waiting run, which looks again every ``CHECK_EVERY_S``. A run
holding the slot is Running and tagged (it holds it inside its flow), so a live holder's slot is never
freed. Outside a flow run (no tag to set) nothing is freed. ``PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=
prefect.server.concurrency.lease_storage.filesystem`` keeps leases across restarts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

LIMIT_PREFIX = "geocube-ingester-aoi-"
LEASE_S = 60.0  # the Prefect server's minimum lease
CHECK_EVERY_S = 30.0  # a waiting run looks for a leaked slot this often
log = logging.getLogger(__name__)


def limit_name(aoi: str) -> str:
    """The AOI's limit name: its characters that a limit name allows, and a short digest when any
    were replaced (two AOI names never share a limit)."""
    import hashlib

    safe = re.sub(r"[^A-Za-z0-9_-]", "-", aoi)
    if safe != aoi:
        safe = f"{safe}-{hashlib.sha256(aoi.encode()).hexdigest()[:8]}"
    return LIMIT_PREFIX + safe


@contextmanager
def aoi_slot(aoi: str, logger: Any = log) -> Iterator[None]:
    """Hold the AOI's slot for the duration of the block, waiting while another run holds it."""
    from prefect import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    name = limit_name(aoi)
    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            except ObjectAlreadyExists:
                pass  # another run created it meanwhile
            limit = None
    if limit is not None and limit.active_slots >= limit.limit:
        logger.info("another run of AOI %s holds its slot (%s): waiting for it to end", aoi, name)
    me = _tag_myself(name)
    acquired = False
    try:
        while not acquired:
            try:
                # A lease of the server's shortest (60 s), renewed while the run lives: a killed parent's
                # slot frees in about a minute, not five. A renewal that fails (the server restarting) is
                # logged, not fatal: the run goes on, and its ledger writes are safe beside another run's
                # (catalogue.ledger).
                with concurrency(
                    name,
                    occupy=1,
                    strict=True,
                    timeout_seconds=CHECK_EVERY_S,
                    lease_duration=LEASE_S,
                    raise_on_lease_renewal_failure=False,
                ):
                    acquired = True
                    yield
            except TimeoutError:
                if acquired:
                    raise  # the block's own
                if me:
                    free_if_leaked(aoi, logger)
    finally:
        if acquired and me:
            free_if_leaked(aoi, logger)  # our release is a no-op when the server lost our lease


def _tag_myself(name: str) -> str:
    """Tag this flow run with the limit's name (the mark of a run that may hold the slot); its id, or ""
    outside a flow run."""
    from prefect import get_client, runtime

    me = str(runtime.flow_run.id or "")
    if me:
        tags = list(runtime.flow_run.tags or [])
        with get_client(sync_client=True) as client:
            if name not in tags:
                client.update_flow_run(UUID(me), tags=[*tags, name])
    return me


def _running_holders(name: str) -> list[str]:
    """The ids of the Running flow runs tagged ``name`` (those that may hold its slot), but this one."""
    from prefect import get_client, runtime
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType

    me = str(runtime.flow_run.id or "")
    running = FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING]))
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[name]), state=running), limit=50
        )
    return [str(r.id) for r in runs if str(r.id) != me]


def free_if_leaked(aoi: str, logger: Any = log) -> bool:
    """Free the AOI's slot when it is taken and no other Running flow run may hold it; whether it did."""
    from prefect import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    name = limit_name(aoi)
    try:
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(name)
            if limit.active_slots <= 0 or _running_holders(name):
                return False
            client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active_slots=0))
    except ObjectNotFound:
        return False
    except Exception as exc:  # noqa: BLE001 - the API not answering: the next look tries again
        logger.warning("AOI %s: could not check its slot (%s): %s", aoi, name, type(exc).__name__)
        return False
    logger.warning(
        "AOI %s: its slot (%s) was taken with no run of the AOI left (a lease the Prefect server lost, "
        "e.g. in a restart): freed",
        aoi,
        name,
    )
    return True
