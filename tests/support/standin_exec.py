"""A stand-in executable (``gpt``, ``docker``...): it records how it was called and answers as scripted.

The engines are tested on their exact command lines, so the stand-in records each call (argv, working
directory, and for ``docker run`` the container environment the real CLI would pass: ``--env NAME``
takes NAME's value from the CLI's own environment, and is left out when NAME is unset) as one JSON line,
then writes the files scripted (``Answer.writes``: gpt's output parameters), prints the lines scripted
for its first argument (``run``, ``pull``...; ``*`` for any) and exits with the scripted code,
optionally after sleeping (for timeouts).
"""

from __future__ import annotations

import json
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PROGRAM = """#!{python}
import json, os, sys, time
SCRIPT = json.loads({script!r})
LOG = {log!r}
argv = sys.argv[1:]
call = {{"argv": argv, "cwd": os.getcwd()}}
if argv[:1] == ["run"]:
    names = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--env"]
    call["container_env"] = {{n: os.environ[n] for n in names if n in os.environ}}
with open(LOG, "a") as log:
    log.write(json.dumps(call) + "\\n")
answer = SCRIPT.get(argv[0] if argv else "", SCRIPT.get("*", {{}}))
params = dict(a[2:].split("=", 1) for a in argv if a.startswith("-P") and "=" in a)
for name in answer.get("writes", []):
    target = params.get(name)
    if not target:
        continue
    if target.endswith(".tif"):
        import numpy, rasterio
        from affine import Affine
        values = numpy.full((48, 64), 0.25, dtype="float32")
        values[:, :6] = 0.0  # a nodata border, as SNAP's terrain correction leaves
        values[20, 30] = 0.75
        profile = dict(driver="GTiff", width=64, height=48, count=1, dtype="float32", nodata=0.0,
                       crs="EPSG:32632", transform=Affine(20.0, 0.0, 500000.0, 0.0, -20.0, 6100000.0))
        with rasterio.open(target, "w", **profile) as out:
            out.write(values, 1)
    else:
        with open(target, "w") as out:
            out.write("written by the stand-in\\n")
        if target.endswith(".dim"):
            os.makedirs(target[: -len(".dim")] + ".data", exist_ok=True)
for line in answer.get("lines", []):
    print(line, flush=True)
time.sleep(answer.get("sleep_s", 0))
sys.exit(answer.get("exit", 0))
"""


@dataclass(frozen=True)
class Answer:
    """What the stand-in prints and returns for one sub-command."""

    lines: list[str] = field(default_factory=list)
    exit: int = 0
    sleep_s: float = 0.0
    # Names of -P<name>=<file> parameters (gpt's) whose files the stand-in writes before answering: a
    # small float32 GeoTIFF (nodata 0, a border of it) for .tif, a text file otherwise (.dim with its
    # .data folder).
    writes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StandIn:
    path: Path
    log: Path

    def calls(self) -> list[dict[str, Any]]:
        """Every call so far, in order."""
        if not self.log.is_file():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def argvs(self) -> list[list[str]]:
        return [call["argv"] for call in self.calls()]


def make_standin(bin_dir: Path, name: str, answers: dict[str, Answer] | None = None) -> StandIn:
    """Write the executable ``bin_dir/name``, answering ``answers`` by first argument (``*``: any)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path, log = bin_dir / name, bin_dir / f"{name}.calls.jsonl"
    script = json.dumps({key: vars(answer) for key, answer in (answers or {}).items()})
    path.write_text(_PROGRAM.format(python=sys.executable, script=script, log=str(log)))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP)
    return StandIn(path=path, log=log)
