"""Batches: one child run for several scenes or tiles, below the per-child floor of a work pool.

A deployed child pays its worker's poll, a process spawn and the imports before any work (7-10 s on a
process worker, prefect-notes.md), against 0.2-0.4 s of work for a small tile. A batch is one child run
that runs several jobs one after another in its process; each job is still its own run (the
``process-tile`` or ``download-scene`` flow, called as a subflow), so the UI, ``status`` and ``retry``
see every tile as before.

Batches are cut in date order (``cut``), so a tile's previous and reference, older than it, are in an
earlier batch or earlier in its own one: the batches' dependencies have no cycle, and a batch runs its
tiles in date order, each re-linked around the failures before it (``catalogue.relink``) from the
outcomes of its upstream batches and of the tiles it has run itself.

No Prefect here: the flows (``flows.children``, ``flows.dispatch``) call these with the function that
runs one job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from catalogue.relink import Links, Outcome, effective_links
from jobs.models import JobResult, JobStatus, SceneJob, TileJob

log = logging.getLogger(__name__)

MAX_MESSAGE = 2000  # characters of a failure kept in a result, a state message or a dependant's error

_T = TypeVar("_T")


def short(message: str, limit: int = MAX_MESSAGE) -> str:
    """``message`` cut to ``limit`` characters, keeping its head (the cause) and saying so."""
    if len(message) <= limit:
        return message
    return f"{message[: limit - 40]}… ({len(message) - limit + 40} characters cut)"


def cut(items: Sequence[_T], size: int) -> list[list[_T]]:
    """``items`` (in date order) in consecutive batches of at most ``size``.

    Raises:
        ValueError: ``size`` below 1.
    """
    if size < 1:
        raise ValueError(f"batch size {size}: must be at least 1 (1 runs one child per item)")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class ItemOutcome(BaseModel):
    """What became of one scene or tile of a batch."""

    model_config = ConfigDict(extra="forbid")

    result: JobResult | None = Field(default=None, description="The job's result; None when it failed")
    error: str = Field(default="", description="Why it failed (short), when it did")
    links: Links | None = Field(default=None, description="A tile's effective links (T1/T2)")

    @property
    def done(self) -> bool:
        return self.result is not None and self.result.status == JobStatus.DONE

    def outcome(self) -> Outcome:
        return Outcome(done=self.done, links=self.links)


class BatchResult(BaseModel):
    """The outcome of every job of a batch, by scene id (downloads) or tile key (tiles)."""

    model_config = ConfigDict(extra="forbid")

    items: dict[str, ItemOutcome] = Field(default_factory=dict)

    def counts(self) -> str:
        done = sum(1 for o in self.items.values() if o.done)
        return f"{done} done, {len(self.items) - done} not"


class SceneBatch(BaseModel):
    """Scenes to download one after another in one child run."""

    model_config = ConfigDict(extra="forbid")

    aoi: str
    storage_uri: str
    jobs: list[SceneJob]

    @property
    def label(self) -> str:
        return _label(self.aoi, [j.scene.date for j in self.jobs], "scene")


class TileBatch(BaseModel):
    """Tiles to process one after another, in date order, in one child run."""

    model_config = ConfigDict(extra="forbid")

    aoi: str
    storage_uri: str
    jobs: list[TileJob]
    reads_links: bool = Field(description="Their graph reads T1/T2: re-link each around failed upstreams")
    upstream: dict[str, Outcome] = Field(
        default_factory=dict, description="Outcomes of the tiles of earlier batches, by tile key"
    )
    failed_scenes: dict[str, str] = Field(
        default_factory=dict, description="Scenes not downloaded, with why: their tiles are not run"
    )

    @property
    def label(self) -> str:
        return _label(self.aoi, [j.tile.date for j in self.jobs], "tile")


def _label(aoi: str, dates: Sequence[object], what: str) -> str:
    first, last = (f"{d:%Y-%m-%d}" for d in (dates[0], dates[-1])) if dates else ("-", "-")
    span = first if first == last else f"{first}..{last}"
    return f"{aoi}/{len(dates)} {what}{'s' if len(dates) != 1 else ''} {span}"


def relinked(job: TileJob, previous: Outcome | None, reference: Outcome | None) -> tuple[TileJob, Links, str]:
    """The job with the tile's effective links, those links, and a note saying what changed ("")."""
    planned = Links.of(job.tile)
    links = effective_links(job.tile, previous=previous, reference=reference)
    if links == planned:
        return job, links, ""
    changes = []
    for what, old, new in (
        ("previous", planned.previous, links.previous),
        ("reference", planned.reference, links.reference),
    ):
        if old != new:
            changes.append(
                f"{what} {new.scene_id if new else 'none'} ({old.scene_id if old else '-'} failed)"
            )
    note = f"re-linked: {', '.join(changes)}"
    log.info("%s: %s", job.label, note)
    tile = job.tile.model_copy(update={"previous": links.previous, "reference": links.reference})
    return job.model_copy(update={"tile": tile}), links, note


def with_note(result: JobResult, note: str) -> JobResult:
    """``result`` with ``note`` added to its message."""
    if not note:
        return result
    return result.model_copy(update={"message": f"{result.message}; {note}" if result.message else note})


def run_scene_batch(batch: SceneBatch, run_one: Callable[[SceneJob], JobResult]) -> BatchResult:
    """Download the batch's scenes one after another; a failure is that scene's outcome only."""
    out = BatchResult()
    for job in batch.jobs:
        try:
            out.items[job.scene.source_id] = ItemOutcome(result=run_one(job))
        except Exception as exc:  # noqa: BLE001 - any failure of one job is that job's outcome
            out.items[job.scene.source_id] = ItemOutcome(error=short(f"{job.label}: {exc}"))
    return out


def run_tile_batch(batch: TileBatch, run_one: Callable[[TileJob], JobResult]) -> BatchResult:
    """Process the batch's tiles in date order, each with its effective links; a failure is that tile's
    outcome only, and the tiles after it are re-linked around it."""
    known: dict[str, Outcome] = dict(batch.upstream)
    out = BatchResult()
    for planned in batch.jobs:
        key = planned.tile.key
        job, links, note = planned, Links.of(planned.tile), ""
        if batch.reads_links:
            previous, reference = planned.tile.previous, planned.tile.reference
            job, links, note = relinked(
                planned,
                known.get(previous.key) if previous is not None else None,
                known.get(reference.key) if reference is not None else None,
            )
        why = batch.failed_scenes.get(planned.scene.source_id)
        if why is not None:
            item = ItemOutcome(
                error=short(f"{job.label}: not processed because its scene was not downloaded ({why})"),
                links=links,
            )
        else:
            try:
                item = ItemOutcome(result=with_note(run_one(job), note), links=links)
            except Exception as exc:  # noqa: BLE001 - any failure of one tile is that tile's outcome
                item = ItemOutcome(error=short(str(exc)), links=links)
        out.items[key] = item
        known[key] = item.outcome()
    return out


def upstream_outcomes(results: Sequence[object], expected: Sequence[str]) -> dict[str, Outcome]:
    """The outcomes of the ``expected`` tile keys from the upstream batches' ``results`` (a
    :class:`BatchResult`, or whatever a batch that did not complete left: then its tiles are not DONE,
    with unknown links)."""
    found: dict[str, Outcome] = {}
    for result in results:
        if isinstance(result, BatchResult):
            found.update({key: item.outcome() for key, item in result.items.items()})
    return {key: found.get(key, Outcome(done=False)) for key in expected}


def failed_scenes(results: Sequence[object], expected: Mapping[str, str]) -> dict[str, str]:
    """The scenes (of ``expected``: scene id -> the label of the batch that downloads it) that were not
    downloaded, with why, from the download batches' ``results``."""
    found: dict[str, ItemOutcome] = {}
    errors: list[str] = []
    for result in results:
        if isinstance(result, BatchResult):
            found.update(result.items)
        elif isinstance(result, BaseException):
            errors.append(short(str(result), 300))
    out = {}
    for scene_id, label in expected.items():
        item = found.get(scene_id)
        if item is None:
            out[scene_id] = f"download batch {label} did not complete: {'; '.join(errors) or 'no result'}"
        elif not item.done:
            out[scene_id] = item.error or (item.result.message if item.result else "") or "not DONE"
    return out
