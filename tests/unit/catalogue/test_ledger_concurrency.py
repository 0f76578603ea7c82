"""The AOI ledger under concurrent writers (issue 12, item 6): two runs adding their tiles at the same time
lose nothing, in 200 trials, on a local storage and on S3 (moto); snapshots are only a cache."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalogue.ledger import Ledger, add_to_ledger, entries_prefix, ledger_key, load_ledger, save_ledger
from catalogue.models import Constellation, Scene, Tile
from storage.base import Storage
from storage.local import LocalStorage
from tests.support.s3_server import ACCESS_KEY, SECRET_KEY, moto_s3

BOX = "POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))"
START = datetime(2024, 1, 1, 10, 54, tzinfo=UTC)


def scene_and_tile(run: str, index: int) -> tuple[Scene, Tile]:
    date = START + timedelta(days=index, seconds=hash(run) % 60)
    name = f"S2A_MSIL1C_{date:%Y%m%dT%H%M%S}_N0510_R051_T31TCJ_{run}{index:04d}"
    scene = Scene(source_id=name, date=date, constellation=Constellation.SENTINEL2, footprint_wkt=BOX)
    return scene, Tile(source_id=name, scene_id=name, date=date, footprint_wkt=BOX)


def race(storage: Storage, aoi: str, runs: list[str], per_run: int = 2) -> None:
    """Each run adds its tiles at the same moment (a barrier), as two parents ending together."""
    barrier = threading.Barrier(len(runs))
    errors: list[BaseException] = []

    def one(run: str) -> None:
        pairs = [scene_and_tile(run, i) for i in range(per_run)]
        barrier.wait()
        try:
            add_to_ledger(
                storage, aoi, [s for s, _ in pairs], [t for _, t in pairs], {t.key: "DONE" for _, t in pairs}
            )
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


@pytest.mark.slow
def test_two_writers_lose_no_tile_in_200_trials(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    lost = 0
    for trial in range(200):
        aoi = f"Race{trial}"
        race(storage, aoi, ["a", "b"])
        ledger = load_ledger(storage, aoi)
        lost += 4 - len(ledger.tiles)
    assert lost == 0


def test_two_writers_lose_nothing_on_s3_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from storage import open_storage

    with moto_s3() as s3:
        s3.create_bucket("ledgers")
        for name, value in {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
            "GEOCUBE_INGESTER_S3_ENDPOINT_URL": s3.endpoint,
        }.items():
            monkeypatch.setenv(name, value)
        storage = open_storage("s3://ledgers/aois")
        for trial in range(10):
            race(storage, f"Race{trial}", ["a", "b", "c"])
            assert len(load_ledger(storage, f"Race{trial}").tiles) == 6


def test_an_old_snapshot_is_completed_by_the_entries_after_it(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    first = [scene_and_tile("a", i) for i in range(2)]
    add_to_ledger(
        storage, "A", [s for s, _ in first], [t for _, t in first], {t.key: "DONE" for _, t in first}
    )
    stale = load_ledger(storage, "A")
    later = [scene_and_tile("b", i) for i in range(2)]
    add_to_ledger(
        storage,
        "A",
        [s for s, _ in later],
        [t for _, t in later],
        {later[0][1].key: "FAILED", later[1][1].key: "DONE"},
    )
    save_ledger(storage, stale)  # a slow writer puts back an older snapshot
    again = load_ledger(storage, "A")
    assert len(again.tiles) == 4
    assert again.status[later[0][1].key] == "FAILED"
    assert len(storage.list_keys(entries_prefix("A"))) == 2 and storage.exists(ledger_key("A"))


def test_a_later_outcome_wins_and_a_snapshot_of_an_earlier_version_is_read(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    scene, tile = scene_and_tile("a", 0)
    old = Ledger(aoi="A")
    old.record([scene], [tile], {tile.key: "FAILED"})
    save_ledger(storage, old)  # a ledger written by an earlier version: no entries, no "through"
    assert load_ledger(storage, "A") == old
    add_to_ledger(storage, "A", [scene], [tile], {tile.key: "DONE"})  # retried, now done
    assert load_ledger(storage, "A").status == {tile.key: "DONE"}
    assert load_ledger(storage, "A").known_tiles() == [tile]
