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
