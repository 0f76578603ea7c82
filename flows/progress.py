"""An ingestion's progress as its children end: counts, an ETA, one log line per child, the Prefect
progress artifact, a table artifact kept current, and a listener for the command line's bar.

The ETA is the mean time per finished child so far, times the children left: rough at first, and right
by the middle of a long run (children of one kind cost about the same).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

Listener = Callable[["ProgressSnapshot"], None]
_listeners: list[Listener] = []


def add_listener(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` with each snapshot (the CLI draws its bar with it); returns its remover."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


@dataclass(frozen=True)
class ProgressSnapshot:
    aoi: str
    scenes_done: int
    scenes_total: int
    tiles_done: int
    tiles_total: int
    failed: int
    elapsed_s: float
    eta_s: float | None

    @property
    def fraction(self) -> float:
        total = self.scenes_total + self.tiles_total
        return 1.0 if not total else (self.scenes_done + self.tiles_done) / total

    def describe(self) -> str:
        eta = "" if self.eta_s is None else f", ETA {format_duration(self.eta_s)}"
        failed = f", {self.failed} failed" if self.failed else ""
        return (
            f"scenes {self.scenes_done}/{self.scenes_total}, tiles {self.tiles_done}/{self.tiles_total}"
            f"{failed} ({format_duration(self.elapsed_s)}{eta})"
        )

    def bar(self, width: int = 30) -> str:
        filled = round(self.fraction * width)
        return f"[{'#' * filled}{'.' * (width - filled)}] {self.fraction:4.0%} {self.describe()}"


def format_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass
class Progress:
    """Counts of one ingestion's children; ``finished`` is called as each one ends."""

    aoi: str
    scenes_total: int
    tiles_total: int
    log: Any
    artifacts: bool = True
    table_every_s: float = 10.0
    scenes_done: int = 0
    tiles_done: int = 0
    failed: int = 0
    rows: list[dict[str, str]] = field(default_factory=list)
    _started: float = field(default_factory=lambda: time.monotonic())
    _artifact: UUID | None = None
    _table_at: float = 0.0

    def start(self) -> None:
        if self.artifacts:
            from prefect.artifacts import create_progress_artifact

            made = create_progress_artifact(
                0.0, key=_key(self.aoi, "progress"), description=f"{self.aoi}: children finished"
            )
            self._artifact = made if isinstance(made, UUID) else None  # sync call: the id itself
        self.log.info(
            "%s: %d download(s) and %d tile(s) to run", self.aoi, self.scenes_total, self.tiles_total
        )

    def snapshot(self) -> ProgressSnapshot:
        elapsed = time.monotonic() - self._started
        done = self.scenes_done + self.tiles_done
        left = self.scenes_total + self.tiles_total - done
        eta = elapsed / done * left if done and left else (0.0 if not left else None)
        return ProgressSnapshot(self.aoi, self.scenes_done, self.scenes_total, self.tiles_done,
                                self.tiles_total, self.failed, elapsed, eta)  # fmt: skip

    def finished(self, kind: str, label: str, status: str, message: str = "") -> ProgressSnapshot:
        """Count one child that ended with ``status`` (DONE, FAILED, SKIPPED)."""
        if kind == "scene":
            self.scenes_done += 1
        else:
            self.tiles_done += 1
        self.failed += status == "FAILED"
        snap = self.snapshot()
        cause = f": {message[:160]}" if message and status != "DONE" else ""
        self.log.info("%s ended %s%s; %s", label, status, cause, snap.describe())
        self.rows.append({"kind": kind, "item": label, "status": status, "message": message[:300]})
        if self.artifacts:
            self._publish(snap)
        for listener in list(_listeners):
            listener(snap)
        return snap

    def _publish(self, snap: ProgressSnapshot) -> None:
        from prefect.artifacts import create_table_artifact, update_progress_artifact

        if self._artifact is not None:
            update_progress_artifact(
                self._artifact, progress=100 * snap.fraction, description=snap.describe()
            )
        now = time.monotonic()
        if now - self._table_at >= self.table_every_s or snap.fraction >= 1:
            self._table_at = now
            create_table_artifact(
                key=_key(self.aoi, "children"), table=self.rows, description=snap.describe()
            )


def _key(aoi: str, what: str) -> str:
    return f"{what}-{''.join(c if c.isalnum() else '-' for c in aoi.lower())}"[:100]
