"""An AOI's status: the original's precedence, facts of several attempts merged, causes first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalogue.ledger import Ledger, add_to_ledger, load_ledger
from catalogue.models import Constellation, Scene, Tile
from jobs.status import Attempt, Fact, ItemState, aoi_state, build_status, cause_first, state_of_run
from storage.local import LocalStorage

BOX = "POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))"
DAY = datetime(2024, 1, 5, 10, 54, tzinfo=UTC)
N, P, R, D, F = ItemState.NEW, ItemState.PENDING, ItemState.RETRY, ItemState.DONE, ItemState.FAILED


@pytest.mark.parametrize(
    ("scenes", "tiles", "expected"),
    [
        ([D, F, R, P, N], [], R),
        ([D, F, P, N], [], P),
        ([D, F, N], [], N),
        ([D, F], [F, D], D),  # a done scene with one done tile: done
        ([D, F], [F], F),  # every tile of the done scenes failed
        ([D], [R, D], R),  # all scenes done: the tiles decide
        ([D], [], D),
        ([F, F], [], F),
        ([], [], N),  # nothing: NEW
    ],
)
def test_the_original_precedence(
    scenes: list[ItemState], tiles: list[ItemState], expected: ItemState
) -> None:
    assert aoi_state(scenes, tiles) == expected


def test_prefect_states_as_item_states() -> None:
    assert state_of_run("SCHEDULED", "AwaitingRetry") == R
    assert state_of_run("RUNNING", "Retrying") == R
    assert state_of_run("RUNNING", "Running") == P
    assert state_of_run("SCHEDULED", "Scheduled") == P
    assert state_of_run("COMPLETED", "Completed") == D
    assert state_of_run("CRASHED", "Crashed") == F
    assert state_of_run("CANCELLED", "Cancelled") == F


def test_the_cause_comes_first() -> None:
    nested = (
        "DemoToulouse/S2A_MSIL1C_20240105T105441_N0510_R051_T31TCJ@2024-01-05: child flow run "
        "process DemoToulouse/S2A@2024-01-05 ended FAILED Flow run encountered an exception: "
        "ProcessingError: "
        "step Resample: gdalwarp: ERROR 4: /in/B04.jp2: No such file or directory"
    )
    assert cause_first(nested) == "step Resample: gdalwarp: ERROR 4: /in/B04.jp2: No such file or directory"
    assert cause_first("x" * 500, limit=50) == "x" * 49 + "…"
    assert cause_first("plain cause") == "plain cause"
    step = (  # as a real run said it (tests/flows/test_status.py)
        "Task run encountered an exception TileNotProcessedError: S2A_MSIL1C_20240115T105421_N0510_R051_"
        "T31TCJ_20240115T120624 step 0 (python extract_s2.py) failed (exit code 1): "
        "FATAL ERROR: no band found in /w"
    )
    assert (
        cause_first(step) == "FATAL ERROR: no band found in /w (step 0 (python extract_s2.py), exit code 1)"
    )
    long = cause_first(step + "x" * 400, limit=80)
    assert long.endswith("x… (step 0 (python extract_s2.py), exit code 1)") and len(long) == 80


def scene(i: int) -> Scene:
    return Scene(source_id=f"S{i}", date=DAY + timedelta(days=5 * i), constellation=Constellation.SENTINEL2,
                 footprint_wkt=BOX)  # fmt: skip


def series(n: int) -> tuple[list[Scene], list[Tile]]:
    scenes = [scene(i) for i in range(n)]
    tiles: list[Tile] = []
    for s in scenes:
        tiles.append(Tile(source_id="T31TCJ", scene_id=s.source_id, date=s.date, footprint_wkt=BOX,
                          previous=tiles[-1].link() if tiles else None,
                          reference=tiles[0].link() if tiles else None))  # fmt: skip
    return scenes, tiles


def test_the_ledger_alone_gives_tiles_and_infers_scenes() -> None:
    scenes, tiles = series(3)
    ledger = Ledger(aoi="A")
    ledger.record(scenes, tiles, {tiles[0].key: "DONE", tiles[1].key: "FAILED", tiles[2].key: "SKIPPED"})
    status = build_status("A", ledger=ledger, notes=["no Prefect API"])
    assert [i.state for i in status.tiles.values()] == [D, F, N]
    assert [i.state for i in status.scenes.values()] == [D, F, N]
    assert status.state == N  # a scene not run yet
    assert status.counts("tile") == {"NEW": 1, "PENDING": 0, "RETRY": 0, "DONE": 1, "FAILED": 1}
    assert "inferred from their tiles" in status.report() and "no Prefect API" in status.report()


def test_later_attempts_win_and_every_attempt_counts() -> None:
    scenes, tiles = series(3)
    # as stored (record() would re-link the third tile past the failed second one)
    ledger = Ledger(aoi="A", scenes={s.source_id: s for s in scenes}, tiles={t.key: t for t in tiles},
                    status={t.key: "DONE" for t in tiles} | {tiles[1].key: "FAILED"})  # fmt: skip
    t1, t2 = DAY + timedelta(days=30), DAY + timedelta(days=31)
    facts = [
        *(Fact("scene", s.source_id, D, t1, run="r1") for s in scenes),
        Fact(
            "tile", tiles[1].key, F, t1, "A/T31TCJ@2024-01-10: child flow run x ended FAILED disk full", "r1"
        ),
        Fact("tile", tiles[1].key, R, t2, "temporary", "r2"),  # the second attempt is retrying it
        Fact("tile", tiles[2].key, P, t2, run="r2"),
    ]
    attempts = [
        Attempt("ingest A [r1]", "Failed", t1, "A: tiles: 2/3 done"),
        Attempt("ingest A [r2]", "Running", t2),
    ]
    status = build_status("A", ledger=ledger, facts=facts, attempts=attempts)
    assert status.tiles[tiles[1].key].state == R and status.tiles[tiles[1].key].runs == {"r1", "r2"}
    assert status.state == R
    waits = {item.key: [u.key for u in up] for item, up in status.waits()}
    assert waits == {tiles[2].key: [tiles[1].key]}  # its previous is retrying; its reference is done
    report = status.report()
    assert "attempts: 2" in report and "T31TCJ@2024-01-15 waits for tile T31TCJ@2024-01-10 (RETRY)" in report
    assert status.to_json()["waits"] == [{"item": tiles[2].key, "on": [tiles[1].key]}]
    parallel = build_status("A", ledger=ledger, facts=facts, links_are_waits=False)
    assert parallel.waits() == [], "a graph that reads no T1/T2: the tiles of a series run in parallel"


def test_a_failed_item_shows_its_cause_and_a_done_one_no_old_message() -> None:
    scenes, tiles = series(2)
    ledger = Ledger(aoi="A")
    ledger.record(scenes, tiles, {})
    t1, t2 = DAY + timedelta(days=30), DAY + timedelta(days=31)
    facts = [
        Fact("scene", "S0", D, t1),
        Fact("scene", "S1", F, t1, "A/S1: child flow run d ended FAILED every provider failed: local: 404"),
        Fact("tile", tiles[0].key, F, t1, "boom"),
        Fact("tile", tiles[0].key, D, t2),
        Fact(
            "tile",
            tiles[1].key,
            F,
            t1,
            "A/T31TCJ@2024-01-10: not processed because its scene was not downloaded",
        ),
    ]
    status = build_status("A", ledger=ledger, facts=facts)
    assert status.state == D  # S1 failed, S0 is done and so is its tile
    failed = {i.key: i.message for i in status.failed()}
    assert failed == {
        "S1": "every provider failed: local: 404",
        tiles[1].key: "not processed because its scene was not downloaded",
    }
    assert status.tiles[tiles[0].key].message == ""
    assert "scene S1: every provider failed: local: 404" in status.report()


def test_tiles_known_only_from_runs_are_counted() -> None:
    _, tiles = series(2)
    facts = [Fact("tile", tiles[1].key, P, DAY, run="r")]
    status = build_status("A", ledger=Ledger(aoi="A"), facts=facts, tiles={tiles[1].key: tiles[1]})
    assert status.counts("tile")["PENDING"] == 1
    assert status.scenes["S1"].state == D, "a tile runs only once its scene was downloaded"
    assert status.state == P


def test_a_tile_failed_by_hand_after_its_run_is_failed(tmp_path: Path) -> None:
    """``fail TILE`` writes a ledger entry after the run that made the tile DONE: the ledger's FAILED is
    dated when its entry was written, so it wins over the parent run's earlier DONE row."""
    scenes, tiles = series(2)
    storage = LocalStorage(tmp_path)
    add_to_ledger(storage, "A", scenes, tiles, {t.key: "DONE" for t in tiles})
    run_end = datetime.now(UTC)  # the parent's final state, after it wrote its ledger entry
    add_to_ledger(storage, "A", [], [], {tiles[1].key: "FAILED"})  # fail_tile, later
    ledger = load_ledger(storage, "A")
    assert ledger.status_at[tiles[1].key] > run_end
    facts = [Fact("scene", s.source_id, D, run_end, run="r1") for s in scenes]
    facts += [Fact("tile", t.key, D, run_end, run="r1") for t in tiles]
    status = build_status("A", ledger=ledger, facts=facts)
    assert status.tiles[tiles[1].key].state == F
    assert status.tiles[tiles[0].key].state == D
    later = [Fact("tile", tiles[1].key, D, datetime.now(UTC), run="r2")]  # a retry that did it again
    assert build_status("A", ledger=ledger, facts=facts + later).tiles[tiles[1].key].state == D
