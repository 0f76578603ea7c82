"""Errors of the catalogue.

IngestError (common.errors)
├── TemporaryError
│   └── CatalogueTemporaryError      a catalogue answered 429/5xx or timed out
└── PermanentError
    ├── ValidationFailedError        a payload has problems (all listed)
    └── CatalogueError               a catalogue answered something we cannot use
        ├── ProductNameError         a product name cannot be parsed (catalogue.naming)
        └── BurstSafeError           a SAFE cannot be cut to a burst, or is not a one-burst SAFE
"""

from __future__ import annotations

from common.errors import PermanentError, TemporaryError


class CatalogueTemporaryError(TemporaryError):
    """A catalogue failed in a way that may pass (timeout, 429, 5xx)."""


class CatalogueError(PermanentError):
    """A catalogue rejected the query or answered something unusable."""


class ProductNameError(CatalogueError):
    """A product name belongs to no known naming convention, or is too short for it."""


class BurstSafeError(CatalogueError):
    """A SAFE cannot be cut to a burst, or a one-burst SAFE is not one (the message says why)."""
