"""Where layers live between jobs: local directories today, object storage later.

``open_storage(uri)`` picks the backend from the URI scheme. The table of schemes is the seam: an
fsspec-based ``ObjectStorage`` for ``s3://`` and ``gs://`` registers itself in ``_OPENERS`` and
nothing else changes (roadmap item 1, "Download, complete": storage on local, s3://, gs://).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from common.redaction import redact_url
from storage.base import Storage
from storage.errors import StorageError, StorageNotFoundError
from storage.local import LocalStorage

__all__ = ["LocalStorage", "Storage", "StorageError", "StorageNotFoundError", "open_storage"]

# Schemes the original accepts that we do not serve yet, and the roadmap item that brings them.
_PLANNED_SCHEMES: dict[str, str] = {
    "s3": "roadmap item 1 'Download, complete' (storage on local, s3://, gs://)",
    "gs": "roadmap item 1 'Download, complete' (storage on local, s3://, gs://)",
}


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


_OPENERS: dict[str, Callable[[str], Storage]] = {"file": _open_file_uri}


def open_storage(uri: str) -> Storage:
    """The storage named by ``uri``.

    Args:
        uri: an absolute local path (``/data/geocube``) or ``file:///data/geocube``.

    Raises:
        StorageError: relative path, unsupported or not-yet-supported scheme (s3://, gs://).
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
    if scheme in _PLANNED_SCHEMES:
        raise StorageError(
            f"storage_uri {shown!r}: {scheme}:// storage is not supported yet; it comes with "
            f"{_PLANNED_SCHEMES[scheme]}. Use an absolute local path (e.g. /data/geocube) meanwhile"
        )
    if scheme:
        raise StorageError(
            f"storage_uri {shown!r}: unknown scheme {scheme!r}; use an absolute path or file:///abs/path"
        )
    raise StorageError(
        f"storage_uri {shown!r} is a relative path; it would depend on each worker's working "
        f"directory. Use an absolute path, e.g. /data/geocube or file:///data/geocube"
    )
