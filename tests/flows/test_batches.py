"""Batches of scenes and tiles in one child run (``scenes_per_child``/``tiles_per_child``), local mode.

The tile graph reads T1 and T2 (``tests.support.link_graphs``): a tile processed against a failed
previous or reference would fail on the import of a layer that tile never stored, so a DONE dependant
shows it ran against a DONE tile, whether its upstream was in its own batch or an earlier one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from catalogue.ledger import load_ledger
from flows.ingest import ingest
from flows.outcome import summary_of
from flows.status import run_facts
from jobs.summary import IngestionSummary
from storage.local import LocalStorage
from tests.flows.test_cascade import dates, ledger_links, process_runs, records_tags, scene_letters
from tests.support.link_graphs import write_graph_reading_t1_t2

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.usefixtures("prefect_api")]


def run(payload: dict[str, Any], **options: Any) -> tuple[Any, IngestionSummary]:
    state = ingest(payload=payload, mode="local", return_state=True, **options)
    summary = summary_of(state)
    assert summary is not None, state.message
    return state, summary


def parent_task_runs(state: Any) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])),
            limit=200,
        )


def test_batches_re_link_around_a_failure_inside_and_across_batches(
    world_factory: Any, tmp_path: Path
) -> None:
    """A B C D E with B broken, tiles 2 per child, scenes 3 per child: [A B] [C D] [E]. C (next batch)
    runs against A, D (same batch as C) against C; every tile is its own task run; the records, the
    ledger and the outcome say the same as without batches; a re-run runs B again, and what it blocked."""
    world = world_factory("Batches", dates=dates(5), broken=[1])
    payload = world.payload | {
        "tile_graph_name": write_graph_reading_t1_t2(tmp_path),
        "end_time": "2024-02-20T00:00:00Z",
    }
    state, summary = run(payload, scenes_per_child=3, tiles_per_child=2)
    assert state.is_failed()
    tiles = sorted((r for r in summary.rows if r.kind == "tile"), key=lambda r: r.date)
    assert [t.status.value for t in tiles] == ["DONE", "FAILED", "DONE", "DONE", "DONE"], summary.table()
    scenes = [r for r in summary.rows if r.kind == "scene"]
    assert len(scenes) == 5 and all(r.status.value == "DONE" for r in scenes)
    scene = scene_letters(summary)
    assert "re-linked: previous " in tiles[2].message and scene["B"] in tiles[2].message

    assert "re-linked" not in tiles[3].message, "D (after C in its batch) runs as planned, against C"
    assert records_tags(world, "Batches", scene)["C"] == (["A"], ["A"])
    assert ledger_links(world, "Batches", scene)["D"] == ("C", "A")

    runs = parent_task_runs(state)
    items = sorted((t for t in runs if "@" in t.name), key=lambda t: t.name[-10:])
    assert [t.state_type.value for t in items] == [
        "COMPLETED",
        "FAILED",
        "COMPLETED",
        "COMPLETED",
        "COMPLETED",
    ]
    assert process_runs("Batches") == [], "batch items are task runs, not subflows"
    # status reads the items' own runs (not only the parent's outcome, written when it ends)
    facts = run_facts("Batches", load_ledger(LocalStorage(world.storage), "Batches")).facts
    told = {f.run: f for f in facts if f.kind == "tile"}
    assert {str(t.id) for t in items} <= set(told), "every item's task run is read"
    failed_item = next(t for t in items if t.state_type.value == "FAILED")
    assert told[str(failed_item.id)].state.value == "FAILED"
    batch = re.compile(r"^(download|process) Batches/\d+ (scene|tile)s? ")
    dispatched = {t.name: t for t in runs if batch.match(t.name)}
    process = sorted((n for n in dispatched if n.startswith("process ")), key=lambda n: n.split()[-1])
    download = sorted(name for name in dispatched if name.startswith("download "))
    assert len(process) == 3 and len(download) == 2, sorted(dispatched)
    second = dispatched[process[1]]
    upstream = {str(i.id) for i in second.task_inputs.get("upstream", [])}
    assert upstream == {str(dispatched[process[0]].id)}, "[C D] waits for [A B], not for [E]"

    state2, summary2 = run(payload, scenes_per_child=3, tiles_per_child=2)  # B is tried again
    redone = {r.id: r.status.value for r in summary2.rows if r.kind == "tile"}
    assert redone[scene["B"]] == "FAILED", summary2.table()
    assert set(redone) <= {scene["B"], scene["C"]}, "only B and the tile re-linked around it run again"
    assert state2.is_failed()


def test_a_batch_size_below_one_is_refused_before_anything_runs(world_factory: Any) -> None:
    world = world_factory("BatchZero", dates=dates(1))
    state = ingest(payload=world.payload, mode="local", tiles_per_child=0, return_state=True)
    assert state.is_failed() and "tiles_per_child 0: must be at least 1" in (state.message or "")
    assert not (world.storage / "BatchZero").exists()
