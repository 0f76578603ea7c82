"""The ``snap`` engine: ESA SNAP's Graph Processing Tool (``gpt``) on a SNAP XML graph.

Command line (original-ingester.md §5.4, with its hard-coded heap size made a config key)::

    <gpt> <graph.xml> -x -q <snap_cpu_parallelism> -J-Xmx<snap_memory> -P<name>=<value> ...

- ``-x`` clears SNAP's tile cache after each row of tiles written; ``-q`` is the number of threads;
  ``-J-Xmx`` is the Java heap. Config ``snap_cpu_parallelism`` defaults to 1 (the original passed an
  empty string when the key was missing) and ``snap_memory`` to the original's ``9000m``.
- ``-P`` parameters fill the ``${name}`` placeholders of the XML; sorted by name, as for the other
  engines (the original used Go map order). Values are passed as written: the original's
  ``polar="VV VH"`` keeps its quotes, as gpt received them from Go's ``exec.Command``.
- The XML graph (the step's command, e.g. ``snap/S1_SLC_BkG.xml``) is looked for in
  ``$GEOCUBE_INGESTER_SNAP_GRAPHS`` first (the original's ``graph/snap`` folder: its XML does not ship
  with us), then in the graph roots (``graphs.engines.resolve_command``).
- ``gpt`` is ``$GEOCUBE_INGESTER_SNAP_GPT`` when set, else ``gpt`` on PATH, else the original's
  default ``SNAPPATH``, ``/usr/local/snap/bin/gpt``.

Log lines (§5.10, the original's ``SNAPLogFilter``): ``java.*Exception`` at WARNING; ``at ...``,
``INFO:`` and ``-- org.jblas INFO`` at DEBUG; ``SEVERE:`` at INFO (SNAP says SEVERE about things that
do not fail a run); ``WARNING:`` at WARNING; ``Error:`` at ERROR. A failure is temporary when the
last ``Error:`` line says ``Try again`` or ``Temporary failure`` (e.g. a DEM or orbit server that did
not answer); ``timed out`` is temporary too, and the ``FATAL ERROR:`` / ``TEMPORARY ERROR:``
conventions hold as for every engine.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from graphs.errors import GraphError
from graphs.runner import LogRules, classify_lines, run_command, step_flags

SNAP_GPT_ENV = "GEOCUBE_INGESTER_SNAP_GPT"
SNAP_GRAPHS_ENV = "GEOCUBE_INGESTER_SNAP_GRAPHS"  # common.settings.Settings.snap_graphs
SNAP_GRAPHS_HINT = (
    f"set {SNAP_GRAPHS_ENV} to a folder holding the original ingester's SNAP XML graphs (they do not ship "
    "with us: copy the graph/snap folder of https://github.com/airbusgeo/geocube-ingester)"
)
DEFAULT_SNAP_GPT = Path("/usr/local/snap/bin/gpt")  # the original's SNAPPATH default
DEFAULT_CPU_PARALLELISM = "1"
DEFAULT_MEMORY = "9000m"  # the original's hard-coded -J-Xmx9000m
INSTALL_HINT = (
    f"install ESA SNAP (https://step.esa.int/main/download/snap-download/) or set {SNAP_GPT_ENV} "
    "to its bin/gpt"
)
_MEMORY = re.compile(r"^[1-9][0-9]*[kKmMgG]?$")
_WHOLE = re.compile(r"^[1-9][0-9]*$")


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_gpt() -> tuple[str | None, str]:
    """Where ``gpt`` is, and where it was looked for (for messages): ``(path or None, searched)``."""
    configured = os.environ.get(SNAP_GPT_ENV, "").strip()
    if configured:
        path = Path(configured).expanduser()
        if _is_executable(path):
            return str(path), f"{SNAP_GPT_ENV}={configured}"
        return None, f"{SNAP_GPT_ENV}={configured} is not an executable file"
    found = shutil.which("gpt")
    if found:
        return found, "PATH"
    if _is_executable(DEFAULT_SNAP_GPT):
        return str(DEFAULT_SNAP_GPT), str(DEFAULT_SNAP_GPT)
    return None, f"{SNAP_GPT_ENV} unset, no gpt on PATH nor at {DEFAULT_SNAP_GPT}"


def snap_graph_candidates(command: str) -> list[Path]:
    """Where the XML of a snap step ``command`` (e.g. ``snap/S1_SLC_BkG.xml``) is looked for first: in
    ``$GEOCUBE_INGESTER_SNAP_GRAPHS`` (the original's ``graph/snap`` folder), as its file name and as
    written. Empty when the variable is unset or the command is absolute."""
    folder = os.environ.get(SNAP_GRAPHS_ENV, "").strip()
    path = Path(command)
    if not folder or path.is_absolute():
        return []
    root = Path(folder).expanduser()
    relative = Path(*path.parts[1:]) if path.parts[0] == "snap" and len(path.parts) > 1 else path
    return list(dict.fromkeys([root / relative, root / path]))


def _config_value(
    config: Mapping[str, str], key: str, default: str, pattern: re.Pattern[str], eg: str
) -> str:
    value = str(config.get(key) or default).strip()
    if not pattern.match(value):
        raise GraphError(f"config.{key}: {value!r} is not valid for gpt; use e.g. {eg!r}")
    return value


def snap_argv(gpt: str, graph_xml: str, args: Mapping[str, str], *, config: Mapping[str, str]) -> list[str]:
    """The gpt command line of a step (the module docstring).

    Raises:
        GraphError: config ``snap_cpu_parallelism`` or ``snap_memory`` is not valid.
    """
    threads = _config_value(config, "snap_cpu_parallelism", DEFAULT_CPU_PARALLELISM, _WHOLE, "1")
    memory = _config_value(config, "snap_memory", DEFAULT_MEMORY, _MEMORY, DEFAULT_MEMORY)
    params = step_flags(args, prefix="-P")
    return [gpt, graph_xml, "-x", "-q", threads, f"-J-Xmx{memory}", *params]


def _stripped(line: str) -> str:
    return line.strip()


def snap_level(line: str) -> int:
    """The log level of a gpt output line (the original's ``SNAPLogFilter``)."""
    text = _stripped(line)
    if text.startswith("java.") and "Exception" in text:
        return logging.WARNING
    if text.startswith(("at ", "INFO:", "-- org.jblas INFO")):
        return logging.DEBUG
    if text.startswith("SEVERE:"):
        return logging.INFO
    if text.startswith("WARNING:"):
        return logging.WARNING
    if is_snap_error(line):
        return logging.ERROR
    return logging.INFO


def is_snap_error(line: str) -> bool:
    """An error line of gpt: it starts with ``Error:``, or follows our ``ERROR:`` convention."""
    return _stripped(line).startswith("Error:") or "ERROR:" in line


def classify_snap(label: str, returncode: int, lines: Sequence[str]) -> Exception:
    """The error of a failed gpt run (the module docstring)."""
    return classify_lines(
        label,
        returncode,
        lines,
        is_error=is_snap_error,
        temporary_hints=("try again", "temporary failure", "timed out"),
    )


SNAP_RULES = LogRules(level=snap_level, classify=classify_snap)


def run_snap(
    graph_xml: str,
    args: Mapping[str, str],
    *,
    config: Mapping[str, str],
    cwd: Path,
    timeout_s: float,
    label: str,
) -> None:
    """Run gpt on ``graph_xml`` in ``cwd``.

    Raises:
        GraphError: gpt not found (naming where it was looked for and how to install it), invalid
            config, or a failed run; GraphTemporaryError, GraphFatalError: see the module docstring.
    """
    gpt, searched = find_gpt()
    if gpt is None:
        raise GraphError(f"{label}: engine 'snap': gpt not found ({searched}); {INSTALL_HINT}")
    argv = snap_argv(gpt, graph_xml, args, config=config)
    run_command(argv, cwd=cwd, timeout_s=timeout_s, label=label, rules=SNAP_RULES)
