"""Where layers live between jobs: local directories, and object storage (``s3://``, ``gs://``).

``open_storage(uri)`` picks the backend from the URI scheme in ``_OPENERS``: ``LocalStorage`` for an
absolute path or ``file://``, ``ObjectStorage`` (``storage.object``, obstore) for ``s3://bucket/prefix``
and ``gs://bucket/prefix``, with the endpoint and requester-pays of the settings
(``GEOCUBE_INGESTER_S3_ENDPOINT_URL``, ``GEOCUBE_INGESTER_S3_REQUESTER_PAYS``,
``GEOCUBE_INGESTER_GS_ENDPOINT_URL``) and the cloud's usual credential variables.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from common.redaction import redact_url
from common.settings import load_settings
from storage.base import Storage
from storage.errors import StorageError, StorageNotFoundError
from storage.local import LocalStorage
from storage.object import ObjectStorage

__all__ = ["LocalStorage", "ObjectStorage", "Storage", "StorageError", "StorageNotFoundError", "open_storage"]


def _open_file_uri(uri: str) -> Storage:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise StorageError(
            f"storage_uri {redact_url(uri)!r}: file URIs must name a local absolute path, e.g. "
            f"file:///data/geocube (three slashes); a host is not supported"
        )
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise StorageError(f"storage_uri {redact_url(uri)!r}: use file:///absolute/path")
    return LocalStorage(Path(path))


def _open_object_uri(uri: str) -> Storage:
    settings = load_settings()
    if uri.lower().startswith("s3://"):
        endpoint, requester_pays = settings.s3_endpoint_url, settings.s3_requester_pays
    else:
        endpoint, requester_pays = settings.gs_endpoint_url, False
    return ObjectStorage(uri, endpoint_url=endpoint, requester_pays=requester_pays)


_OPENERS: dict[str, Callable[[str], Storage]] = {
    "file": _open_file_uri,
    "s3": _open_object_uri,
    "gs": _open_object_uri,
}


def open_storage(uri: str) -> Storage:
    """The storage named by ``uri``.

    Args:
        uri: an absolute local path (``/data/geocube``), ``file:///data/geocube``,
            ``s3://bucket/prefix`` or ``gs://bucket/prefix``.

    Raises:
        StorageError: relative path, unsupported scheme, an object URI with credentials in it.
    """
    uri = uri.strip()
    if not uri:
        raise StorageError("storage_uri is empty: set it to an absolute path, e.g. /data/geocube")
    if uri.startswith("/"):
        return LocalStorage(Path(uri))
    scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
    if scheme in _OPENERS:
        return _OPENERS[scheme](uri)
    shown = redact_url(uri)
    if scheme:
        raise StorageError(
            f"storage_uri {shown!r}: unknown scheme {scheme!r}; use an absolute path, file:///abs/path, "
            "s3://bucket/prefix or gs://bucket/prefix"
        )
    raise StorageError(
        f"storage_uri {shown!r} is a relative path; it would depend on each worker's working "
        f"directory. Use an absolute path, e.g. /data/geocube or file:///data/geocube"
    )
