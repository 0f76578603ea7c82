"""One run of an AOI at a time (issue 12, item 6): a second run waits for the first, and says so."""

from __future__ import annotations

import threading
import time

import pytest

from flows import aoi_lock
from flows.aoi_lock import LIMIT_PREFIX, aoi_slot, free_if_leaked, limit_name


def test_limit_names_are_valid_and_never_shared() -> None:
    assert limit_name("DemoToulouse") == LIMIT_PREFIX + "DemoToulouse"
    odd = limit_name("Denmark:2024")
    assert odd.startswith(LIMIT_PREFIX + "Denmark-2024-") and odd != limit_name("Denmark-2024")


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_api")
def test_a_second_run_of_an_aoi_waits_for_the_first_and_another_aoi_does_not() -> None:
    events: list[tuple[str, str, float]] = []
    said: list[str] = []
    first_in = threading.Event()

    class RunLog:  # the run logger's interface, recorded
        def info(self, message: str, *args: object) -> None:
            said.append(message % args)

    def run(aoi: str, who: str, hold_s: float) -> None:
        with aoi_slot(aoi, RunLog()):
            events.append((who, "in", time.monotonic()))
            first_in.set()
            time.sleep(hold_s)
            events.append((who, "out", time.monotonic()))

    first = threading.Thread(target=run, args=("LockedAoi", "first", 3.0))
    first.start()
    assert first_in.wait(60)
    second = threading.Thread(target=run, args=("LockedAoi", "second", 0.1))
    other = threading.Thread(target=run, args=("OtherAoi", "other", 0.1))
    second.start()
    other.start()
    for thread in (first, second, other):
        thread.join(120)
    at = {(who, what): when for who, what, when in events}
    assert at[("second", "in")] >= at[("first", "out")], "the second run of the AOI waited"
    assert at[("other", "in")] < at[("first", "out")], "another AOI did not"
    assert any("another run of AOI LockedAoi holds its slot" in line for line in said), said
    assert not any("OtherAoi" in line for line in said)


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_api")
def test_a_leaked_slot_is_freed_and_a_held_one_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """A slot taken with no run holding it (its lease lost in a server restart, Prefect's default lease
    storage being the server's memory) is freed by the next run of the AOI; a slot a Running run holds
    is not."""
    from prefect import flow, get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate

    monkeypatch.setattr(aoi_lock, "CHECK_EVERY_S", 1.0)
    said: list[str] = []

    class RunLog:
        def info(self, message: str, *args: object) -> None:
            said.append(message % args)

        warning = info

    leaky = limit_name("LeakyAoi")
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=leaky, limit=1))
        client.update_global_concurrency_limit(leaky, GlobalConcurrencyLimitUpdate(active_slots=1))

    @flow(name="ingest")
    def parent(aoi: str, hold: threading.Event | None = None, held: threading.Event | None = None) -> float:
        started = time.monotonic()
        with aoi_slot(aoi, RunLog()):
            if held is not None and hold is not None:
                held.set()
                hold.wait(60)
            return time.monotonic() - started

    waited = parent("LeakyAoi")
    assert waited < 30, f"waited {waited:.0f} s for a slot nobody held"
    assert any("no run of the AOI left" in line and "freed" in line for line in said), said
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(leaky).active_slots == 0

    hold, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=parent, args=("HeldAoi",), kwargs={"hold": hold, "held": held})
    holder.start()
    try:
        assert held.wait(60)
        assert not free_if_leaked("HeldAoi", RunLog()), "a Running run holds it"
        with get_client(sync_client=True) as client:
            assert client.read_global_concurrency_limit_by_name(limit_name("HeldAoi")).active_slots == 1
    finally:
        hold.set()
        holder.join(60)
