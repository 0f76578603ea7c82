"""Storage on a local (or mounted network) file system, rooted at an absolute directory.

A file is written to ``.<name>.<host>.<pid>.<random>.part`` beside its target, under an exclusive
``flock``, then renamed. A write killed half-way (SIGKILL: no ``finally`` runs) leaves that file; the
next upload into the folder removes it: at once when its writer ran on this host and is dead (pid gone,
lock free), else once untouched for GEOCUBE_INGESTER_STALE_TEMP_S (a writer of another machine, whose
pid and lock this one cannot see, or a file of an older version). A live writer's is never removed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path, PurePosixPath

from common.processes import host_name, is_pid_alive
from storage.errors import StorageError, StorageNotFoundError

logger = logging.getLogger(__name__)


FULL_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def full_disk_hint(exc: BaseException, folder: Path, fix: str) -> str:
    """``""``, or when ``exc`` says the disk is full (no space, quota, file size limit): what is full
    and ``fix``, to end an error message with."""
    if not (isinstance(exc, OSError) and exc.errno in FULL_DISK_ERRNOS):
        return ""
    return f": no room left on the disk of {folder} ({os.strerror(exc.errno or errno.ENOSPC)}); {fix}"


def _give_usual_mode(path: Path) -> None:
    """``0666 & ~umask``: mkstemp creates 0600, and a Geocube running as another user must read what we
    index."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(0o666 & ~umask)


def _is_locked(path: Path) -> bool:
    """Whether a process holds the ``flock`` of ``path`` (a write in progress on this machine)."""
    try:
        with path.open("rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
    except OSError:
        return True  # gone or unreadable: not ours to remove
    return False


def remove_stale_parts(folder: Path, *, older_than_s: float) -> list[Path]:
    """Remove the temporary ``.<name>...part`` files of ``folder`` that no write will finish: those of
    a dead writer of this host, and those untouched for ``older_than_s`` that no process holds.
    Return what was removed."""
    removed: list[Path] = []
    try:
        parts = [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".part")]
    except OSError:
        return removed
    host, now = host_name(), time.time()
    for path in parts:
        fields = path.name[1 : -len(".part")].rsplit(".", 3)
        mine = len(fields) == 4 and fields[1] == host and fields[2].isdigit()
        try:
            age_s = now - path.lstat().st_mtime
        except OSError:
            continue
        if not path.is_file() or _is_locked(path):
            continue
        if (mine and not is_pid_alive(int(fields[2]))) or age_s >= older_than_s:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            logger.info("removed %s, left by a write that was killed (%.0f s old)", path, age_s)
            removed.append(path)
    return removed


def copy_atomically(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` through a temporary name in ``dst``'s folder, then ``os.replace``.

    A reader sees either the old file or the whole new one, never a partial copy; on failure the
    temporary file is removed. The temporary file names its host and pid, and is locked while written,
    so that a cleaner knows a killed write's file from a live one (:func:`remove_stale_parts`).
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{dst.name[:150]}.{host_name()}.{os.getpid()}."  # within NAME_MAX (255)
    fd, tmp_name = tempfile.mkstemp(dir=dst.parent, prefix=prefix, suffix=".part")
    tmp = Path(tmp_name)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a fresh file: nobody else holds it
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

    def __init__(self, root: Path | str, *, stale_temp_s: float | None = None) -> None:
        """``stale_temp_s``: the age past which a temporary file no process holds is removed
        (default GEOCUBE_INGESTER_STALE_TEMP_S)."""
        self._stale_temp_s = stale_temp_s
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
            dst.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_parts(dst.parent, older_than_s=self._stale_after_s())
            if not (move and _rename_into(local_path, dst)):
                copy_atomically(local_path, dst)
        except OSError as exc:
            hint = full_disk_hint(
                exc, dst.parent, "free space there, or point GEOCUBE_INGESTER_STORAGE_URI at a storage with "
                "room; nothing of this file was written (an older one is kept)",
            )  # fmt: skip
            raise StorageError(f"upload of {local_path} to {dst} failed: {exc}{hint}") from exc
        logger.debug("stored %s", dst)
        return str(dst)

    def _stale_after_s(self) -> float:
        if self._stale_temp_s is None:
            from common.settings import Settings

            self._stale_temp_s = Settings().stale_temp_s
        return self._stale_temp_s

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
            hint = full_disk_hint(
                exc, Path(local_path).parent, "free space there, or point GEOCUBE_INGESTER_WORKDIR (where "
                "jobs write) at a larger disk; nothing of this file was written",
            )  # fmt: skip
            raise StorageError(f"download of {src} to {local_path} failed: {exc}{hint}") from exc

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
