"""Errors of the processing graphs.

    IngestError (common.errors)
    ├── TemporaryError
    │   └── GraphTemporaryError   a step may pass later ("TEMPORARY ERROR:", "timed out", step timeout)
    └── PermanentError
        ├── GraphError            invalid graph, unknown name, missing config key, failed step,
        │                         engine not available, command not found
        └── GraphFatalError       "FATAL ERROR:" from a step, or any failure of a non-retriable tile (§5.8)

The log conventions of original-ingester.md §5.10 are the only contract between scripts and retries:
a script prints ``FATAL ERROR: ...`` or ``TEMPORARY ERROR: ...`` and exits non-zero.
"""

from __future__ import annotations

from common.errors import FatalError, FieldProblem, PermanentError, TemporaryError


class GraphError(PermanentError):
    """The graph cannot be loaded or run, or a step failed for a reason retrying will not fix.

    ``problems`` lists every problem of an invalid graph, each naming its JSON path.
    """

    def __init__(self, message: str, *, problems: list[FieldProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class GraphFatalError(FatalError):
    """A fatal failure: the product is unusable. ``on_fatal_failure`` out-files are selected."""


class GraphTemporaryError(TemporaryError):
    """A step failed in a way that may pass if the tile is processed again later."""
