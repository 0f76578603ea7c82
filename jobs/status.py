"""The status of an AOI across all its attempts: each scene's and tile's latest state, the AOI's state.

Facts come from two sources, merged here without Prefect (flows/status.py reads the runs):

- the AOI's ledger (``catalogue.ledger``): every tile any run planned, with its links and the outcome
  of the last run that finished it (DONE, FAILED or SKIPPED); it keeps no scene outcome, so without
  runs a scene's state is inferred from its tiles';
- the Prefect runs: every ``ingest <AOI>`` parent (its outcome rows) and every child run named after the
  AOI (``download <AOI>/<scene>``, ``process <AOI>/<tile>@<date>``), whichever attempt made it.

The latest fact about an item wins, by the time it became true: a run's by its state's time, the
ledger's by when the entry that set it was written (so ``fail TILE`` after a run wins over the run's
DONE; an earlier version's entries, undated, are older than any run's). States use the
original's names (original-ingester.md §3.1); the AOI's state is the original's precedence (§3.2):
RETRY > PENDING > NEW > DONE > FAILED over its scenes, then, when that gives DONE, over the tiles of
its DONE scenes; nothing at all is NEW.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from catalogue.ledger import Ledger
from catalogue.models import Tile


class ItemState(StrEnum):
    NEW = "NEW"
    PENDING = "PENDING"
    RETRY = "RETRY"
    DONE = "DONE"
    FAILED = "FAILED"


PRECEDENCE = (ItemState.RETRY, ItemState.PENDING, ItemState.NEW, ItemState.DONE, ItemState.FAILED)
FINAL = frozenset({ItemState.DONE, ItemState.FAILED})
OLDEST = datetime.min.replace(tzinfo=UTC)

# An outcome row's (or the ledger's) status as a state: SKIPPED means "not run".
_OUTCOME_STATES = {"DONE": ItemState.DONE, "FAILED": ItemState.FAILED, "SKIPPED": ItemState.NEW}


def aoi_state(
    scene_states: Iterable[ItemState], tile_states_of_done_scenes: Iterable[ItemState]
) -> ItemState:
    """The original's AOI status (§3.2): the first of RETRY, PENDING, NEW, DONE, FAILED among the
    scenes; when that is DONE, the same among the tiles of the DONE scenes; NEW when there is nothing."""
    scenes = set(scene_states)
    winner = next((s for s in PRECEDENCE if s in scenes), ItemState.NEW)
    if winner != ItemState.DONE:
        return winner
    tiles = set(tile_states_of_done_scenes)
    return next((s for s in PRECEDENCE if s in tiles), ItemState.DONE)


def state_of_run(state_type: str, state_name: str) -> ItemState:
    """A Prefect run state as an item state: AwaitingRetry and Retrying are RETRY; scheduled, pending,
    running and paused runs are PENDING; completed DONE; failed, crashed and cancelled FAILED."""
    if state_name in ("AwaitingRetry", "Retrying"):
        return ItemState.RETRY
    kind = state_type.upper()
    if kind == "COMPLETED":
        return ItemState.DONE
    if kind in ("FAILED", "CRASHED", "CANCELLED", "CANCELLING"):
        return ItemState.FAILED
    return ItemState.PENDING


def state_of_outcome(status: str) -> ItemState:
    return _OUTCOME_STATES.get(status.upper(), ItemState.NEW)


# Boilerplate that wraps a cause, outermost first: the label of the item, a child run's end, Prefect's
# own wording. Stripped repeatedly, so that a cause nested three deep comes first.
_BOILERPLATE = (
    re.compile(r"^[^\s:]+/[^\s:]+(@\d{4}-\d{2}-\d{2})?: "),  # "AOI/S2A_...@2024-01-15: "
    re.compile(r"^child flow run .+? ended (FAILED|CRASHED|CANCELLED)\b\s*", re.IGNORECASE),
    re.compile(r"^(Flow|Task) run encountered an exception[.:]?\s*"),
    re.compile(r"^[A-Z]\w*Error: "),
)
# A graph step's failure (graphs/runner.py): "<tile> step 0 (python x.py) failed (exit code 1): <last line>"
_STEP = re.compile(
    r"^(\S+ )?(?P<step>step \d+ \([^)]*\)) failed \(exit code (?P<code>-?\d+)\): (?P<cause>.+)$"
)


def cause_first(message: str, *, limit: int = 300) -> str:
    """The cause of a failure without the wrapping a child run and Prefect add around it."""
    text = " ".join(message.split())
    changed = True
    while changed:
        changed = False
        for pattern in _BOILERPLATE:
            stripped = pattern.sub("", text, count=1)
            if stripped != text and stripped:
                text, changed = stripped, True
    suffix = ""
    step = _STEP.match(text)
    if step:
        text, suffix = step["cause"], f" ({step['step']}, exit code {step['code']})"
    room = max(limit - len(suffix), 1)
    return (text if len(text) <= room else text[: room - 1] + "…") + suffix


@dataclass(frozen=True)
class Fact:
    """One thing a source says about one item: ``kind`` scene or tile, ``key`` the scene's source_id
    or the tile's key (``scene/tile``)."""

    kind: str
    key: str
    state: ItemState
    at: datetime = OLDEST
    message: str = ""
    run: str = ""  # the run that says it, "" for the ledger


@dataclass
class Attempt:
    """One parent run of the AOI."""

    name: str
    state: str
    started: datetime | None
    message: str = ""


@dataclass
class ItemStatus:
    kind: str
    key: str
    label: str
    date: str
    state: ItemState = ItemState.NEW
    message: str = ""
    runs: set[str] = field(default_factory=set)
    at: datetime = OLDEST

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "label": self.label, "date": self.date,
                "state": self.state.value, "message": self.message, "runs": len(self.runs)}  # fmt: skip


@dataclass
class AoiStatus:
    aoi: str
    state: ItemState
    scenes: dict[str, ItemStatus]
    tiles: dict[str, ItemStatus]
    links: dict[str, Tile]  # tile key -> the tile with its previous/reference links
    attempts: list[Attempt] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # a tile waits for its previous and reference only when its tile graph reads them (T1/T2)
    links_are_waits: bool = True

    def counts(self, kind: str) -> dict[str, int]:
        items = self.scenes if kind == "scene" else self.tiles
        return {s.value: sum(1 for i in items.values() if i.state == s) for s in ItemState}

    def failed(self) -> list[ItemStatus]:
        items = [*self.scenes.values(), *self.tiles.values()]
        return [i for i in items if i.state == ItemState.FAILED]

    def waits(self) -> list[tuple[ItemStatus, list[ItemStatus]]]:
        """Each unfinished tile with the unfinished items it waits for: its scene's download, its
        previous and reference tiles (a tile runs once they are finished, done or failed)."""
        out = []
        for key, item in self.tiles.items():
            if item.state in FINAL:
                continue
            tile = self.links.get(key)
            upstream: list[ItemStatus] = []
            scene = self.scenes.get(tile.scene_id) if tile else None
            if scene is not None and scene.state not in FINAL:
                upstream.append(scene)
            for link in (tile.previous, tile.reference) if tile and self.links_are_waits else ():
                other = self.tiles.get(link.key) if link else None
                if other is not None and other.state not in FINAL and other not in upstream:
                    upstream.append(other)
            if upstream:
                out.append((item, upstream))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "aoi": self.aoi,
            "state": self.state.value,
            "scenes": self.counts("scene"),
            "tiles": self.counts("tile"),
            "attempts": [
                {
                    "name": a.name,
                    "state": a.state,
                    "message": a.message,
                    "started": a.started.isoformat() if a.started else None,
                }
                for a in self.attempts
            ],
            "failed": [i.to_json() for i in self.failed()],
            "waits": [{"item": i.key, "on": [u.key for u in up]} for i, up in self.waits()],
            "items": [i.to_json() for i in (*self.scenes.values(), *self.tiles.values())],
            "notes": self.notes,
        }

    def report(self, *, max_lines: int = 50) -> str:
        """The text ``geocube-ingester status`` prints."""
        lines = [f"AOI {self.aoi}: {self.state.value}"]
        for kind in ("scene", "tile"):
            counts = self.counts(kind)
            total = sum(counts.values())
            parts = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n)
            lines.append(f"  {kind}s: {total}" + (f" ({parts})" if parts else ""))
        if self.attempts:
            lines.append(f"  attempts: {len(self.attempts)}")
            for a in self.attempts:
                when = f"{a.started:%Y-%m-%d %H:%M}" if a.started else "not started"
                message = f": {cause_first(a.message, limit=160)}" if a.message else ""
                lines.append(f"    {a.name} ({when}) {a.state}{message}")
        failed = self.failed()
        if failed:
            lines.append(f"failed ({len(failed)}):")
            lines += [f"  {i.kind} {i.label}: {i.message or 'no message'}" for i in failed[:max_lines]]
            if len(failed) > max_lines:
                lines.append(f"  ... and {len(failed) - max_lines} more (--json lists them all)")
        waits = self.waits()
        if waits:
            lines.append(f"waiting ({len(waits)}):")
            for item, upstream in waits[:max_lines]:
                on = ", ".join(f"{u.kind} {u.label} ({u.state.value})" for u in upstream)
                lines.append(f"  {item.label} waits for {on}")
            if len(waits) > max_lines:
                lines.append(f"  ... and {len(waits) - max_lines} more")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def tile_label(tile: Tile) -> str:
    return f"{tile.source_id}@{tile.date:%Y-%m-%d}"


def ledger_facts(ledger: Ledger) -> list[Fact]:
    """The ledger's tile outcomes, dated when their entries were written (undated: older than any run's)."""
    return [
        Fact("tile", key, state_of_outcome(status), ledger.status_at.get(key, OLDEST))
        for key, status in ledger.status.items()
        if key in ledger.tiles
    ]


def build_status(
    aoi: str,
    *,
    ledger: Ledger,
    facts: Iterable[Fact] = (),
    tiles: Mapping[str, Tile] | None = None,
    attempts: Iterable[Attempt] = (),
    notes: Iterable[str] = (),
    links_are_waits: bool = True,
) -> AoiStatus:
    """Merge the ledger and the runs' facts into the AOI's status.

    Args:
        ledger: the AOI's ledger (its tiles and their last outcomes).
        facts: what runs said about items; the latest per item wins, the ledger's included (dated
            by their entries, undated ones the oldest).
        tiles: tiles known from the runs (their jobs' parameters), besides the ledger's.
        attempts: the parent runs, oldest first.
        notes: lines to print under the report (e.g. "no Prefect API").
        links_are_waits: whether tiles wait for their previous and reference (their graph reads them).
    """
    known_tiles = dict(ledger.tiles) | dict(tiles or {})
    scenes = {
        sid: ItemStatus("scene", sid, sid, f"{scene.date:%Y-%m-%d}") for sid, scene in ledger.scenes.items()
    }
    items = {
        key: ItemStatus("tile", key, tile_label(t), f"{t.date:%Y-%m-%d}") for key, t in known_tiles.items()
    }
    for tile in known_tiles.values():
        scenes.setdefault(
            tile.scene_id, ItemStatus("scene", tile.scene_id, tile.scene_id, f"{tile.date:%Y-%m-%d}")
        )
    seen_scene = set()
    for fact in sorted([*ledger_facts(ledger), *facts], key=lambda f: f.at):
        target = scenes if fact.kind == "scene" else items
        item = target.get(fact.key)
        if item is None:
            label = fact.key.split("/", 1)[-1]
            item = target[fact.key] = ItemStatus(fact.kind, fact.key, label, "")
        if fact.run:
            item.runs.add(fact.run)
        if fact.at >= item.at:
            item.state, item.at = fact.state, fact.at
            item.message = cause_first(fact.message) if fact.state == ItemState.FAILED else ""
        if fact.kind == "scene":
            seen_scene.add(fact.key)
    inferred = [s for s in scenes.values() if s.key not in seen_scene]
    states_by_scene: dict[str, set[ItemState]] = {}
    for key, item in items.items():
        if key in known_tiles:
            states_by_scene.setdefault(known_tiles[key].scene_id, set()).add(item.state)
    for scene in inferred:  # no run says anything about it: its tiles say whether it came
        states = states_by_scene.get(scene.key, set())
        if states & {ItemState.DONE, ItemState.PENDING, ItemState.RETRY}:  # a tile runs once its scene came
            scene.state = ItemState.DONE
        elif states and states <= {ItemState.FAILED}:
            scene.state = ItemState.FAILED
            scene.message = "all its tiles failed (the ledger keeps no scene outcome)"
    all_notes = list(notes)
    if inferred and scenes:
        all_notes.append(f"{len(inferred)} scene state(s) inferred from their tiles' outcomes in the ledger")
    done_scenes = {k for k, s in scenes.items() if s.state == ItemState.DONE}
    tile_states = [
        i.state for k, i in items.items() if k in known_tiles and known_tiles[k].scene_id in done_scenes
    ]
    state = aoi_state((s.state for s in scenes.values()), tile_states)
    ordered = dict(sorted(items.items(), key=lambda kv: (kv[1].date, kv[1].label)))
    scenes = dict(sorted(scenes.items(), key=lambda kv: (kv[1].date, kv[0])))
    return AoiStatus(aoi, state, scenes, ordered, known_tiles, list(attempts), all_notes, links_are_waits)
