"""``retry TILE``, ``retry TILE --force`` and ``fail TILE`` against a real Prefect API (local mode).

A B C D of one tile each, with a tile graph that reads T1 and T2 (``tests.support.link_graphs``: a tile
processed against a tile that has no layers fails), B's product broken: B fails, C runs against A.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from flows.ingest import ingest
from flows.status import read_status
from geocube_client.client import GeocubeClient
from jobs.status import ItemState
from storage.local import LocalStorage
from tests.flows.conftest import World
from tests.support.link_graphs import write_graph_reading_t1_t2

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.usefixtures("prefect_api")]

DATES = [datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC) + timedelta(days=10 * i) for i in range(4)]


def process_runs(aoi: str) -> dict[str, Any]:
    """The AOI's process-tile child runs by id."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=f"process {aoi}/")), limit=200
        )
    return {str(r.id): r for r in runs}


def records(world: World, aoi: str) -> dict[str, dict[str, str]]:
    with GeocubeClient(world.geocube, insecure=True) as client:
        return {r.id: r.tags for r in client.list_records(tags={"aoi": aoi})}


def test_a_fixed_tile_is_retried_alone_forced_with_its_dependants_and_failed_by_hand(
    world_factory: Callable[..., World],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from prefect.settings import PREFECT_API_URL

    from demo.archive import make_demo_archive

    world = world_factory("RetryTile", dates=DATES, broken=[1])
    aoi = world.payload["name"]
    payload = world.payload | {
        "tile_graph_name": write_graph_reading_t1_t2(tmp_path),
        "end_time": "2024-02-10T00:00:00Z",
    }
    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
    assert ingest(payload=payload, mode="local", return_state=True).is_failed()
    storage = LocalStorage(world.storage)
    status = read_status(storage, aoi)
    (failed,) = status.failed()
    keys = list(status.tiles)  # date order: A B C D
    scene = {"ABCD"[i]: k.split("/")[0] for i, k in enumerate(keys)}
    assert failed.key == keys[1]
    before = records(world, aoi)
    runs = process_runs(aoi)

    make_demo_archive(world.root, dates=DATES)  # the cause removed: B's product has its bands again
    assert main(["retry", failed.label]) == 0
    out = capsys.readouterr().out
    assert f"retry of tile {keys[1]} (AOI {aoi}): 1 tile(s) of 1 scene(s)" in out
    assert "left alone: 1 DONE dependant(s)" in out
    assert "tiles: 1/1 done, 0 failed" in out, out  # only the fixed tile ran
    new = [r for i, r in process_runs(aoi).items() if i not in runs]
    assert [r.parameters["job"]["tile"]["scene_id"] for r in new] == [scene["B"]]
    status = read_status(storage, aoi)
    assert status.counts("tile")["DONE"] == 4 and status.state == ItemState.DONE
    assert records(world, aoi).keys() == before.keys(), "nothing new in the Geocube"

    assert main(["retry", keys[2], "--force"]) == 1  # no terminal to confirm on
    assert "nothing retried: confirm with --yes" in capsys.readouterr().err
    runs = process_runs(aoi)
    assert main(["retry", keys[2], "--force", "--yes"]) == 0
    assert "tiles: 2/2 done, 0 failed" in capsys.readouterr().out
    forced = {
        r.parameters["job"]["tile"]["scene_id"]: r for i, r in process_runs(aoi).items() if i not in runs
    }
    assert set(forced) == {scene["C"], scene["D"]}
    assert forced[scene["C"]].parameters["job"]["tile"]["previous"]["scene_id"] == scene["B"], (
        "C runs against the fixed B, as planned"
    )
    assert records(world, aoi).keys() == before.keys(), "nothing new in the Geocube"
    (c_record,) = _ids(world, aoi, scene["C"])
    assert json.loads(records(world, aoi)[c_record]["previous_scenes"]) == [scene["B"]], "C's record follows"

    assert main(["fail", keys[2]]) == 0
    out = capsys.readouterr().out
    assert f"tile {keys[2]} (AOI {aoi}): DONE -> FAILED" in out
    assert f"{keys[3]}: previous {keys[2]} -> {keys[1]}" in out
    (d_record,) = _ids(world, aoi, scene["D"])
    assert json.loads(records(world, aoi)[d_record]["previous_scenes"]) == [scene["B"]]
    assert f"record {d_record}: previous_scenes=" in out
    status = read_status(storage, aoi, use_prefect=False)
    assert status.tiles[keys[2]].state == ItemState.FAILED and status.counts("tile")["DONE"] == 3
    assert records(world, aoi).keys() == before.keys()
    assert main(["retry", keys[2]]) == 0  # the failed tile runs again, and alone (D is DONE)
    out = capsys.readouterr().out
    assert "tiles: 1/1 done, 0 failed" in out and f"retry of tile {keys[2]}" in out


def _ids(world: World, aoi: str, scene_id: str) -> list[str]:
    with GeocubeClient(world.geocube, insecure=True) as client:
        return [r.id for r in client.list_records(tags={"aoi": aoi}) if r.name == scene_id]
