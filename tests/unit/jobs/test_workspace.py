"""jobs.workspace: scratch folders of killed jobs are found stale (lock free, owner pid dead on this
host) and removed by the next job; a live one never is; download folders survive interruptions and are
taken up again, and abandoned ones go once past the age bound."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from common.errors import TemporaryError
from common.processes import host_name, is_pid_alive
from jobs.workspace import (
    OWNER_SUFFIX,
    download_dir,
    remove_stale_downloads,
    remove_stale_scratch,
    scratch_dir,
)


def dead_pid() -> int:
    """The pid of a process that ran and was reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def owned_folder(root: Path, name: str, owner: str) -> tuple[Path, Path]:
    """A scratch folder with an owner file saying ``owner``, as a job left it, no lock held."""
    folder = root / name
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "layer.tif").write_bytes(b"II*\x00")
    owner_path = root / f".{name}{OWNER_SUFFIX}"
    owner_path.write_text(owner)
    return folder, owner_path


def test_a_scratch_folder_and_its_owner_file_go_whatever_the_outcome(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="boom"), scratch_dir(tmp_path, "tile-T31TCJ") as path:
        assert path.parent == tmp_path and path.name.startswith("tile-T31TCJ-")
        owner = tmp_path / f".{path.name}{OWNER_SUFFIX}"
        assert owner.read_text() == f"{os.getpid()} {host_name()}\n"
        raise ValueError("boom")
    assert list(tmp_path.iterdir()) == []


def test_a_dead_owners_folder_is_stale_and_the_next_job_removes_it(tmp_path: Path) -> None:
    folder, owner = owned_folder(tmp_path, "tile-A-abc", f"{dead_pid()} {host_name()}\n")
    with scratch_dir(tmp_path, "tile-B") as mine:
        assert not folder.exists() and not owner.exists()
        assert mine.is_dir()


def test_a_live_folder_is_never_removed(tmp_path: Path) -> None:
    with scratch_dir(tmp_path, "tile-A") as live:
        assert remove_stale_scratch(tmp_path) == []  # its lock is held (also by another open here)
        with scratch_dir(tmp_path, "tile-B"):
            assert live.is_dir()
        assert live.is_dir()


def test_a_folder_of_a_live_pid_or_another_host_is_kept_even_unlocked(tmp_path: Path) -> None:
    alive, _ = owned_folder(tmp_path, "tile-A-abc", f"{os.getpid()} {host_name()}\n")  # reused pid
    elsewhere, _ = owned_folder(tmp_path, "tile-B-abc", f"{dead_pid()} another-host\n")
    assert remove_stale_scratch(tmp_path) == []
    assert alive.is_dir() and elsewhere.is_dir()


def test_an_owner_file_being_born_is_kept_and_an_old_empty_one_goes(tmp_path: Path) -> None:
    young, _ = owned_folder(tmp_path, "tile-A-abc", "")
    old, old_owner = owned_folder(tmp_path, "tile-B-abc", "")
    past = time.time() - 3600
    os.utime(old_owner, (past, past))
    assert remove_stale_scratch(tmp_path) == [old]
    assert young.is_dir() and not old.exists()


def test_a_lone_owner_file_of_a_dead_job_goes(tmp_path: Path) -> None:
    owner = tmp_path / f".tile-A-abc{OWNER_SUFFIX}"
    owner.write_text(f"{dead_pid()} {host_name()}\n")
    remove_stale_scratch(tmp_path)
    assert not owner.exists()


def test_pid_liveness() -> None:
    assert is_pid_alive(os.getpid())
    assert not is_pid_alive(dead_pid())
    assert not is_pid_alive(0)


def test_a_zombie_is_dead() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    try:
        assert not is_pid_alive(proc.pid)
    finally:
        proc.wait()


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, SystemExit])
def test_an_interrupted_download_keeps_its_folder_for_the_retry(
    tmp_path: Path, interruption: type[BaseException]
) -> None:
    with pytest.raises(interruption), download_dir(tmp_path, "S2A_X") as folder:
        (folder / "p.zip.part").write_bytes(b"half")
        raise interruption
    with download_dir(tmp_path, "S2A_X") as again:
        assert (again / "p.zip.part").read_bytes() == b"half"


def test_a_temporary_failure_keeps_and_another_failure_removes(tmp_path: Path) -> None:
    with pytest.raises(TemporaryError), download_dir(tmp_path, "S2A_X") as folder:
        (folder / "p.zip.part").write_bytes(b"half")
        raise TemporaryError("503")
    assert (tmp_path / "downloads" / "S2A_X" / "p.zip.part").exists()
    with pytest.raises(ValueError), download_dir(tmp_path, "S2A_X"):
        raise ValueError("bad zip")
    assert not (tmp_path / "downloads").exists()


def test_an_abandoned_download_goes_past_the_bound_and_a_held_or_recent_one_stays(tmp_path: Path) -> None:
    base = tmp_path / "downloads"
    for scene in ("OLD", "RECENT", "HELD"):
        (base / scene / "cdse").mkdir(parents=True)
        (base / scene / "cdse" / "p.zip.part").write_bytes(b"half")
        (base / f".{scene}.lock").touch()
    past = time.time() - 7200
    for scene in ("OLD", "HELD"):
        for path in (base / f".{scene}.lock", *(base / scene).rglob("*"), base / scene):
            os.utime(path, (past, past))
    with (base / ".HELD.lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert remove_stale_downloads(base, older_than_s=3600) == [base / "OLD"]
    assert sorted(p.name for p in base.iterdir()) == [".HELD.lock", ".RECENT.lock", "HELD", "RECENT"]
    with download_dir(tmp_path, "NEW", stale_after_s=3600) as new:
        # its lock is free now, and it is old: the next download removes it
        assert not (base / "HELD").exists() and (base / "RECENT").is_dir() and new.is_dir()


def test_a_download_folder_that_vanishes_while_walked_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another job of this process ends and removes its folder while this job looks for stale ones:
    the walk raised FileNotFoundError and failed a download of another scene (1 000 batched scenes)."""
    from jobs.workspace import remove_stale_downloads

    base = tmp_path / "downloads"
    (base / "S2A_other" / "local").mkdir(parents=True)
    (base / ".S2A_other.lock").touch()

    def vanished(self: Path, pattern: str) -> Any:
        raise FileNotFoundError(2, "No such file or directory", str(self / "local"))
        yield  # a generator, as Path.rglob is

    monkeypatch.setattr(Path, "rglob", vanished)
    assert remove_stale_downloads(base, older_than_s=0) == [], "just ended: not stale"
