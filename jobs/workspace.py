"""A job's folders under the configured workdir: a scratch folder removed whatever the outcome, and a
scene's download folder kept after a temporary failure, so that the retry resumes its ``.part``."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from common.errors import is_temporary


@contextlib.contextmanager
def scratch_dir(root: Path | None, prefix: str) -> Iterator[Path]:
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(dir=root, prefix=f"{_safe(prefix)[:80]}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120]


@contextlib.contextmanager
def download_dir(root: Path | None, scene_id: str) -> Iterator[Path]:
    """``<workdir>/downloads/<scene>``: where a scene's download lands. It is kept when the job fails
    with a temporary error (the retry resumes the ``.part`` there) and removed otherwise, with its lock
    and, when empty, ``downloads/``. A second job of the same scene running meanwhile on this machine
    gets a scratch folder of its own instead."""
    base = Path(root if root is not None else tempfile.gettempdir()) / "downloads"
    folder = base / _safe(scene_id)
    lock_path = base / f".{_safe(scene_id)}.lock"
    lock = _lock(lock_path)
    if lock is None:  # another job of this scene holds it
        with scratch_dir(root, f"download-{scene_id}") as scratch:
            yield scratch
        return
    keep = False
    try:
        folder.mkdir(exist_ok=True)
        yield folder
    except BaseException as exc:
        keep = is_temporary(exc)
        raise
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
            lock_path.unlink(missing_ok=True)  # before the unlock: a waiting job then takes a new lock
        lock.close()
        with contextlib.suppress(OSError):
            base.rmdir()  # only when empty


def _lock(path: Path) -> IO[str] | None:
    """An exclusive lock on ``path`` (created), or None when another process holds it."""
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        try:
            if path.stat().st_ino == os.fstat(handle.fileno()).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()  # the holder removed it while we waited: lock the new one
