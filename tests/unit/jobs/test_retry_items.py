"""Which tiles a retry of a scene or tile runs (with and without --force), and ``fail TILE``.

The AOI is a series A B C D of one tile each (its ledger written as the parent flow writes it: one entry
per run, tiles as planned, outcomes by key), B FAILED: the ledger's snapshot keeps C re-linked to A.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalogue.ledger import add_to_ledger, load_ledger
from catalogue.models import Constellation, Scene, Tile
from catalogue.records import ensure_records, scene_record_tags
from geocube_client.client import GeocubeClient
from jobs.retry import (
    AmbiguousItemError,
    Item,
    ItemNotFoundError,
    NothingToRetryError,
    fail_tile,
    find_aois,
    planned_tiles,
    resolve_item,
    select_retry,
)
from jobs.status import ItemState
from storage.local import LocalStorage

BOX = "POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))"
FIRST = datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC)
LETTERS = "ABCD"


def series(aoi: str, count: int = 4) -> tuple[list[Scene], list[Tile]]:
    scenes: list[Scene] = []
    tiles: list[Tile] = []
    for i in range(count):
        date = FIRST + timedelta(days=10 * i)
        scene = Scene(source_id=f"{aoi}_{LETTERS[i]}", date=date, constellation=Constellation.SENTINEL2,
                      footprint_wkt=BOX, tags={"aoi": aoi, "constellation": "Sentinel2"})  # fmt: skip
        scenes.append(scene)
        tiles.append(Tile(source_id="T31TCJ", scene_id=scene.source_id, date=date, footprint_wkt=BOX,
                          previous=tiles[-1].link() if tiles else None,
                          reference=tiles[0].link() if tiles else None))  # fmt: skip
    return scenes, tiles


def key(aoi: str, letter: str) -> str:
    return f"{aoi}_{letter}/T31TCJ"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    storage = LocalStorage(tmp_path / "storage")
    scenes, tiles = series("Aoi")
    status = {t.key: "DONE" for t in tiles} | {key("Aoi", "B"): "FAILED"}
    add_to_ledger(storage, "Aoi", scenes, tiles, status)
    return storage


def links(tile: Tile) -> tuple[str | None, str | None]:
    return tuple(  # type: ignore[return-value]
        link.scene_id[-1] if link else None for link in (tile.previous, tile.reference)
    )


def select(storage: LocalStorage, item: Item, **options: object) -> dict[str, tuple[str | None, str | None]]:
    ledger = load_ledger(storage, item.aoi)
    options = {"states": {}, "force": False, "reads_links": True} | options
    selection = select_retry(item, ledger=ledger, planned=planned_tiles(storage, ledger), **options)  # type: ignore[arg-type]
    assert {s.source_id for s in selection.scenes} == {t.scene_id for t in selection.tiles}
    return {t.scene_id[-1]: links(t) for t in selection.tiles}


def test_the_ledger_snapshot_keeps_c_relinked_and_the_entries_keep_the_planned_links(
    storage: LocalStorage,
) -> None:
    ledger = load_ledger(storage, "Aoi")
    assert links(ledger.tiles[key("Aoi", "C")]) == ("A", "A")
    assert links(planned_tiles(storage, ledger)[key("Aoi", "C")]) == ("B", "A")


def test_a_retry_of_a_failed_tile_runs_it_alone_when_its_dependants_are_done(storage: LocalStorage) -> None:
    tile = Item("Aoi", "tile", key("Aoi", "B"))
    assert select(storage, tile) == {"B": ("A", "A")}
    ledger = load_ledger(storage, "Aoi")
    selection = select_retry(tile, ledger=ledger, planned=planned_tiles(storage, ledger), states={},
                             force=False, reads_links=True)  # fmt: skip
    assert selection.left_done == [key("Aoi", "C")]
    assert "left alone: 1 DONE dependant(s)" in selection.describe()
    # the document a run reads back: the tile, its scene, its links
    from catalogue.interchange import read_interchange

    document = read_interchange(json.loads(json.dumps(selection.document())))
    assert [t.key for t in document.tiles] == [key("Aoi", "B")] and len(document.scenes) == 1
    assert links(document.tiles[0]) == ("A", "A")


def test_force_runs_the_done_dependants_too_against_their_planned_links(storage: LocalStorage) -> None:
    tile = Item("Aoi", "tile", key("Aoi", "B"))
    assert select(storage, tile, force=True) == {"B": ("A", "A"), "C": ("B", "A"), "D": ("C", "A")}
    # a done tile after the failed one: re-linked around B, which stays out of the run
    assert select(storage, Item("Aoi", "tile", key("Aoi", "C")), force=True) == {
        "C": ("A", "A"),
        "D": ("C", "A"),
    }
    with pytest.raises(NothingToRetryError, match="every tile of it is DONE; --force runs it again"):
        select(storage, Item("Aoi", "tile", key("Aoi", "C")))


def test_dependants_not_done_go_with_the_failed_tile(storage: LocalStorage) -> None:
    """C never ran (a crashed run: NEW over every attempt): it goes with B, and is linked to B."""
    states = {key("Aoi", "C"): ItemState.NEW, key("Aoi", "D"): ItemState.DONE}
    assert select(storage, Item("Aoi", "tile", key("Aoi", "B")), states=states) == {
        "B": ("A", "A"),
        "C": ("B", "A"),
    }


def test_a_graph_reading_no_t1_t2_gives_a_tile_no_dependants(storage: LocalStorage) -> None:
    tile = Item("Aoi", "tile", key("Aoi", "B"))
    assert select(storage, tile, reads_links=False, force=True) == {"B": ("A", "A")}
    assert select(storage, Item("Aoi", "scene", "Aoi_B"), reads_links=False) == {"B": ("A", "A")}
    assert len(select(storage, Item("Aoi", "aoi", "Aoi"), reads_links=False, force=True)) == 4
    ledger = load_ledger(storage, "Aoi")
    every = select_retry(Item("Aoi", "aoi", "Aoi"), ledger=ledger, planned=planned_tiles(storage, ledger),
                         states={}, force=True, reads_links=True)  # fmt: skip
    assert (
        every.describe(max_lines=2).splitlines()[0]
        == "retry of every tile (AOI Aoi) --force: 4 tile(s) of 4 scene(s)"
    )
    assert every.describe(max_lines=2).splitlines()[-1] == "  ... and 2 more"


def test_items_are_named_as_status_shows_them(storage: LocalStorage, tmp_path: Path) -> None:
    assert find_aois(storage) == ["Aoi"]
    assert resolve_item(storage, "Aoi_B") == Item("Aoi", "scene", "Aoi_B")
    assert resolve_item(storage, key("Aoi", "B")) == Item("Aoi", "tile", key("Aoi", "B"))
    assert resolve_item(storage, "T31TCJ@2024-01-15") == Item("Aoi", "tile", key("Aoi", "B"))
    assert resolve_item(storage, "Aoi") == Item("Aoi", "aoi", "Aoi")
    with pytest.raises(ItemNotFoundError, match=r"'nope': no scene .* \(Aoi\)"):
        resolve_item(storage, "nope")
    scenes, tiles = series("Other", 2)
    add_to_ledger(storage, "Other", scenes, tiles, {t.key: "DONE" for t in tiles})
    with pytest.raises(AmbiguousItemError, match=r"fits 2 items: .*\(AOI Aoi\), .*\(AOI Other\); give --aoi"):
        resolve_item(storage, "T31TCJ@2024-01-05")
    assert resolve_item(storage, "T31TCJ@2024-01-05", aoi="Other") == Item("Other", "tile", key("Other", "A"))


def test_fail_relinks_the_dependants_in_the_ledger_and_their_records_tags(
    storage: LocalStorage, local_geocube: str
) -> None:
    """Fail C: D is re-linked to A (B is FAILED too), and D's record says so."""
    ledger = load_ledger(storage, "Aoi")
    scenes = list(ledger.scenes.values())
    planned = planned_tiles(storage, ledger)
    by_scene = {s.source_id: [t for t in ledger.tiles.values() if t.scene_id == s.source_id] for s in scenes}
    with GeocubeClient(local_geocube, insecure=True) as client:
        tags = {s.source_id: scene_record_tags(s, by_scene[s.source_id]) for s in scenes}
        records = ensure_records(client, scenes, tags, record_tags={"aoi": "Aoi"}).record_ids
        report = fail_tile(
            storage,
            Item("Aoi", "tile", key("Aoi", "C")),
            open_store=lambda: GeocubeClient(local_geocube, insecure=True),
            reads_links=True,
        )
        after = {r.id: r.tags for r in client.list_records(tags={"aoi": "Aoi"})}
    assert report.before == "DONE"
    text = report.describe()
    assert f"tile {key('Aoi', 'C')} (AOI Aoi): DONE -> FAILED" in text
    assert f"{key('Aoi', 'D')}: previous {key('Aoi', 'C')} -> {key('Aoi', 'A')}" in text
    assert f"already processed against it: {key('Aoi', 'D')}" in text
    again = load_ledger(storage, "Aoi")
    assert again.status[key("Aoi", "C")] == "FAILED"
    assert links(again.tiles[key("Aoi", "D")]) == ("A", "A")
    assert json.loads(after[records["Aoi_D"]]["previous_scenes"]) == ["Aoi_A"]
    assert list(report.records) == [records["Aoi_D"]]
    assert after[records["Aoi_C"]]["previous_scenes"] == tags["Aoi_C"]["previous_scenes"], "C's own: kept"
    # the planned links stay: a forced retry of D runs it against A (B and C failed, out of the run)
    assert (
        links(planned_tiles(storage, again)[key("Aoi", "D")]) == ("C", "A") == links(planned[key("Aoi", "D")])
    )
    assert select(storage, Item("Aoi", "tile", key("Aoi", "D")), force=True) == {"D": ("A", "A")}
    # the runs still say C was DONE: the ledger's later FAILED wins, so C is retried
    done = {key("Aoi", "C"): ItemState.DONE}
    assert select(storage, Item("Aoi", "tile", key("Aoi", "C")), states=done) == {"C": ("A", "A")}
    # once more: nothing changes
    twice = fail_tile(
        storage,
        Item("Aoi", "tile", key("Aoi", "C")),
        open_store=lambda: GeocubeClient(local_geocube, insecure=True),
    )
    assert twice.describe().endswith("is FAILED already: nothing changed")


def test_only_a_tile_can_be_failed(storage: LocalStorage) -> None:
    with pytest.raises(Exception, match="only a tile can be failed"):
        fail_tile(storage, Item("Aoi", "scene", "Aoi_B"), open_store=lambda: GeocubeClient("127.0.0.1:1"))
