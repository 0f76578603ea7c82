"""Storage on a local (or mounted network) file system, rooted at an absolute directory."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from storage.errors import StorageError, StorageNotFoundError

logger = logging.getLogger(__name__)


def _give_usual_mode(path: Path) -> None:
    """``0666 & ~umask``: mkstemp creates 0600, and a Geocube running as another user must read what we
    index."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(0o666 & ~umask)


def copy_atomically(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` through a temporary name in ``dst``'s folder, then ``os.replace``.

    A reader sees either the old file or the whole new one, never a partial copy; on failure the
    temporary file is removed.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as inp:
            shutil.copyfileobj(inp, out, length=8 * 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        _give_usual_mode(tmp)
        tmp.replace(dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _rename_into(src: Path, dst: Path) -> bool:
    """Move ``src`` to ``dst`` by a rename (atomic) when both are on one file system; False otherwise."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.stat().st_dev != dst.parent.stat().st_dev:
        return False
    with src.open("rb") as inp:  # a rename keeps the data, not its durability: flush it first
        os.fsync(inp.fileno())
    _give_usual_mode(src)
    try:
        src.replace(dst)
    except OSError as exc:
        if exc.errno == errno.EXDEV:  # e.g. two bind mounts of one device
            return False
        raise
    return True


class LocalStorage:
    """Files under ``root``; a key ``a/b/c.tif`` is the file ``<root>/a/b/c.tif``."""

    def __init__(self, root: Path | str) -> None:
        root = Path(root)
        if not root.is_absolute():
            raise StorageError(
                f"storage_uri {str(root)!r}: a local storage root must be an absolute path "
                f"(e.g. /data/geocube or file:///data/geocube)"
            )
        self.root = root

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not key or key.startswith("/") or "\\" in key or any(p in ("..", ".") for p in parts):
            raise StorageError(
                f"storage key {key!r}: must be a relative POSIX path without '.' or '..' parts"
            )
        return self.root.joinpath(*parts)

    def uri_of(self, key: str) -> str:
        return str(self._path(key))

    def upload(self, local_path: Path, key: str, *, move: bool = False) -> str:
        dst = self._path(key)
        local_path = Path(local_path)
        if not local_path.is_file():
            raise StorageError(f"upload to {dst}: local file {local_path} does not exist or is not a file")
        try:
            if not (move and _rename_into(local_path, dst)):
                copy_atomically(local_path, dst)
        except OSError as exc:
            raise StorageError(f"upload of {local_path} to {dst} failed: {exc}") from exc
        logger.debug("stored %s", dst)
        return str(dst)

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    def download(self, key: str, local_path: Path) -> None:
        src = self._path(key)
        if not src.is_file():
            raise StorageNotFoundError(str(src))
        try:
            copy_atomically(src, Path(local_path))
        except FileNotFoundError as exc:
            if not src.exists():  # deleted while we were copying
                raise StorageNotFoundError(str(src)) from exc
            raise StorageError(f"download of {src} to {local_path} failed: {exc}") from exc
        except OSError as exc:
            raise StorageError(f"download of {src} to {local_path} failed: {exc}") from exc

    def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"delete of {path} failed: {exc}") from exc
        logger.debug("deleted %s", path)
        return True

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_keys(self, prefix: str) -> list[str]:
        folder = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not folder.is_dir():
            return []
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in folder.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        )
