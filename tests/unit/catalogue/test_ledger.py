"""The AOI ledger: what earlier ingestions hold, kept in storage."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from catalogue.ledger import Ledger, load_ledger, save_ledger
from catalogue.models import Constellation, Scene, Tile
from storage.local import LocalStorage

BOX = "POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))"


def test_new_aoi_has_an_empty_ledger_and_a_saved_one_comes_back(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    assert load_ledger(storage, "A") == Ledger(aoi="A", included=[])  # a new AOI: no entry yet
    date = datetime(2024, 1, 5, tzinfo=UTC)
    scene = Scene(source_id="S", date=date, constellation=Constellation.SENTINEL2, footprint_wkt=BOX)
    ok = Tile(source_id="S", scene_id="S", date=date, footprint_wkt=BOX)
    bad = Tile(source_id="T", scene_id="S", date=date, footprint_wkt=BOX)
    ledger = Ledger(aoi="A")
    ledger.record([scene], [ok, bad], {ok.key: "DONE", bad.key: "FAILED"})
    save_ledger(storage, ledger)
    assert (tmp_path / "A" / "ingested.json").is_file()
    again = load_ledger(storage, "A")
    assert again == ledger
    assert again.known_tiles() == [ok], "a failed tile is never offered as previous or reference"
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob(".*tmp*"))


def test_an_unreadable_ledger_is_a_clear_error(tmp_path: Path) -> None:
    import pytest

    from catalogue.errors import CatalogueError

    (tmp_path / "A").mkdir()
    (tmp_path / "A" / "ingested.json").write_text("{not json")
    with pytest.raises(CatalogueError, match=r"ingested.json: the AOI's ledger is unreadable"):
        load_ledger(LocalStorage(tmp_path), "A")
