"""Errors of the download providers, and the one place an HTTP status becomes one of them.

IngestError (common.errors)
├── TemporaryError
│   └── DownloadTemporaryError     timeout, 408/429/5xx, connection reset: retry later
│       └── ProductNotReadyError   202: accepted, being prepared (restore, extraction): ask again
├── ProductUnavailableError
│   ├── ProductNotFoundError       this provider has not got it: try the next one
│   │   └── BurstDeliveryError     a burst provider delivered no one-burst SAFE: the next source
│   └── ChecksumMismatchError      (providers.fetch) fetched twice, still not the catalogue's bytes
└── PermanentError
    ├── DownloadError              corrupt archive, an answer that will not change: stop
    │   └── DownloadAuthError      401/403 with fresh credentials too: fix the account settings
    └── AllProvidersFailedError    every provider failed permanently (each one's error listed)
"""

from __future__ import annotations

import httpx

from common.errors import IngestError, PermanentError, ProductUnavailableError, TemporaryError
from common.http import HttpOutcome, classify_status, parse_retry_after
from common.redaction import redact


class DownloadTemporaryError(TemporaryError):
    """A download failed in a way that may pass."""


class ProductNotReadyError(DownloadTemporaryError):
    """The server accepted the request but has not got the file ready yet (202: an archive restoring it,
    a burst being extracted): ask again after ``retry_after_s``."""


class ProductNotFoundError(ProductUnavailableError):
    """The provider has not got this product."""


class BurstDeliveryError(ProductNotFoundError):
    """A burst provider delivered something that is not a one-burst SAFE: the next source is tried."""


class DownloadError(PermanentError):
    """A download failed for good (rejected credentials, corrupt archive)."""


class DownloadAuthError(DownloadError):
    """The provider refused the credentials, also fresh ones: fix the account settings."""


class AllProvidersFailedError(PermanentError):
    """No provider could deliver the product."""


def raise_for_download_status(
    response: httpx.Response, shown: str, *, refused: str = "", catalogue: bool = False
) -> None:
    """Return on a 2xx; else raise :func:`download_status_error`'s error (same arguments)."""
    error = download_status_error(response, shown, refused=refused, catalogue=catalogue)
    if error is not None:
        raise error


def download_status_error(
    response: httpx.Response, shown: str, *, refused: str = "", catalogue: bool = False
) -> IngestError | None:
    """The download error an answer's status means (``common.http``'s table); None for a 2xx.

    Args:
        response: the answer; its status and ``Retry-After`` are read, and the first 200 characters
            of a body already read go into a permanent error (a streamed body is not read here).
        shown: the message, secrets stripped: ``"<what>: <redacted url> answered <status>"``.
        refused: the message of a 401/403/407, naming the settings to fix (default: ``shown``, "check
            the account settings").
        catalogue: the URL is a catalogue query, not the product: a 404/410 means the URL is wrong,
            a :class:`DownloadError`, not a missing product.

    Returns:
        DownloadTemporaryError: 408/425/429/5xx (``retry_after_s`` from ``Retry-After``).
        ProductNotFoundError: 404/410 of a product (the next provider is tried).
        DownloadAuthError: 401/403/407.
        DownloadError: any other status.
    """
    outcome = classify_status(response.status_code)
    if outcome is HttpOutcome.OK:
        return None
    if outcome is HttpOutcome.TEMPORARY:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        return DownloadTemporaryError(shown, retry_after_s=wait)
    if outcome is HttpOutcome.UNAVAILABLE and not catalogue:
        return ProductNotFoundError(shown)
    if outcome is HttpOutcome.AUTH:
        return DownloadAuthError(refused or f"{shown}: credentials refused; check the account settings")
    try:
        excerpt = redact(response.text[:200])  # an error page may echo the request's credentials
    except httpx.ResponseNotRead:  # a streamed body is the caller's to read or not
        excerpt = ""
    return DownloadError(f"{shown}: {excerpt!r}" if excerpt else shown)
