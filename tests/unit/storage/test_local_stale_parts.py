"""storage.local: temporary ``.part`` files a killed write left are removed by the next upload into
their folder (at once when their writer was of this host and is dead, else past the age bound); a live
write's never is."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from common.processes import host_name
from storage.local import LocalStorage, copy_atomically, remove_stale_parts


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def aged(path: Path, age_s: float) -> Path:
    past = time.time() - age_s
    os.utime(path, (past, past))
    return path


def part(folder: Path, name: str, age_s: float = 0.0) -> Path:
    path = folder / name
    path.write_bytes(b"half a layer")
    return aged(path, age_s)


def test_the_bounds(tmp_path: Path) -> None:
    host = host_name()
    dead = part(tmp_path, f".B04.tif.{host}.{dead_pid()}.abcd1234.part")  # this host, writer gone
    live = part(tmp_path, f".B08.tif.{host}.{os.getpid()}.abcd1234.part", 60)  # writer alive
    reused = part(tmp_path, f".B09.tif.{host}.{os.getpid()}.abcd1234.part", 7200)  # unlocked: pid reused
    young_elsewhere = part(tmp_path, ".B02.tif.other-host.1.abcd1234.part", 60)
    old_elsewhere = part(tmp_path, ".B03.tif.other-host.1.abcd1234.part", 7200)
    old_format = part(tmp_path, ".B05.tif.k3j4h5g6.part", 7200)  # an older version's name
    young_old_format = part(tmp_path, ".B06.tif.k3j4h5g6.part", 60)
    layer = part(tmp_path, "20240115_T31TCJ_B04.tif", 7200)
    hidden = part(tmp_path, ".ledger.json", 7200)
    removed = remove_stale_parts(tmp_path, older_than_s=3600)
    assert sorted(removed) == sorted([dead, reused, old_elsewhere, old_format])
    for kept in (live, young_elsewhere, young_old_format, layer, hidden):
        assert kept.exists(), kept


def test_a_locked_part_is_kept_however_old(tmp_path: Path) -> None:
    path = part(tmp_path, f".B04.tif.{host_name()}.{dead_pid()}.abcd1234.part", 7200)
    with path.open("rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        assert remove_stale_parts(tmp_path, older_than_s=3600) == []
    assert remove_stale_parts(tmp_path, older_than_s=3600) == [path]


def test_the_next_upload_into_the_folder_removes_them(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "storage", stale_temp_s=3600)
    folder = tmp_path / "storage" / "AOI" / "S2A" / "tiles" / "T31TCJ"
    folder.mkdir(parents=True)
    dead = part(folder, f".B04.tif.{host_name()}.{dead_pid()}.abcd1234.part")
    source = tmp_path / "B04.tif"
    source.write_bytes(b"II*\x00 a whole layer")
    storage.upload(source, "AOI/S2A/tiles/T31TCJ/B04.tif")
    assert sorted(p.name for p in folder.iterdir()) == ["B04.tif"]
    assert not dead.exists()


def test_the_temporary_name_says_host_and_pid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = shutil.copyfileobj

    def spy(inp: Any, out: Any, length: int = 0) -> None:
        seen.extend(p.name for p in (tmp_path / "dst").iterdir())
        real(inp, out, length)

    monkeypatch.setattr(shutil, "copyfileobj", spy)
    (tmp_path / "src.tif").write_bytes(b"x")
    copy_atomically(tmp_path / "src.tif", tmp_path / "dst" / "a.tif")
    assert len(seen) == 1
    assert seen[0].startswith(f".a.tif.{host_name()}.{os.getpid()}.") and seen[0].endswith(".part")
