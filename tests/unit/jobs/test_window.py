"""Rolling windows: "the last N days" of an AOI, and each run adding only what is new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from catalogue.ledger import Ledger
from catalogue.plan import plan_ingestion
from common.errors import ValidationFailedError
from jobs.payload import parse_payload
from jobs.window import rolling_window
from tests.unit.catalogue.test_plan import Fixed, point_box, s2_scene


def test_the_window_ends_at_the_run_to_the_minute_and_replaces_any_given_times() -> None:
    raw = {"name": "Roll", "START_TIME": "2000-01-01T00:00:00Z", "end_time": "2000-02-01T00:00:00Z"}
    now = datetime(2026, 12, 2, 3, 0, 41, 500, tzinfo=UTC)
    out = rolling_window(raw, 10, now=now)
    assert out == {"name": "Roll", "start_time": "2026-11-22T03:00:00Z", "end_time": "2026-12-02T03:00:00Z"}


@pytest.mark.parametrize("days", [0, -1, True, "10", 1e9, float("nan")])
def test_a_window_that_is_not_a_number_of_days_names_the_field(days: object) -> None:
    with pytest.raises(ValidationFailedError, match="window_days"):
        rolling_window({}, days, now=datetime(2026, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]


def test_successive_windows_add_only_new_acquisitions_to_one_series() -> None:
    base = {
        "name": "Inc",
        "type": "Feature",
        "geometry": point_box(1.5, 43.5),
        "scene_type": {"constellation": "sentinel2"},
        "tile_graph_name": "ExtractS2Bands",
    }
    ledger = Ledger(aoi="Inc")
    seen: list[list[int]] = []
    for run, now in enumerate(datetime(2024, 1, 21, tzinfo=UTC) + timedelta(days=10 * i) for i in range(3)):
        payload = parse_payload(rolling_window(base, 25, now=now))  # windows overlap
        every = [s2_scene(day) for day in range(0, 10 * (run + 3), 10)]  # all acquisitions so far
        catalogue = [s for s in every if payload.start_time <= s.date < payload.end_time]  # as a catalogue
        plan = plan_ingestion(payload.plan_request(), [Fixed(catalogue)], ledger=ledger)
        seen.append(sorted(t.date.day for t in plan.tiles))
        ledger.record(plan.scenes, plan.tiles, {t.key: "DONE" for t in plan.tiles})
    assert seen == [[1, 11], [21], [31]]  # each run only what is new in its window, not what it saw before
    assert len(ledger.tiles) == 4  # Jan 1, 11, 21, 31: each once
    roots = [t for t in ledger.tiles.values() if t.previous is None]
    assert len(roots) == 1, "one series, one reference"
