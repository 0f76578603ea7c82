"""One run of an AOI at a time: a Prefect global concurrency limit of 1 slot, named after the AOI.

Two runs of one AOI at once would plan against the same ledger and link their acquisitions into two
series, and one could remove a product zip the other still reads. So the parent holds the AOI's slot from
planning to its ledger update; a second run waits for it (and says so in its log), then plans against the
first one's outcome. The limit is created on first use (``geocube-ingester-aoi-<name>``, 1 slot) and kept;
``strict``: a limit that cannot be taken fails the run instead of running unguarded. A dry run takes no
slot: it writes nothing. The slot's lease is 60 s, renewed while the parent lives: a killed parent's slot
frees within about a minute. The server must keep leases across its restarts
(``PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=prefect.server.concurrency.lease_storage.filesystem``): in
memory (Prefect's default) a restart leaves the slots of the runs in flight taken for ever.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LIMIT_PREFIX = "geocube-ingester-aoi-"
LEASE_S = 60.0  # the Prefect server's minimum lease
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
    # A lease of the server's shortest (60 s), renewed while the run lives: a killed parent's slot frees
    # in about a minute, not five. A renewal that fails (the server restarting) is logged, not fatal: the
    # run goes on, and its ledger writes are safe beside another run's (catalogue.ledger).
    with concurrency(
        name, occupy=1, strict=True, lease_duration=LEASE_S, raise_on_lease_renewal_failure=False
    ):
        yield
