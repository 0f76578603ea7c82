"""Errors of the storage package.

IngestError (common.errors)
├── TemporaryError
│   └── StorageTemporaryError        the object store answered 5xx or timed out, after its own retries
└── PermanentError
    └── StorageError                 bad storage URI or key, unsupported scheme, unsafe archive, I/O failure
        └── StorageNotFoundError     the key is not in the storage ("File not found: <uri>")
"""

from __future__ import annotations

from common.errors import PermanentError, TemporaryError


class StorageTemporaryError(TemporaryError):
    """The storage failed in a way that may pass (an object store's 5xx or timeout, after its retries)."""


class StorageError(PermanentError):
    """The storage cannot do what was asked (bad URI or key, unsupported scheme, unsafe zip, I/O)."""


class StorageNotFoundError(StorageError):
    """The key does not exist in the storage.

    Permanent, as in the original (``File not found: <uri>`` fails the import and is not retried).
    """

    def __init__(self, uri: str) -> None:
        super().__init__(f"File not found: {uri}")
        self.uri = uri
