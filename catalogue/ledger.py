"""What an AOI already holds: the scenes and tiles of earlier ingestions, kept beside its layers.

The ledger is kept beside the AOI's layers. The catalogue reads it to link new acquisitions to the
existing series (incremental AOIs, ``catalogue.tiles.link_tiles``); the parent flow adds each run's
scenes and tiles with their outcomes.

It is safe under concurrent writers by construction: nothing is read, changed and written back. Each run
adds one entry of its own, ``<aoi>/_ledger/<UTC time>-<uuid>.json`` (a new object: no two writers ever
write one key), and the ledger is the entries merged in name order, the later outcome winning.
``<aoi>/ingested.json`` is a snapshot of that merge, naming the entries it holds (``included``): when
every other entry is newer than those, they are applied on top of it; otherwise (an entry that became
visible late, or a snapshot put back by a slow writer) the ledger is rebuilt from every entry. Snapshots
are only a cache and entries are never removed (but by ``delete AOI``). A ledger written by an earlier
version (``ingested.json`` without ``included``) becomes the first entry on the next write.

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
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, Field

from catalogue.errors import CatalogueError
from catalogue.models import Scene, Tile
from catalogue.relink import relink_by_status
from storage.base import Storage
from storage.errors import StorageNotFoundError

log = logging.getLogger(__name__)
_M = TypeVar("_M", bound=BaseModel)

LEDGER_NAME = "ingested.json"
ENTRIES_FOLDER = "_ledger"
LEGACY_ENTRY = "00000000T000000000000Z-earlier-version.json"  # sorts before every entry
_STAMP = "%Y%m%dT%H%M%S%fZ"


class Ledger(BaseModel):
    aoi: str
    included: list[str] | None = Field(
        default=None, description="The entries this snapshot holds (None: a ledger of an earlier version)"
    )
    scenes: dict[str, Scene] = Field(default_factory=dict, description="scene source_id -> scene")
    tiles: dict[str, Tile] = Field(default_factory=dict, description="tile key -> tile")
    status: dict[str, str] = Field(default_factory=dict, description="tile key -> DONE | FAILED | SKIPPED")
    status_at: dict[str, datetime] = Field(
        default_factory=dict, description="tile key -> when the entry that set its status was written"
    )

    def known_tiles(self) -> list[Tile]:
        """Tiles that later acquisitions may link to: every tile that did not fail."""
        return [t for key, t in self.tiles.items() if self.status.get(key, "DONE") == "DONE"]

    def record(
        self, scenes: list[Scene], tiles: list[Tile], status: dict[str, str], at: datetime | None = None
    ) -> None:
        """Add a run's scenes and tiles (as planned) with their outcomes (known at ``at``, when given);
        every tile is then kept with its effective links, re-linked around the tiles that did not end
        DONE."""
        for scene in scenes:
            self.scenes[scene.source_id] = scene
        for tile in tiles:
            self.tiles[tile.key] = tile
        self.status.update(status)
        if at is not None:
            self.status_at.update(dict.fromkeys(status, at))
        self.tiles = {t.key: t for t in relink_by_status(list(self.tiles.values()), self.status)}


def ledger_key(aoi: str) -> str:
    """The key of the AOI's snapshot (and of the whole ledger of earlier versions)."""
    return f"{aoi}/{LEDGER_NAME}"


def entries_prefix(aoi: str) -> str:
    return f"{aoi}/{ENTRIES_FOLDER}/"


class LedgerEntry(BaseModel):
    """One run's addition: its scenes and tiles (as planned) and each tile's outcome."""

    scenes: list[Scene] = Field(default_factory=list)
    tiles: list[Tile] = Field(default_factory=list)
    status: dict[str, str] = Field(default_factory=dict)
    written: datetime | None = Field(default=None, description="when it was written (None: see its name)")


def entry_time(name: str, entry: LedgerEntry) -> datetime | None:
    """When an entry was written: its own time, else its name's stamp (None for an earlier version's)."""
    if entry.written is not None:
        return entry.written
    try:
        return datetime.strptime(name.split("-", 1)[0], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def _read_json(storage: Storage, key: str, model: type[_M]) -> _M:
    with tempfile.TemporaryDirectory(prefix="ledger-") as tmp:
        local = Path(tmp) / "part.json"
        storage.download(key, local)
        try:
            return model.model_validate_json(local.read_text())
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise CatalogueError(
                f"{storage.uri_of(key)}: the AOI's ledger is unreadable ({exc.__class__.__name__}); restore "
                "it from a backup, or delete it to start the AOI's series afresh"
            ) from None


def _write_json(storage: Storage, key: str, model: BaseModel) -> str:
    with tempfile.TemporaryDirectory(prefix="ledger-") as tmp:
        local = Path(tmp) / "part.json"
        local.write_text(model.model_dump_json(indent=1))
        return storage.upload(local, key)  # atomic: the storage uploads through a temporary name


def _merge(base: Ledger, entries: list[tuple[str, LedgerEntry]]) -> Ledger:
    """``base`` with ``entries`` applied in order (the later outcome winning), relinked once."""
    merged = base.model_copy(deep=True)
    for name, entry in entries:
        merged.scenes.update({s.source_id: s for s in entry.scenes})
        merged.tiles.update({t.key: t for t in entry.tiles})
        merged.status.update(entry.status)
        written = entry_time(name, entry)
        for key in entry.status:
            if written is None:
                merged.status_at.pop(key, None)
            else:
                merged.status_at[key] = written
    if entries:
        merged.tiles = {t.key: t for t in relink_by_status(list(merged.tiles.values()), merged.status)}
    return merged.model_copy(update={"included": [*(base.included or []), *(n for n, _ in entries)]})


def _legacy_entry(ledger: Ledger) -> LedgerEntry:
    return LedgerEntry(
        scenes=list(ledger.scenes.values()), tiles=list(ledger.tiles.values()), status=ledger.status
    )


def load_ledger(storage: Storage, aoi: str) -> Ledger:
    """The AOI's ledger: its snapshot and the entries after it, or every entry (module docstring)."""
    for _attempt in range(3):
        try:
            snapshot = _read_json(storage, ledger_key(aoi), Ledger)
        except StorageNotFoundError:
            snapshot = Ledger(aoi=aoi, included=[])
        names = sorted(
            key.rsplit("/", 1)[-1] for key in storage.list_keys(entries_prefix(aoi)) if key.endswith(".json")
        )
        if snapshot.included is None:  # an earlier version's ledger, not yet an entry
            if LEGACY_ENTRY not in names:
                base = Ledger(aoi=aoi, included=[])
                legacy = [(LEGACY_ENTRY, _legacy_entry(snapshot))]
                return _merge(base, legacy + _entries(storage, aoi, names)) if names else snapshot
            snapshot = Ledger(aoi=aoi, included=[])
        held = set(snapshot.included or ())
        newer = [name for name in names if name not in held]
        if not held <= set(names) or (held and newer and min(newer) < max(held)):
            snapshot, newer = Ledger(aoi=aoi, included=[]), names  # rebuilt from every entry
        try:
            return _merge(snapshot, _entries(storage, aoi, newer))
        except StorageNotFoundError:
            continue  # removed meanwhile (delete AOI): read again
    raise CatalogueError(f"{storage.uri_of(entries_prefix(aoi))}: the ledger's entries keep disappearing")


def _entries(storage: Storage, aoi: str, names: list[str]) -> list[tuple[str, LedgerEntry]]:
    return [(name, _read_json(storage, entries_prefix(aoi) + name, LedgerEntry)) for name in names]


def add_to_ledger(
    storage: Storage, aoi: str, scenes: list[Scene], tiles: list[Tile], status: dict[str, str]
) -> str:
    """Add a run's scenes and tiles with their outcomes (one new entry), then refresh the snapshot.
    Returns the entry's URI. Safe with any number of concurrent writers (module docstring)."""
    try:
        current = _read_json(storage, ledger_key(aoi), Ledger)
    except StorageNotFoundError:
        current = None
    if current is not None and current.included is None:  # an earlier version's ledger: the first entry
        _write_json(storage, entries_prefix(aoi) + LEGACY_ENTRY, _legacy_entry(current))
    now = datetime.now(UTC)
    key = f"{entries_prefix(aoi)}{now.strftime(_STAMP)}-{uuid.uuid4().hex}.json"
    entry = LedgerEntry(scenes=scenes, tiles=tiles, status=status, written=now)
    uri = _write_json(storage, key, entry)
    save_ledger(storage, load_ledger(storage, aoi))
    return uri


def save_ledger(storage: Storage, ledger: Ledger) -> str:
    """Write the ledger as the AOI's snapshot (atomically), holding the entries ``ledger.included`` names
    (None: a whole ledger, as earlier versions wrote it). To add outcomes, use :func:`add_to_ledger`."""
    uri = _write_json(storage, ledger_key(ledger.aoi), ledger)
    log.info("%s: ledger saved (%d scenes, %d tiles)", ledger.aoi, len(ledger.scenes), len(ledger.tiles))
    return uri
