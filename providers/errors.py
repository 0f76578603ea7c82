"""Errors of the download providers.

IngestError (common.errors)
├── TemporaryError
│   └── DownloadTemporaryError     timeout, 408/429/5xx, connection reset: retry later
├── ProductUnavailableError
│   └── ProductNotFoundError       this provider has not got it: try the next one
│       └── BurstDeliveryError     a burst provider delivered no one-burst SAFE: the next source
└── PermanentError
    ├── DownloadError              401/403, corrupt archive: stop
    └── AllProvidersFailedError    every provider failed permanently (each one's error listed)
"""

from __future__ import annotations

from common.errors import PermanentError, ProductUnavailableError, TemporaryError


class DownloadTemporaryError(TemporaryError):
    """A download failed in a way that may pass."""


class ProductNotFoundError(ProductUnavailableError):
    """The provider has not got this product."""


class BurstDeliveryError(ProductNotFoundError):
    """A burst provider delivered something that is not a one-burst SAFE: the next source is tried."""


class DownloadError(PermanentError):
    """A download failed for good (rejected credentials, corrupt archive)."""


class AllProvidersFailedError(PermanentError):
    """No provider could deliver the product."""
