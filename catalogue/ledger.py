"""What an AOI already holds: the scenes and tiles of earlier ingestions, kept beside its layers.

The ledger is ``<storage>/<aoi>/ingested.json``. The catalogue reads it to link new acquisitions to the
existing series (incremental AOIs, ``catalogue.tiles.link_tiles``); the parent flow writes it back after
each run with each tile's outcome.

Failed tiles stay out of later runs' links. They are kept with their status (and the links they were
tried with) but are never offered as existing tiles; and every tile is kept with its *effective* links
(``catalogue.relink``): a tile whose previous failed is recorded against the DONE tile it was processed
against, and when a series' root failed, the next DONE tile is recorded as the root and as the reference
of the tiles after it. So a later acquisition never gets a failed tile as its previous, and a failed root
is never the series' reference (``catalogue.tiles`` takes an existing series' root from its tiles'
references).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

from catalogue.errors import CatalogueError
from catalogue.models import Scene, Tile
from catalogue.relink import relink_by_status
from storage.base import Storage
from storage.errors import StorageNotFoundError

log = logging.getLogger(__name__)

LEDGER_NAME = "ingested.json"


class Ledger(BaseModel):
    aoi: str
    scenes: dict[str, Scene] = Field(default_factory=dict, description="scene source_id -> scene")
    tiles: dict[str, Tile] = Field(default_factory=dict, description="tile key -> tile")
    status: dict[str, str] = Field(default_factory=dict, description="tile key -> DONE | FAILED | SKIPPED")

    def known_tiles(self) -> list[Tile]:
        """Tiles that later acquisitions may link to: every tile that did not fail."""
        return [t for key, t in self.tiles.items() if self.status.get(key, "DONE") == "DONE"]

    def record(self, scenes: list[Scene], tiles: list[Tile], status: dict[str, str]) -> None:
        """Add a run's scenes and tiles (as planned) with their outcomes; every tile is then kept with
        its effective links, re-linked around the tiles that did not end DONE."""
        for scene in scenes:
            self.scenes[scene.source_id] = scene
        for tile in tiles:
            self.tiles[tile.key] = tile
        self.status.update(status)
        self.tiles = {t.key: t for t in relink_by_status(list(self.tiles.values()), self.status)}


def ledger_key(aoi: str) -> str:
    return f"{aoi}/{LEDGER_NAME}"


def load_ledger(storage: Storage, aoi: str) -> Ledger:
    """The AOI's ledger, or an empty one for a new AOI."""
    with tempfile.TemporaryDirectory(prefix="ledger-") as tmp:
        local = Path(tmp) / LEDGER_NAME
        try:
            storage.download(ledger_key(aoi), local)
        except StorageNotFoundError:
            return Ledger(aoi=aoi)
        try:
            return Ledger.model_validate_json(local.read_text())
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise CatalogueError(
                f"{storage.uri_of(ledger_key(aoi))}: the AOI's ledger is unreadable "
                f"({exc.__class__.__name__}); restore it from a backup, or delete it to start the AOI's "
                "series afresh"
            ) from None


def save_ledger(storage: Storage, ledger: Ledger) -> str:
    """Write the ledger (atomically: the storage uploads through a temporary name)."""
    with tempfile.TemporaryDirectory(prefix="ledger-") as tmp:
        local = Path(tmp) / LEDGER_NAME
        local.write_text(ledger.model_dump_json(indent=1))
        uri = storage.upload(local, ledger_key(ledger.aoi))
    log.info("%s: ledger saved (%d scenes, %d tiles)", ledger.aoi, len(ledger.scenes), len(ledger.tiles))
    return uri
