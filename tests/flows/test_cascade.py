"""Failures that don't cascade, and dependencies only where a graph needs them (the parent in local mode).

The tile graph of the cascade tests reads T1 and T2 (``tests.support.link_graphs``): a tile processed
against a failed previous or reference would fail on the import of a layer that tile never stored, so a
DONE dependant shows it ran against a DONE tile.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.ingest import ingest
from flows.outcome import summary_of
from geocube_client.client import GeocubeClient
from jobs.summary import IngestionSummary
from tests.support.link_graphs import write_graph_reading_t1_t2

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.usefixtures("prefect_api")]

FIRST = datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC)


def dates(count: int) -> list[datetime]:
    return [FIRST + timedelta(days=10 * i) for i in range(count)]


def run(payload: dict[str, Any]) -> tuple[Any, IngestionSummary]:
    state = ingest(payload=payload, mode="local", return_state=True)
    summary = summary_of(state)
    assert summary is not None, state.message
    return state, summary


def process_runs(aoi: str) -> list[Any]:
    """The process-tile child runs of an AOI, by date then start."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=f"process {aoi}/")), limit=200
        )
    return sorted(runs, key=lambda r: (r.name, r.start_time))


def links_of(run_: Any, scene: dict[str, str]) -> tuple[str | None, str | None]:
    """The (T1, T2) a child run received, as letters."""
    tile = run_.parameters["job"]["tile"]
    letter = {v: k for k, v in scene.items()}
    return tuple(  # type: ignore[return-value]
        letter[tile[k]["scene_id"]] if tile.get(k) else None for k in ("previous", "reference")
    )


def records_tags(world: Any, aoi: str, scene: dict[str, str]) -> dict[str, tuple[list[str], list[str]]]:
    letter = {v: k for k, v in scene.items()}
    with GeocubeClient(world.geocube, insecure=True) as client:
        records = client.list_records(tags={"aoi": aoi})
    return {
        letter[r.name]: (
            [letter[s] for s in json.loads(r.tags["previous_scenes"])],
            [letter[s] for s in json.loads(r.tags["reference_scenes"])],
        )
        for r in records
    }


def ledger_links(world: Any, aoi: str, scene: dict[str, str]) -> dict[str, tuple[str | None, str | None]]:
    ledger = json.loads((world.storage / aoi / "ingested.json").read_text())
    letter = {v: k for k, v in scene.items()}
    return {
        letter[t["scene_id"]]: tuple(  # type: ignore[misc]
            letter[t[k]["scene_id"]] if t.get(k) else None for k in ("previous", "reference")
        )
        for t in ledger["tiles"].values()
    }


def scene_letters(summary: IngestionSummary) -> dict[str, str]:
    scenes = sorted((r for r in summary.rows if r.kind == "scene"), key=lambda r: r.date)
    return {"ABCDEFGH"[i]: r.id for i, r in enumerate(scenes)}


def test_a_failed_middle_tile_cascades_neither_in_a_run_nor_into_the_next(
    world_factory: Any, tmp_path: Path
) -> None:
    """A B C D with B broken: C runs against A, D against C; the records and the ledger say so; a second
    run adding E links E to D and A, never to B."""
    world = world_factory("CascadeMiddle", dates=dates(5), broken=[1])
    payload = world.payload | {
        "tile_graph_name": write_graph_reading_t1_t2(tmp_path),
        "end_time": "2024-02-10T00:00:00Z",  # A to D; E (2024-02-14) comes with the second run
    }
    state, summary = run(payload)
    assert state.is_failed()
    tiles = sorted((r for r in summary.rows if r.kind == "tile"), key=lambda r: r.date)
    assert [t.status.value for t in tiles] == ["DONE", "FAILED", "DONE", "DONE"], summary.table()
    scene = scene_letters(summary)
    assert "re-linked: previous " in tiles[2].message and scene["B"] in tiles[2].message
    runs = {r.name[-10:]: r for r in process_runs("CascadeMiddle")}
    assert [links_of(r, scene) for _, r in sorted(runs.items())] == [
        (None, None),
        ("A", "A"),
        ("A", "A"),  # the processing child got T1 = A, not the failed B
        ("C", "A"),
    ]
    assert records_tags(world, "CascadeMiddle", scene) == {
        "A": ([], []),
        "B": (["A"], ["A"]),
        "C": (["A"], ["A"]),
        "D": (["C"], ["A"]),
    }
    assert ledger_links(world, "CascadeMiddle", scene)["C"] == ("A", "A")

    state2, summary2 = run(payload | {"end_time": "2024-02-20T00:00:00Z"})  # E is new; B is tried again
    (new,) = [r.id for r in summary2.rows if r.kind == "scene" and r.id not in scene.values()]
    scene2 = scene | {"E": new}
    tiles2 = {next(k for k, v in scene2.items() if v == r.id): r for r in summary2.rows if r.kind == "tile"}
    assert tiles2["B"].status.value == "FAILED" and tiles2["E"].status.value == "DONE", summary2.table()
    runs2 = [r for r in process_runs("CascadeMiddle") if r.id not in {x.id for x in runs.values()}]
    by_date = {r.name[-10:]: links_of(r, scene2) for r in runs2}
    assert by_date["2024-02-14"] == ("D", "A"), "E's previous and reference: DONE tiles"
    ledger = ledger_links(world, "CascadeMiddle", scene2)
    assert ledger["E"] == ("D", "A") and ledger["C"] == ("A", "A")
    assert state2.is_failed()


def test_a_failed_root_hands_the_reference_to_the_next_done_tile(world_factory: Any, tmp_path: Path) -> None:
    """A B C D with the root A broken: B becomes the root, and the reference of C and D."""
    world = world_factory("CascadeRoot", dates=dates(4), broken=[0])
    payload = world.payload | {
        "tile_graph_name": write_graph_reading_t1_t2(tmp_path),
        "end_time": "2024-02-10T00:00:00Z",
    }
    state, summary = run(payload)
    assert state.is_failed()
    tiles = sorted((r for r in summary.rows if r.kind == "tile"), key=lambda r: r.date)
    assert [t.status.value for t in tiles] == ["FAILED", "DONE", "DONE", "DONE"], summary.table()
    scene = scene_letters(summary)
    runs = sorted(process_runs("CascadeRoot"), key=lambda r: r.name[-10:])
    assert [links_of(r, scene) for r in runs] == [(None, None), (None, None), ("B", "B"), ("C", "B")]
    assert records_tags(world, "CascadeRoot", scene) == {
        "A": ([], []),
        "B": ([], []),
        "C": (["B"], ["B"]),
        "D": (["C"], ["B"]),
    }
    known = ledger_links(world, "CascadeRoot", scene)
    assert known["B"] == (None, None) and known["D"] == ("C", "B"), "B is the series' root"

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])),
            limit=200,
        )
    process = sorted((t for t in tasks if t.name.startswith("process ")), key=lambda t: t.name[-10:])
    ids = [t.id for t in process]
    edges = [[getattr(i, "id", None) for i in t.task_inputs.get("previous", [])] for t in process]
    assert edges == [[], [ids[0]], [ids[1]], [ids[2]]], (
        "a graph reading T1/T2: each tile waits for its previous"
    )


def test_tiles_whose_graph_reads_no_t1_t2_run_in_parallel(world_factory: Any) -> None:
    """ExtractS2Bands never reads T1/T2: the tiles of the series are submitted with no edge between
    them (each waits for its own scene's download only). Whether their children then overlap in time
    depends on when the downloads end, on a busy machine one after another: not asserted."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    world = world_factory("Parallel", dates=dates(4))
    state, summary = run(world.payload | {"end_time": "2024-02-10T00:00:00Z"})
    assert state.is_completed(), state.message
    assert sum(1 for r in summary.rows if r.kind == "tile" and r.status.value == "DONE") == 4
    parent = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[parent])), limit=200
        )
    process = [t for t in tasks if t.name.startswith("process ")]
    tiles = {str(t.id) for t in process}
    assert len(process) == 4
    for task_run in process:
        upstream = {str(i.id) for inputs in task_run.task_inputs.values() for i in inputs if hasattr(i, "id")}
        assert not upstream & tiles, f"{task_run.name} waits on another tile: {task_run.task_inputs}"
        assert not task_run.task_inputs.get("wait_for")
        assert not task_run.task_inputs.get("previous") and not task_run.task_inputs.get("reference")
    assert len(process_runs("Parallel")) == 4
