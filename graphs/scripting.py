"""What the python graph scripts (``graphs/python/*.py``) share: their log lines and their parser.

The log lines are the only contract between a script and the retry logic (original-ingester.md §5.10,
the python engine's ``PythonLogFilter``): a line containing ``FATAL ERROR:`` or starting with
``ERROR:`` is logged at error level and merged into the step's error; ``FATAL ERROR:`` makes the
failure fatal (retrying cannot help), a plain ``ERROR:`` leaves it retriable. Progress goes to stdout as
``INFO: ...``/``WARNING: ...`` lines, flushed at once so that the engine logs them as they come.

A script stays runnable as ``python graphs/python/<script>.py`` from a source checkout without the
package installed; its only preamble is::

    if importlib.util.find_spec("graphs") is None:  # run from a source checkout, not installed
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

A script that reads local files through rasterio adds, before its imports (``extract_s2.py`` does)::

    if __name__ == "__main__":  # a graph step (not a test importing it): local files only
        sys.modules.setdefault("boto3", None)

rasterio imports boto3 for its ``s3://`` sessions: 0.14 s and 18 MiB of a 0.3 s start, paid once per
tile since every step is a new interpreter (GDAL reads ``/vsis3/`` without it). Keep a script's imports
to what it runs: ``graphs.cog`` writes COGs with rasterio alone (rio-cogeo, 0.1 s and 22 MiB more, only
when a COG is validated); ``extract_s2.py`` starts in 0.2 s where ``python -c pass`` takes 0.02 s.
"""

from __future__ import annotations

import argparse
import sys


def log(line: str) -> None:
    """Write an ``INFO: ...`` or ``WARNING: ...`` line to stdout, flushed."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fatal(line: str) -> int:
    """Write ``FATAL ERROR: line`` to stderr; return the exit status 1 (retrying cannot help)."""
    sys.stderr.write(f"FATAL ERROR: {line}\n")
    sys.stderr.flush()
    return 1


def error(line: str) -> int:
    """Write ``ERROR: line`` to stderr; return the exit status 1 (the job may be retried)."""
    sys.stderr.write(f"ERROR: {line}\n")
    sys.stderr.flush()
    return 1


def make_parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser described by the first line of a script's docstring (none under ``-OO``)."""
    return argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
