"""Errors of the storage package.

IngestError (common.errors)
└── PermanentError
    └── StorageError                 bad storage URI or key, unsupported scheme, unsafe archive, I/O failure
        └── StorageNotFoundError     the key is not in the storage ("File not found: <uri>")
"""

from __future__ import annotations

from common.errors import PermanentError


class StorageError(PermanentError):
    """The storage cannot do what was asked (bad URI or key, unsupported scheme, unsafe zip, I/O)."""


class StorageNotFoundError(StorageError):
    """The key does not exist in the storage.

    Permanent, as in the original (``File not found: <uri>`` fails the import and is not retried).
    """

    def __init__(self, uri: str) -> None:
        super().__init__(f"File not found: {uri}")
        self.uri = uri
