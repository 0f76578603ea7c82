"""One run of an AOI at a time (issue 12, item 6): a second run waits for the first, and says so."""

from __future__ import annotations

import threading
import time

import pytest

from flows.aoi_lock import LIMIT_PREFIX, aoi_slot, limit_name


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
