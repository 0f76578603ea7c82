"""Retry of a scene or a tile (``--force`` for done ones), and ``fail TILE``: plain functions, no Prefect.

A retry of an item is a new ``ingest`` run of its AOI (flows/retry.py) with the latest run's payload and a
``tiles`` interchange document restricted to the tiles chosen here (``select_retry``):

- ``retry TILE``: the tile when it is not DONE, and the dependants it blocked: the tiles after it (its
  dependants by their planned previous/reference links, transitively) that are not DONE either. A tile
  has dependants only when the tile graph reads T1/T2 (``jobs.planning.graph_reads_links``): otherwise
  the tiles of a series never wait for each other. ``--force``: the tile even when DONE, and all its
  dependants, DONE or not (their layers were made from it).
- ``retry SCENE``: its tiles chosen as above (the scene's download runs again when its product is not in
  the storage any more); ``retry AOI --force``: every tile of the AOI.

Each tile goes with its *planned* links (the AOI ledger's entries keep them; its snapshot keeps the
links re-linked around failures), re-linked around the tiles that are not DONE and stay out of the run
(``catalogue.relink``, the chosen tiles counting as DONE: the run's dispatch re-links their dependants
at once if they fail again). So a dependant retried with a fixed tile is processed against it, and
nothing outside the run is ever read from a failed tile. The records are the AOI's own: the run finds
and reuses them (same name, time and tags), so nothing new is created in the Geocube.

``fail TILE`` adds a ledger entry saying the tile FAILED: the ledger then re-links its dependants around
it (as the original's FailTile does), and the records of the scenes whose tiles changed links get the
link tags of their new links (``catalogue.records``).

Items are named as ``status`` shows them: a scene by its source id, a tile by its key (``scene/tile``)
or its label (``<tile id>@<YYYY-MM-DD>``); the AOI is the one whose ledger holds the item (``aoi=`` when
several do).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from catalogue.interchange import write_interchange
from catalogue.ledger import (
    ENTRIES_FOLDER,
    LEDGER_NAME,
    Ledger,
    LedgerEntry,
    add_to_ledger,
    entries_prefix,
    load_ledger,
)
from catalogue.models import Scene, Tile
from catalogue.records import LINK_TAGS, find_scene_records, link_tag_updates, update_link_tags
from catalogue.relink import DONE, relink_by_status
from common.errors import PermanentError
from geocube_client.client import GeocubeClient
from jobs.status import ItemState, tile_label
from storage.base import Storage
from storage.errors import StorageNotFoundError
from storage.local import LocalStorage

log = logging.getLogger(__name__)

FAILED = "FAILED"
Kind = Literal["aoi", "scene", "tile"]


class ItemNotFoundError(PermanentError):
    """No AOI ledger holds the scene or tile named."""


class AmbiguousItemError(PermanentError):
    """The name fits several items (or AOIs): the message lists them."""


class NothingToRetryError(PermanentError):
    """The item is done (and no ``--force``), or cannot be retried from here."""


@dataclass(frozen=True)
class Item:
    """A named item: ``key`` is the AOI name, a scene's source id or a tile's key."""

    aoi: str
    kind: Kind
    key: str


def find_aois(storage: Storage) -> list[str]:
    """The AOIs that have a ledger in ``storage``. A local storage lists its folders; another storage
    lists its keys (all of them: pass the AOI to avoid it on a large bucket)."""
    if isinstance(storage, LocalStorage):
        if not storage.root.is_dir():
            return []
        return sorted(
            d.name
            for d in storage.root.iterdir()
            if d.is_dir() and ((d / LEDGER_NAME).is_file() or (d / ENTRIES_FOLDER).is_dir())
        )
    found = set()
    for key in storage.list_keys(""):
        parts = key.split("/")
        if (len(parts) == 2 and parts[1] == LEDGER_NAME) or (len(parts) == 3 and parts[1] == ENTRIES_FOLDER):
            found.add(parts[0])
    return sorted(found)


def _matches(ledger: Ledger, name: str) -> list[Item]:
    if name in ledger.scenes:
        return [Item(ledger.aoi, "scene", name)]
    if name in ledger.tiles:
        return [Item(ledger.aoi, "tile", name)]
    return [Item(ledger.aoi, "tile", key) for key, t in ledger.tiles.items() if tile_label(t) == name]


def resolve_item(storage: Storage, name: str, *, aoi: str | None = None) -> Item:
    """The item ``name`` names (module docstring); the AOI itself when ``name`` is an AOI's name.

    Raises:
        ItemNotFoundError: no ledger holds it (the message lists the AOIs looked in).
        AmbiguousItemError: several items or AOIs fit (the message lists them; give ``aoi``).
    """
    if aoi is not None and name == aoi:
        return Item(aoi, "aoi", aoi)
    aois = [aoi] if aoi is not None else find_aois(storage)
    if aoi is None and name in aois:
        return Item(name, "aoi", name)
    found = [item for a in aois for item in _matches(load_ledger(storage, a), name)]
    if not found:
        where = f"AOI {aoi!r}" if aoi is not None else "the AOI ledgers of the storage"
        raise ItemNotFoundError(
            f"{name!r}: no scene (source id) or tile (key scene/tile, or tile@YYYY-MM-DD) of that name in "
            f"{where} ({', '.join(aois[:20]) or 'no AOI ledger'}{', ...' if len(aois) > 20 else ''}); "
            "`geocube-ingester status AOI --json` lists them"
        )
    if len(found) > 1:
        listed = ", ".join(f"{i.kind} {i.key} (AOI {i.aoi})" for i in found[:20])
        hint = "give its key (scene/tile)" if len({i.aoi for i in found}) == 1 else "give --aoi"
        raise AmbiguousItemError(f"{name!r} fits {len(found)} items: {listed}; {hint}")
    return found[0]


def planned_tiles(storage: Storage, ledger: Ledger) -> dict[str, Tile]:
    """Every tile of the AOI with its *planned* links, as the latest run that planned it gave them (the
    ledger's entries); the snapshot's tile for one no entry holds (a ledger of an earlier version)."""
    planned = dict(ledger.tiles)
    names = sorted(k for k in storage.list_keys(entries_prefix(ledger.aoi)) if k.endswith(".json"))
    with tempfile.TemporaryDirectory(prefix="retry-") as tmp:
        local = Path(tmp) / "entry.json"
        for key in names:
            try:
                storage.download(key, local)
            except StorageNotFoundError:
                continue  # removed meanwhile (delete AOI)
            try:
                entry = LedgerEntry.model_validate_json(local.read_text())
            except ValueError:  # pydantic's ValidationError is a ValueError
                raise PermanentError(
                    f"{storage.uri_of(key)}: an entry of the AOI's ledger is unreadable; restore it from a "
                    "backup"
                ) from None
            planned.update({t.key: t for t in entry.tiles if t.key in planned})
    return planned


def _dependants(tiles: Iterable[Tile]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for tile in tiles:
        for link in {tile.previous, tile.reference} - {None}:
            out.setdefault(link.key, []).append(tile.key)  # type: ignore[union-attr]
    return out


@dataclass
class Selection:
    """What a retry runs: the tiles (with the links they go with) and their scenes."""

    item: Item
    force: bool
    scenes: list[Scene]
    tiles: list[Tile]
    states: dict[str, ItemState] = field(default_factory=dict)  # tile key -> its state before
    left_done: list[str] = field(default_factory=list)  # done dependants left alone (no --force)

    def describe(self, *, max_lines: int = 50) -> str:
        what = f"{self.item.kind} {self.item.key}" if self.item.kind != "aoi" else "every tile"
        lines = [
            f"retry of {what} (AOI {self.item.aoi}){' --force' if self.force else ''}: "
            f"{len(self.tiles)} tile(s) of {len(self.scenes)} scene(s)"
        ]
        for t in self.tiles[:max_lines]:
            state = self.states.get(t.key, ItemState.NEW).value
            prev = t.previous.key if t.previous else "-"
            ref = t.reference.key if t.reference else "-"
            lines.append(f"  {tile_label(t)}  ({t.key}, {state})  previous {prev}  reference {ref}")
        if len(self.tiles) > max_lines:
            lines.append(f"  ... and {len(self.tiles) - max_lines} more")
        if self.left_done:
            lines.append(
                f"left alone: {len(self.left_done)} DONE dependant(s) ({', '.join(self.left_done[:5])}"
                f"{', ...' if len(self.left_done) > 5 else ''}); --force runs them again"
            )
        return "\n".join(lines)

    def document(self) -> dict[str, Any]:
        """The ``tiles`` interchange document of the retry run."""
        return write_interchange(self.scenes, self.tiles, aoi=self.item.aoi)


def select_retry(
    item: Item,
    *,
    ledger: Ledger,
    planned: Mapping[str, Tile],
    states: Mapping[str, ItemState],
    force: bool,
    reads_links: bool,
) -> Selection:
    """The tiles a retry of ``item`` runs (module docstring). ``states``: tile key -> its state over
    every attempt (``jobs.status``; a tile missing there: its ledger outcome). A tile the ledger says
    FAILED is FAILED: each run writes its outcomes there after its children, so a later FAILED than a
    run's DONE is a ``fail TILE``.

    Raises:
        NothingToRetryError: nothing to run (all done, no ``--force``), or a scene missing from the ledger.
    """

    def state(key: str) -> ItemState:
        if ledger.status.get(key) == FAILED:  # fail TILE's entry is later than the runs that say DONE
            return ItemState.FAILED
        if key in states:
            return states[key]
        return ItemState.DONE if ledger.status.get(key, DONE) == DONE else ItemState.FAILED

    if item.kind == "aoi":
        roots = list(planned)
    elif item.kind == "scene":
        roots = [k for k, t in planned.items() if t.scene_id == item.key]
    else:
        roots = [item.key]
    chosen = [k for k in roots if force or state(k) != ItemState.DONE]
    left_done: list[str] = []
    if reads_links:
        dependants = _dependants(planned.values())
        seen, queue = set(chosen), list(chosen)
        while queue:
            for child in dependants.get(queue.pop(), []):
                if child in seen:
                    continue
                seen.add(child)
                if force or state(child) != ItemState.DONE:
                    chosen.append(child)
                    queue.append(child)
                else:
                    left_done.append(child)
    if not chosen:
        raise NothingToRetryError(
            f"{item.kind} {item.key} (AOI {item.aoi}): every tile of it is DONE; --force runs it again"
        )
    status = {k: DONE if state(k) == ItemState.DONE else FAILED for k in planned} | dict.fromkeys(
        chosen, DONE
    )
    linked = {t.key: t for t in relink_by_status(list(planned.values()), status)}
    tiles = sorted((linked[k] for k in set(chosen)), key=lambda t: (t.date, t.scene_id, t.source_id))
    missing = sorted({t.scene_id for t in tiles} - set(ledger.scenes))
    if missing:
        raise NothingToRetryError(
            f"AOI {item.aoi}: scene(s) {', '.join(missing)} are not in the AOI's ledger (their run did not "
            "end): retry the AOI (geocube-ingester retry AOI)"
        )
    scene_ids = {t.scene_id for t in tiles}
    scenes = sorted(
        (s for k, s in ledger.scenes.items() if k in scene_ids), key=lambda s: (s.date, s.source_id)
    )
    return Selection(item, force, scenes, tiles, {t.key: state(t.key) for t in tiles}, sorted(left_done))


@dataclass
class FailReport:
    """What ``fail TILE`` changed."""

    item: Item
    before: str
    relinked: list[tuple[Tile, Tile]] = field(default_factory=list)  # (before, after) of each dependant
    records: dict[str, dict[str, str]] = field(default_factory=dict)  # record id -> its new link tags
    processed_against: list[str] = field(default_factory=list)  # DONE dependants that read the tile
    surely_against: bool = True  # False: the tile graph is not known here, they may not have read it

    def describe(self) -> str:
        key = self.item.key
        if self.before == FAILED:
            return f"tile {key} (AOI {self.item.aoi}) is FAILED already: nothing changed"
        lines = [f"tile {key} (AOI {self.item.aoi}): {self.before} -> FAILED (a new ledger entry)"]
        for old, new in self.relinked:
            for what in ("previous", "reference"):
                was, now = getattr(old, what), getattr(new, what)
                if was != now:
                    lines.append(
                        f"  {new.key}: {what} {was.key if was else '-'} -> {now.key if now else '-'}"
                    )
        if not self.relinked:
            lines.append("  no dependant to re-link")
        for record_id, tags in sorted(self.records.items()):
            shown = ", ".join(f"{k}={tags[k]}" for k in LINK_TAGS)
            lines.append(f"  record {record_id}: {shown}")
        if self.processed_against:
            lines.append(
                f"  {'already' if self.surely_against else 'maybe'} processed against it: "
                f"{', '.join(self.processed_against)}; "
                "`geocube-ingester retry TILE --force` runs them again"
            )
        lines.append("  its own layers stay stored and indexed (as with the original's FailTile)")
        return "\n".join(lines)


def fail_tile(
    storage: Storage,
    item: Item,
    *,
    open_store: Callable[[], GeocubeClient],
    reads_links: bool | None = None,
) -> FailReport:
    """Mark the tile FAILED in its AOI's ledger; its dependants are re-linked around it and their
    scenes' records get the link tags of their new links. ``open_store`` opens the Geocube (only when a
    record changes). ``reads_links``: whether the tile graph read T1/T2 (then the DONE dependants were
    processed against it; None: unknown, they may have been)."""
    if item.kind != "tile":
        raise PermanentError(f"{item.kind} {item.key}: only a tile can be failed; name one of its tiles")
    before = load_ledger(storage, item.aoi)
    if item.key not in before.tiles:
        raise ItemNotFoundError(f"tile {item.key}: not in the ledger of AOI {item.aoi}")
    report = FailReport(item, before.status.get(item.key, DONE))
    if report.before == FAILED:
        return report
    add_to_ledger(storage, item.aoi, [], [], {item.key: FAILED})
    after = load_ledger(storage, item.aoi)
    for key, old in before.tiles.items():
        new = after.tiles.get(key)
        if new is not None and (old.previous, old.reference) != (new.previous, new.reference):
            report.relinked.append((old, new))
            if reads_links is not False and before.status.get(key, DONE) == DONE:
                report.processed_against.append(key)
    report.surely_against = reads_links is True
    scene_ids = {new.scene_id for _, new in report.relinked}
    scenes = [s for k, s in after.scenes.items() if k in scene_ids]
    updates = link_tag_updates(scenes, before.tiles.values(), after.tiles.values())
    if updates:
        with open_store() as geocube:
            record_ids = find_scene_records(geocube, [s for s in scenes if s.source_id in updates])
            for record_id in update_link_tags(geocube, record_ids, updates):
                scene_id = next(s for s, r in record_ids.items() if r == record_id)
                report.records[record_id] = updates[scene_id]
    log.info(
        "%s: tile %s failed by hand, %d dependant(s) re-linked", item.aoi, item.key, len(report.relinked)
    )
    return report
