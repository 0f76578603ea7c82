"""An account's downloads across workers: the Prefect global concurrency limit the download task holds."""

from __future__ import annotations

import time

import pytest

from tests.support.peak import Peak

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_api")]


@pytest.mark.slow  # slot polling: about 5 s
def test_a_global_concurrency_limit_caps_an_accounts_downloads_across_tasks() -> None:
    from prefect import flow, task
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.futures import wait
    from prefect.task_runners import ThreadPoolTaskRunner

    from providers.tokens import account_limit_name, account_slot, slot_acquirer
    from tasks.jobs import global_slot

    name = account_limit_name("cdse", "limits@example.org")
    assert name == "downloads-cdse-limits-example-org"
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    peak = Peak(hold_s=0.3)

    @task
    def download() -> None:
        token = slot_acquirer.set(global_slot)  # as the download task sets it
        try:
            with account_slot(name), peak:
                pass
        finally:
            slot_acquirer.reset(token)

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=3))  # type: ignore[arg-type]
    def downloads() -> None:
        wait([download.submit() for _ in range(3)])

    downloads()
    assert peak.max == 1, "one slot for the account, whichever task or worker asks"

    started = time.monotonic()
    with global_slot(account_limit_name("cdse", "nobody")):  # no such limit: not blocked, said once
        pass
    assert time.monotonic() - started < 5
