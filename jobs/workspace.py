"""A job's folders under the configured workdir: a scratch folder removed whatever the outcome, and a
scene's download folder kept after a temporary failure or a kill, so that the retry resumes its ``.part``.

A kill (SIGKILL, the machine's OOM killer, a worker that dies) runs no ``finally``: what the killed job
had is found by the next job using the workdir. Each scratch folder ``<workdir>/<prefix>-<random>`` has
an owner file beside it, ``.<prefix>-<random>.owner``, holding ``<pid> <host>`` and an exclusive
``flock`` for the folder's whole life. The kernel drops the lock when its process dies, however it
dies, so a folder is stale only when its lock is free *and* its owner pid is dead on this host: a live
job's folder is never removed, whichever worker (on this machine) looks. Folders of another host (a
workdir on a shared disk) are left to that host, whose lock this one may not see.

A download folder ``downloads/<scene>`` is kept on a kill (its lock is then free) and taken over by the
next attempt of the scene, which resumes its ``.part``; one no job has touched for
``GEOCUBE_INGESTER_STALE_TEMP_S`` (a scene never retried) is removed by the next download.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from common.errors import PermanentError, is_temporary
from common.processes import host_name, is_pid_alive
from storage.local import full_disk_hint

log = logging.getLogger(__name__)

OWNER_SUFFIX = ".owner"
_BIRTH_S = 60.0  # an owner file with no owner written yet is being created (or its creator died then)
FULL_WORKDIR_FIX = (
    "free space there (a job's folders go when it ends: look for other files), or point "
    "GEOCUBE_INGESTER_WORKDIR at a larger disk"
)


class WorkdirFullError(PermanentError):
    """The work directory's disk is full (no space, quota or file size limit): the job wrote nothing
    to the storage, and its files in the work directory are removed."""


def _full(exc: BaseException, base: Path) -> WorkdirFullError | None:
    """A :class:`WorkdirFullError` naming ``base`` and the fix when ``exc`` is a full disk under it."""
    if not isinstance(exc, OSError) or not full_disk_hint(exc, base, ""):
        return None
    name = exc.filename if isinstance(exc.filename, str | os.PathLike) else None
    if name is not None and not Path(name).resolve().is_relative_to(base.resolve()):
        return None  # another disk's (its own error says so)
    what = f"could not write {name}" if name is not None else "could not write in the work directory"
    return WorkdirFullError(f"{what}{full_disk_hint(exc, base, FULL_WORKDIR_FIX)}")


@contextlib.contextmanager
def scratch_dir(root: Path | None, prefix: str) -> Iterator[Path]:
    """A new folder ``<root>/<prefix>-<random>`` removed on exit, whatever the outcome; the folders of
    killed jobs in ``root`` are removed first."""
    base = Path(root if root is not None else tempfile.gettempdir())
    try:
        base.mkdir(parents=True, exist_ok=True)
        remove_stale_scratch(base)
        lock, owner_path, path = _new_owned_folder(base, f"{_safe(prefix)[:80]}-")
    except OSError as exc:
        full = _full(exc, base)
        if full is None:
            raise
        raise full from exc
    try:
        yield path
    except OSError as exc:  # the job's own write in its folder
        full = _full(exc, base)
        if full is None:
            raise
        raise full from exc
    finally:
        shutil.rmtree(path, ignore_errors=True)
        owner_path.unlink(missing_ok=True)  # after the folder: a kill between leaves a lone owner file
        lock.close()


def _new_owned_folder(base: Path, prefix: str) -> tuple[IO[str], Path, Path]:
    """(the held lock, its owner file, the folder): the owner file is locked before the folder exists,
    so that no folder is ever without a live owner or a stale owner file."""
    while True:
        fd, name = tempfile.mkstemp(dir=base, prefix=f".{prefix}", suffix=OWNER_SUFFIX)
        owner_path = Path(name)
        handle = os.fdopen(fd, "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a cleaner took it in the instant before: it removes it
            handle.close()
            continue
        if not _is_same_file(owner_path, handle):
            handle.close()
            continue
        folder = base / owner_path.name[1 : -len(OWNER_SUFFIX)]
        try:
            handle.write(f"{os.getpid()} {host_name()}\n")
            handle.flush()
            folder.mkdir()
        except FileExistsError:  # left by a cleanup that failed half-way: another name
            owner_path.unlink(missing_ok=True)
            handle.close()
            continue
        except BaseException:  # e.g. a full disk: no lone owner file left behind
            owner_path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                handle.close()
            raise
        return handle, owner_path, folder


def remove_stale_scratch(root: Path) -> list[Path]:
    """Remove the scratch folders in ``root`` whose job is gone (lock free, owner pid dead on this host)
    and their owner files; return the folders removed."""
    removed: list[Path] = []
    try:
        owners = [p for p in root.iterdir() if p.name.startswith(".") and p.name.endswith(OWNER_SUFFIX)]
    except OSError:
        return removed
    for owner_path in owners:
        folder = root / owner_path.name[1 : -len(OWNER_SUFFIX)]
        if _remove_if_stale(owner_path, folder):
            removed.append(folder)
    return removed


def _remove_if_stale(owner_path: Path, folder: Path) -> bool:
    try:
        handle = owner_path.open("r")
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its job runs
        if not _is_same_file(owner_path, handle):
            return False  # removed meanwhile (by its job or another cleaner)
        pid, _, host = handle.read().strip().partition(" ")
        if not pid:
            with contextlib.suppress(OSError):
                if time.time() - os.fstat(handle.fileno()).st_mtime < _BIRTH_S:
                    return False  # its job is creating it
        elif host != host_name() or not pid.isdigit() or is_pid_alive(int(pid)):
            return False  # another machine's, or a pid reused by a process that holds no lock: later
        shutil.rmtree(folder, ignore_errors=True)
        owner_path.unlink(missing_ok=True)
    log.info("removed %s, the scratch folder of a job that was killed (pid %s)", folder, pid or "?")
    return True


def _is_same_file(path: Path, handle: IO[str]) -> bool:
    try:
        return path.stat().st_ino == os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120]


@contextlib.contextmanager
def download_dir(root: Path | None, scene_id: str, *, stale_after_s: float | None = None) -> Iterator[Path]:
    """``<workdir>/downloads/<scene>``: where a scene's download lands. It is kept when the job fails
    with a temporary error or is interrupted (SIGTERM, Ctrl-C; a SIGKILL runs nothing): the retry
    resumes the ``.part`` there. It is removed otherwise, with its lock and, when empty, ``downloads/``.
    A second job of the same scene running meanwhile on this machine gets a scratch folder of its own.
    Download folders no job holds and nothing touched for ``stale_after_s`` (default
    GEOCUBE_INGESTER_STALE_TEMP_S) are removed first."""
    base = Path(root if root is not None else tempfile.gettempdir()) / "downloads"
    folder = base / _safe(scene_id)
    lock_path = base / f".{_safe(scene_id)}.lock"
    lock = _lock(lock_path)
    if lock is None:  # another job of this scene holds it
        with scratch_dir(root, f"download-{scene_id}") as scratch:
            yield scratch
        return
    remove_stale_downloads(base, older_than_s=_stale_after_s(stale_after_s))
    keep = False
    try:
        try:
            folder.mkdir(exist_ok=True)
            yield folder
        except OSError as exc:  # a full disk: the .part goes (nothing half-written), the error says why
            full = _full(exc, Path(root if root is not None else tempfile.gettempdir()))
            if full is None:
                raise
            raise full from exc
    except BaseException as exc:
        # An interruption (KeyboardInterrupt, SystemExit, Prefect's TerminationSignal) is not the
        # download's failure: its .part is kept for the retry, as a SIGKILL keeps it.
        keep = is_temporary(exc) or not isinstance(exc, Exception)
        raise
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
            lock_path.unlink(missing_ok=True)  # before the unlock: a waiting job then takes a new lock
        lock.close()
        with contextlib.suppress(OSError):
            base.rmdir()  # only when empty


def _stale_after_s(given: float | None) -> float:
    if given is not None:
        return given
    from common.settings import Settings

    return Settings().stale_temp_s


def remove_stale_downloads(base: Path, *, older_than_s: float) -> list[Path]:
    """Remove the download folders in ``base`` (``downloads/``) that no job holds and in which nothing
    changed for ``older_than_s``: scenes never retried. Return the folders removed."""
    removed: list[Path] = []
    try:
        locks = [p for p in base.iterdir() if p.name.startswith(".") and p.name.endswith(".lock")]
    except OSError:
        return removed
    now = time.time()
    for lock_path in locks:
        folder = base / lock_path.name[1 : -len(".lock")]
        if now - _newest_mtime(folder, lock_path) < older_than_s:
            continue
        lock = _lock(lock_path, create=False)
        if lock is None:
            continue  # a job of that scene runs
        with lock:
            shutil.rmtree(folder, ignore_errors=True)
            lock_path.unlink(missing_ok=True)
        log.info("removed %s, a download no job took up for %.0f s", folder, older_than_s)
        removed.append(folder)
    return removed


def _newest_mtime(folder: Path, lock_path: Path) -> float:
    """The newest modification time in ``folder`` and of its lock; a folder another job removes while
    it is walked (its download ended) counts as just touched: not stale."""
    newest = 0.0
    try:
        paths = [lock_path, folder, *(folder.rglob("*") if folder.is_dir() else ())]
    except OSError:  # it vanished under the walk: another job of this machine just ended
        return time.time()
    for path in paths:
        with contextlib.suppress(OSError):
            newest = max(newest, path.stat().st_mtime)
    return newest


def _lock(path: Path, *, create: bool = True) -> IO[str] | None:
    """An exclusive lock on ``path`` (created unless ``create`` is False), or None when another
    process holds it (or, without ``create``, when it is gone)."""
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            handle = path.open("a" if create else "r")
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        if _is_same_file(path, handle):
            return handle
        handle.close()  # the holder removed it while we waited: lock the new one
        if not create:
            return None
