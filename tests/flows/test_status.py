"""``status`` and ``graph`` of an AOI against a real Prefect API: every attempt, causes first."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flows.cli import main
from flows.ingest import ingest
from flows.status import read_status
from jobs.status import ItemState
from storage.local import LocalStorage
from tests.flows.conftest import World

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.usefixtures("prefect_api")]


def test_status_covers_every_attempt_and_puts_the_cause_first(
    world_factory: Callable[..., World],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from prefect.settings import PREFECT_API_URL

    first = datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC)
    world = world_factory("StatusAOI", dates=[first + timedelta(days=10 * i) for i in range(3)], broken=[1])
    aoi = world.payload["name"]
    for _ in range(2):  # the second attempt runs the failed tile again, and it fails again
        assert ingest(payload=world.payload, mode="local", return_state=True).is_failed()
    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))

    status = read_status(LocalStorage(world.storage), aoi)
    assert len(status.attempts) == 2 and all(a.state == "Failed" for a in status.attempts)
    assert status.counts("scene")["DONE"] == 3
    assert status.counts("tile") == {"NEW": 0, "PENDING": 0, "RETRY": 0, "DONE": 2, "FAILED": 1}
    assert status.state == ItemState.DONE  # the original's precedence: DONE over FAILED
    (failed,) = status.failed()
    assert len(failed.runs) >= 2, "both attempts' facts about the failed tile"
    assert failed.message.startswith("FATAL ERROR: no band found in "), failed.message  # the cause first
    assert "(step 0 (python extract_s2.py), exit code 1)" in failed.message
    assert not status.waits()

    assert main(["status", aoi]) == 0
    text = capsys.readouterr().out
    assert f"AOI {aoi}: DONE" in text and "attempts: 2" in text and f"tile {failed.label}: " in text
    assert main(["status", aoi, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["tiles"]["FAILED"] == 1 and len(document["attempts"]) == 2
    assert main(["status", aoi, "--no-prefect"]) == 0
    assert "from the ledger alone" in capsys.readouterr().out

    assert main(["graph", aoi, "--format", "svg", "-o", str(tmp_path / "g.svg")]) == 0
    assert (tmp_path / "g.svg").read_text().count('class="node"') == 3
    assert main(["graph", aoi]) == 0
    dot = capsys.readouterr().out
    assert dot.count("color=red") == 1 and dot.count("color=green") == 2


def test_retry_reruns_the_aoi_once_the_cause_is_removed_and_a_second_retry_creates_nothing(
    world_factory: Callable[..., World], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect.settings import PREFECT_API_URL

    from demo.archive import make_demo_archive
    from geocube_client.client import GeocubeClient

    dates = [datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC) + timedelta(days=10 * i) for i in range(2)]
    world = world_factory("RetryAOI", dates=dates, broken=[1])
    aoi = world.payload["name"]
    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
    assert main(["retry", aoi]) == 1
    assert "no 'ingest RetryAOI' run" in capsys.readouterr().err
    assert ingest(payload=world.payload, mode="local", return_state=True).is_failed()
    assert read_status(LocalStorage(world.storage), aoi).counts("tile")["FAILED"] == 1

    make_demo_archive(world.root, dates=dates)  # the cause removed: the product has its bands again
    assert main(["retry", aoi]) == 0
    assert "tiles: 1/1 done, 0 failed" in capsys.readouterr().out  # only the failed tile ran again
    status = read_status(LocalStorage(world.storage), aoi)
    assert status.state == ItemState.DONE and status.counts("tile") == {
        "NEW": 0, "PENDING": 0, "RETRY": 0, "DONE": 2, "FAILED": 0
    }  # fmt: skip
    assert len(status.attempts) == 2

    with GeocubeClient(world.geocube, insecure=True) as client:
        records = {r.id for r in client.list_records(tags={"aoi": aoi})}
        assert main(["retry", aoi]) == 0
        capsys.readouterr()
        assert {r.id for r in client.list_records(tags={"aoi": aoi})} == records, "nothing new in the Geocube"
    assert len(read_status(LocalStorage(world.storage), aoi).attempts) == 3


def test_runs_in_progress_show_as_pending_and_retry_with_what_waits_on_what(tmp_path: Path) -> None:
    """Runs as the API holds them mid-ingestion (made through the API itself, in the states and with the
    names and parameters the parent and its children give them), and no ledger yet."""
    from prefect import State
    from prefect.client.orchestration import get_client
    from prefect.states import AwaitingRetry, Completed, Running, Scheduled

    from catalogue.models import Constellation, Tile
    from flows.children import download_scene, process_tile
    from jobs.models import SceneRef, TileJob

    aoi, box = "StatusLive", "POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))"
    tiles: list[Tile] = []
    for i in range(3):
        date = datetime(2024, 1, 5, 10, 54, tzinfo=UTC) + timedelta(days=10 * i)
        tiles.append(Tile(source_id="T31TCJ", scene_id=f"S{i}", date=date, footprint_wkt=box,
                          previous=tiles[-1].link() if tiles else None,
                          reference=tiles[0].link() if tiles else None))  # fmt: skip
    states: list[State] = [
        Completed(),
        AwaitingRetry(message="TEMPORARY ERROR: HTTP 503 from the Geocube"),
        Scheduled(),
    ]
    with get_client(sync_client=True) as client:
        client.create_flow_run(
            ingest, name=f"ingest {aoi}", parameters={"payload": {"name": aoi}}, state=Running()
        )
        for tile, state in zip(tiles, states, strict=True):
            client.create_flow_run(download_scene, name=f"download {aoi}/{tile.scene_id}", state=Completed())
            job = TileJob(aoi=aoi, scene=SceneRef(source_id=tile.scene_id, date=tile.date,
                          constellation=Constellation.SENTINEL2), tile=tile, graph_name="Pass",
                          storage_uri=str(tmp_path))  # fmt: skip
            name = f"process {aoi}/{tile.source_id}@{tile.date:%Y-%m-%d}"
            client.create_flow_run(
                process_tile, name=name, parameters={"job": job.model_dump(mode="json")}, state=state
            )
        client.create_flow_run(download_scene, name=f"download {aoi}x/S9", state=Completed())  # another AOI
    with pytest.MonkeyPatch.context() as patch:
        from prefect.settings import PREFECT_API_URL

        patch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
        status = read_status(LocalStorage(tmp_path), aoi)
    assert [i.state for i in status.tiles.values()] == [ItemState.DONE, ItemState.RETRY, ItemState.PENDING]
    assert list(status.scenes) == ["S0", "S1", "S2"] and status.counts("scene")["DONE"] == 3
    assert status.state == ItemState.RETRY
    assert [a.state for a in status.attempts] == ["Running"]
    assert [(i.key, [u.key for u in up]) for i, up in status.waits()] == [("S2/T31TCJ", ["S1/T31TCJ"])]
    assert "T31TCJ@2024-01-25 waits for tile T31TCJ@2024-01-15 (RETRY)" in status.report()
