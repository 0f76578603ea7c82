"""The parent's progress: counts, ETA, one line per child, the listener the CLI draws its bar with."""

from __future__ import annotations

import pytest

from flows.progress import Progress, ProgressSnapshot, add_listener, format_duration


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str, *args: object) -> None:
        self.lines.append(message % args)


def test_each_child_end_is_one_line_with_counts_and_an_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 10.0, 20.0, 30.0])
    monkeypatch.setattr("flows.progress.time.monotonic", lambda: next(clock))
    log = Lines()
    progress = Progress("Aoi", scenes_total=2, tiles_total=2, log=log, artifacts=False)
    progress.start()
    seen: list[ProgressSnapshot] = []
    remove = add_listener(seen.append)
    try:
        progress.finished("scene", "download Aoi/S1", "DONE")
        progress.finished("tile", "process Aoi/T1", "FAILED", "no band found in the product")
        last = progress.finished("scene", "download Aoi/S2", "DONE")
    finally:
        remove()
    assert log.lines[0] == "Aoi: 2 download(s) and 2 tile(s) to run"
    assert log.lines[1] == "download Aoi/S1 ended DONE; scenes 1/2, tiles 0/2 (10 s, ETA 30 s)"
    assert log.lines[2] == (
        "process Aoi/T1 ended FAILED: no band found in the product; "
        "scenes 1/2, tiles 1/2, 1 failed (20 s, ETA 20 s)"
    )
    assert [s.scenes_done + s.tiles_done for s in seen] == [1, 2, 3]
    assert last.fraction == 0.75 and last.eta_s == pytest.approx(10.0)
    assert last.bar(width=8) == "[######..]  75% scenes 2/2, tiles 1/2, 1 failed (30 s, ETA 10 s)"


def test_durations_read_well() -> None:
    assert [format_duration(s) for s in (5, 600, 7200)] == ["5 s", "10 min", "2.0 h"]
