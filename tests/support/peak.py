"""Counting how many threads are inside a block at once, for the tests of concurrency limits."""

from __future__ import annotations

import threading
import time
from types import TracebackType


class Peak:
    """``with peak: ...`` in each thread; ``peak.max`` is the most that were inside at once."""

    def __init__(self, hold_s: float = 0.05) -> None:
        self.hold_s = hold_s
        self.max = 0
        self._inside = 0
        self._lock = threading.Lock()

    def __enter__(self) -> Peak:
        with self._lock:
            self._inside += 1
            self.max = max(self.max, self._inside)
        time.sleep(self.hold_s)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._lock:
            self._inside -= 1
