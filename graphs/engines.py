"""Running processing steps: command lines, engines, timeouts and log-based error classification.

Engines (original-ingester.md §5.4): ``python`` runs ``sys.executable <script> --name=value ...``;
``cmd`` runs ``<command> --name=value ...``. Arguments are sorted by name (the original used Go map
order, which is random). ``snap`` and ``docker`` are valid names in a graph but cannot run yet.

Each step has a timeout (config ``step_timeout_s``, default 3600 s; the original had none). Output is
streamed to this module's logger line by line, in the order written (one pipe): INFO, error lines at ERROR.
A failure is classified from the log lines (§5.10):

- a line containing ``FATAL ERROR:``                                   → GraphFatalError
- ``TEMPORARY ERROR:``, or ``temporary failure`` / ``timed out`` in the
  last error line, or the step timeout                                 → GraphTemporaryError
- any other non-zero exit                                              → GraphError
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from graphs.errors import GraphError, GraphFatalError, GraphTemporaryError
from graphs.model import Engine, Graph, ProcessingStep

logger = logging.getLogger(__name__)

GRAPHS_DIR = Path(__file__).resolve().parent
RUNNABLE_ENGINES = frozenset({Engine.PYTHON, Engine.CMD})
DEFAULT_STEP_TIMEOUT_S = 3600.0
_NOT_AVAILABLE = "is not available yet (roadmap: Processing, complete)"


def check_runnable(graph: Graph) -> None:
    """Check that every step of ``graph`` uses an engine this ingester can run.

    Loading accepts ``snap`` and ``docker`` steps (the original's graphs must load); call this where
    an unrunnable graph should be refused early, such as payload validation.

    Raises:
        GraphError: naming each step whose engine is not available.
    """
    problems = [
        f"processing_steps[{i}].engine: engine '{step.engine.value}' {_NOT_AVAILABLE}"
        for i, step in enumerate(graph.processing_steps)
        if step.engine not in RUNNABLE_ENGINES
    ]
    if problems:
        raise GraphError(f"graph {graph.source}: " + "; ".join(problems))


def resolve_command(step: ProcessingStep, *, index: int, roots: Sequence[Path]) -> str:
    """The executable (``cmd``) or script (``python``) of a step.

    A relative command is looked for in ``roots`` then in the graphs package folder (built-in scripts
    such as ``python/extract_s2.py``); a ``cmd`` command may also be a program on PATH. Never in the
    job's working directory: a downloaded product must not be able to shadow a script.

    Raises:
        GraphError: engine not available, or command not found (the message lists where we looked).
    """
    if step.engine not in RUNNABLE_ENGINES:
        raise GraphError(f"processing_steps[{index}].engine: engine '{step.engine.value}' {_NOT_AVAILABLE}")
    command = Path(step.command)
    searched = [command] if command.is_absolute() else [root / command for root in (*roots, GRAPHS_DIR)]
    for candidate in searched:
        if candidate.is_file():
            return str(candidate)
    if step.engine == Engine.CMD and len(command.parts) == 1:
        found = shutil.which(step.command)
        if found:
            return found
    where = ", ".join(str(c) for c in searched) + (" and PATH" if step.engine == Engine.CMD else "")
    raise GraphError(
        f"processing_steps[{index}].command: command not found: {step.command!r} (looked in {where})"
    )


def build_argv(engine: Engine, command: str, args: Mapping[str, str]) -> list[str]:
    """The command line of a step; ``--name=value`` arguments in sorted order (deterministic)."""
    flags = [f"--{name}={args[name]}" for name in sorted(args)]
    if engine == Engine.PYTHON:
        return [sys.executable, command, *flags]
    if engine == Engine.CMD:
        return [command, *flags]
    raise GraphError(f"engine '{engine.value}' {_NOT_AVAILABLE}")


def parse_timeout_s(config: Mapping[str, str]) -> float:
    """The per-step timeout from config ``step_timeout_s`` (default 3600).

    Raises:
        GraphError: not a positive number.
    """
    raw = config.get("step_timeout_s")
    if raw is None or raw == "":
        return DEFAULT_STEP_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise GraphError(f"config.step_timeout_s: {raw!r} is not a positive number of seconds (e.g. 3600)")
    return value


def _is_error_line(line: str) -> bool:
    return "ERROR:" in line


def classify_failure(label: str, returncode: int, lines: Sequence[str]) -> Exception:
    """The error for a step that exited with ``returncode``, from its output ``lines`` (§5.10).

    The last error line (containing ``ERROR:``, or else the last non-empty line, e.g. a Python
    exception) is quoted in the message.
    """
    error_lines = [line for line in lines if _is_error_line(line)]
    non_empty = [line for line in lines if line.strip()]
    last = (error_lines or non_empty or [""])[-1].strip()
    message = f"{label} failed (exit code {returncode})" + (f": {last}" if last else "")
    if any("FATAL ERROR:" in line for line in lines):
        return GraphFatalError(message)
    lowered = last.lower()
    if (
        any("TEMPORARY ERROR:" in line for line in lines)
        or "temporary failure" in lowered
        or "timed out" in lowered
    ):
        return GraphTemporaryError(message)
    return GraphError(message)


def _pump(stream: IO[str], level: int, label: str, sink: list[str]) -> None:
    for raw in stream:
        line = raw.rstrip("\n")
        sink.append(line)
        logger.log(logging.ERROR if _is_error_line(line) else level, "%s: %s", label, line)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_command(argv: Sequence[str], *, cwd: Path, timeout_s: float, label: str) -> None:
    """Run ``argv`` in ``cwd``, logging its output, and raise a classified error if it fails.

    The command runs in its own process group, so a timeout kills its children too.

    Raises:
        GraphFatalError, GraphTemporaryError, GraphError: see the module docstring.
    """
    logger.info("%s: running %s", label, " ".join(argv))
    # One pipe for stdout and stderr, and unbuffered Python children: the lines arrive in the order
    # the step wrote them, so "the last error line" is well defined (two pipes read by two threads
    # interleave at random).
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        raise GraphError(f"{label}: cannot start {argv[0]}: {exc.strerror}") from exc
    lines: list[str] = []
    assert proc.stdout is not None
    pump = threading.Thread(target=_pump, args=(proc.stdout, logging.INFO, label, lines), daemon=True)
    pump.start()
    timed_out = False
    try:
        returncode = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        # Also on success: background children left by the step would hold our pipe open. And on
        # an interruption (cancelled flow), so no orphan is left behind.
        _kill_group(proc)
        returncode = proc.wait()
        pump.join(timeout=5)
        proc.stdout.close()
    if timed_out:
        raise GraphTemporaryError(f"{label} timed out after {timeout_s:g} s (config step_timeout_s)")
    if returncode != 0:
        raise classify_failure(label, returncode, lines)
