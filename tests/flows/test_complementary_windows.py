"""Two runs over complementary date windows of one AOI end as one series with one reference (issue 12
item 6), in local mode.

The later window runs first (C D: C is the series' root), then the earlier one (A B): new tiles older
than the root take the existing root as reference (``catalogue.tiles`` rule 4), and C, now with B just
before it, is relinked to B. A third run of the whole window then has nothing to do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from geocube_client.client import GeocubeClient
from tests.flows.test_cascade import ledger_links, process_runs, records_tags, run
from tests.support.link_graphs import write_graph_reading_t1_t2

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.usefixtures("prefect_api")]

AOI = "Complementary"
FIRST = datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC)
DATES = [FIRST + timedelta(days=10 * i) for i in range(4)]  # A Jan 5, B Jan 15, C Jan 25, D Feb 4
WHOLE = ("2024-01-01T00:00:00Z", "2024-02-10T00:00:00Z")
EARLIER = (WHOLE[0], "2024-01-20T00:00:00Z")  # A B
LATER = ("2024-01-20T00:00:00Z", WHOLE[1])  # C D


def window(payload: dict[str, Any], bounds: tuple[str, str]) -> dict[str, Any]:
    return payload | {"start_time": bounds[0], "end_time": bounds[1]}


def tile_rows(summary: Any) -> list[Any]:
    return [r for r in summary.rows if r.kind == "tile"]


def record_ids(world: Any) -> set[str]:
    with GeocubeClient(world.geocube, insecure=True) as client:
        return {r.id for r in client.list_records(tags={"aoi": AOI})}


def test_complementary_windows_end_as_one_series_with_one_reference(
    world_factory: Any, tmp_path: Path
) -> None:
    world = world_factory(AOI, dates=DATES)
    # A graph reading T1/T2: a tile processed against a link that has no stored layer would fail.
    payload = world.payload | {"tile_graph_name": write_graph_reading_t1_t2(tmp_path)}

    state_b, summary_b = run(window(payload, LATER))
    assert state_b.is_completed(), summary_b.table()
    later = sorted((r for r in summary_b.rows if r.kind == "scene"), key=lambda r: r.date)
    assert len(later) == 2, summary_b.table()

    state_a, summary_a = run(window(payload, EARLIER))
    assert state_a.is_completed(), summary_a.table()
    seen = {r.id for r in later}
    earlier = sorted(
        (r for r in summary_a.rows if r.kind == "scene" and r.id not in seen), key=lambda r: r.date
    )
    assert len(earlier) == 2, summary_a.table()
    scene = dict(zip("ABCD", [r.id for r in [*earlier, *later]], strict=True))
    letter = {v: k for k, v in scene.items()}
    # A and B are new; C, now with B just before it, is relinked and processed again; D is untouched.
    ran = {letter[r.id]: r.status.value for r in tile_rows(summary_a)}
    assert ran == {"A": "DONE", "B": "DONE", "C": "DONE"}, summary_a.table()

    # One series, one reference: C, the root of the first run, stays the reference of every tile.
    assert ledger_links(world, AOI, scene) == {
        "A": (None, "C"),
        "B": ("A", "C"),
        "C": ("B", None),
        "D": ("C", "C"),
    }
    assert records_tags(world, AOI, scene) == {
        "A": ([], ["C"]),
        "B": (["A"], ["C"]),
        "C": (["B"], []),
        "D": (["C"], ["C"]),
    }

    runs_before = {r.id for r in process_runs(AOI)}
    records_before = record_ids(world)
    state_all, summary_all = run(window(payload, WHOLE))
    assert state_all.is_completed(), summary_all.table()
    assert {r.id for r in process_runs(AOI)} == runs_before, "the whole window again: no tile run"
    assert record_ids(world) == records_before, "the whole window again: no new record"
    assert ledger_links(world, AOI, scene)["A"] == (None, "C")
