"""The root of every error the ingester raises on purpose.

Three families decide what happens next (DEVELOPERS.md, STYLE.md §3)::

    IngestError
    ├── TemporaryError            retry later (timeout, 429, 5xx, gRPC UNAVAILABLE); carries retry_after_s
    ├── ProductUnavailableError   this provider has not got it (404, offline): try the next provider
    └── PermanentError            stop: bad payload, rejected credentials, corrupt product
        ├── FatalError            never retried, even for a payload with is_retriable (FATAL ERROR)
        └── ValidationFailedError every problem of a payload at once, each naming its field

Each package keeps its own ``errors.py`` whose classes inherit from these.
"""

from __future__ import annotations

from dataclasses import dataclass


class IngestError(Exception):
    """Root of the ingester's errors."""


class TemporaryError(IngestError):
    """A failure that may go away if the same thing is tried again later."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ProductUnavailableError(IngestError):
    """The product is not available from this source (not found, offline, not ordered)."""


class PermanentError(IngestError):
    """A failure that will not go away by trying again."""


class FatalError(PermanentError):
    """A failure that is not retried even when the payload says ``is_retriable`` (e.g. FATAL ERROR)."""


@dataclass(frozen=True)
class FieldProblem:
    """One problem of a user input: where it is, what is wrong and how to fix it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ValidationFailedError(PermanentError):
    """A user input has one or more problems; all of them are listed."""

    def __init__(self, what: str, problems: list[FieldProblem]) -> None:
        self.what = what
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{what} is invalid ({len(self.problems)} problem(s)):\n{lines}")


def is_temporary(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a TemporaryError."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, TemporaryError):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False
