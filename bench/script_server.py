"""The prototype of a warm server for the built-in graph scripts, measured by ``bench/cog.py``.

Today each python step is a new interpreter (``graphs.engines``: ``sys.executable script ...``) that
imports rasterio again for every tile. Here a ``multiprocessing`` forkserver imports, once, what the
built-in scripts import (boto3 left out, as ``extract_s2.py`` leaves it out), and each step is a fork of
it running the script with ``runpy``: a process of its own still (its exit status, a timeout can kill
it, GDAL's state is not shared), without the interpreter's start and the imports.
"""

from __future__ import annotations

import os
import runpy
import sys

sys.modules.setdefault("boto3", None)  # type: ignore[arg-type]  # rasterio's s3 sessions: not used

import graphs.cog  # noqa: E402  # what the forkserver preloads: rasterio, numpy
import graphs.scripting  # noqa: E402
import graphs.sentinel2  # noqa: E402, F401


def run_script(script: str, argv: list[str], cwd: str) -> None:
    """Run ``script argv`` in ``cwd`` as ``python script argv`` would, its stdout discarded."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.chdir(cwd)
    sys.argv = [script, *argv]
    runpy.run_path(script, run_name="__main__")
