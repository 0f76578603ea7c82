"""The storage boundary: where tiles' layers are kept between jobs and what the Geocube opens.

One small Protocol, implemented by :class:`storage.local.LocalStorage` (a local or mounted folder) and
:class:`storage.object.ObjectStorage` (s3://, gs://, through obstore): nothing above this module knows
which one it has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Storage(Protocol):
    """A key/value store of files. Keys are relative POSIX paths (``aoi/scene/tiles/tile/file``)."""

    def uri_of(self, key: str) -> str:
        """What a Geocube server can open for ``key``: an absolute path for local storage (never file://)."""
        ...

    def upload(self, local_path: Path, key: str, *, move: bool = False) -> str:
        """Store ``local_path`` at ``key`` atomically (no reader ever sees a partial file); return its URI.

        ``move``: the caller gives the file up; a storage on the same disk may rename it instead of
        copying it (``local_path`` is then gone).
        """
        ...

    def local_path(self, key: str) -> Path | None:
        """The stored file itself when it is on a local (or mounted) file system, to read where it lies
        (never to modify); None when the storage is remote or ``key`` does not exist."""
        ...

    def download(self, key: str, local_path: Path) -> None:
        """Copy ``key`` to ``local_path`` atomically.

        Raises:
            StorageNotFoundError: ``key`` does not exist.
        """
        ...

    def delete(self, key: str) -> bool:
        """Delete ``key``; False if it was already missing (idempotent, so a retried cleanup passes)."""
        ...

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""
        ...

    def list_keys(self, prefix: str) -> list[str]:
        """The keys under ``prefix`` (a folder key such as ``aoi/``), sorted; [] when there are none."""
        ...
