"""Running one command of a step: its output logged line by line, a timeout, and a classified failure.

Shared by every engine (``graphs.engines``, ``graphs.snap_engine``, ``graphs.docker_engine``). The
engines differ only in the log rules of original-ingester.md §5.10: which lines are errors, at which
level each line is logged, and how the lines classify a failure (:class:`LogRules`).

The generic rules (python, cmd) are:

- a line containing ``FATAL ERROR:``                                   → GraphFatalError
- ``TEMPORARY ERROR:``, or ``temporary failure`` / ``timed out`` in the
  last error line, or the step timeout                                 → GraphTemporaryError
- any other non-zero exit                                              → GraphError

A step does not inherit the ingester's environment whole: it gets what tools need to run (``PATH``,
``HOME``, locale, ``TMPDIR``, Python, PROJ, GDAL, SNAP and Java settings, the docker CLI's ``DOCKER_*``,
the ingester's own ``GEOCUBE_INGESTER_*`` settings) minus every variable whose name says it holds a
secret (password, token, secret, API key, ``*_KEY``, credentials), plus the names listed in
``GEOCUBE_INGESTER_STEP_ENVS`` (exact names: what a user's graph declares it needs), plus what the engine
adds (the docker engine's allow-list). A graph step never sees the download accounts' credentials.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from graphs.errors import GraphError, GraphFatalError, GraphTemporaryError

logger = logging.getLogger(__name__)

_TEMPORARY_HINTS = ("temporary failure", "timed out")

STEP_ENVS_ENV = "GEOCUBE_INGESTER_STEP_ENVS"
_TOOL_ENV = re.compile(
    r"PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|TZ|TMPDIR|TEMP|TMP|TERM|LC_\w+|PYTHON\w*|VIRTUAL_ENV|"
    r"CONDA_\w+|LD_LIBRARY_PATH|PROJ_\w+|GDAL_\w+|CPL_\w+|OMP_NUM_THREADS|OPENBLAS_NUM_THREADS|"
    r"MKL_NUM_THREADS|SNAP_\w+|JAVA_HOME|_JAVA_OPTIONS|JAVA_TOOL_OPTIONS|XDG_\w+|DOCKER_\w+|"
    r"SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|GEOCUBE_INGESTER_\w+"
)
_SECRET_NAME = re.compile(r"(?i)PASSWORD|PASSWD|SECRET|TOKEN|APIKEY|API_KEY|_KEY$|CREDENTIAL|AUTH")


_PR_SET_PDEATHSIG = 1
_libc: Any = None


def _die_with_parent() -> None:
    """In the step's process before it starts (Linux): SIGKILL it when the thread that started it dies,
    so that a job killed with SIGKILL takes its step with it (its own session escapes the process
    group kill). The starting thread waits for the step, so it outlives it in every other case."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def step_environment(host: Mapping[str, str]) -> dict[str, str]:
    """The environment a step starts with (module docstring): tools' variables, never secrets, plus
    the exact names of ``GEOCUBE_INGESTER_STEP_ENVS``."""
    declared = {name.strip() for name in host.get(STEP_ENVS_ENV, "").split(",") if name.strip()}
    return {
        name: value
        for name, value in host.items()
        if name in declared or (_TOOL_ENV.fullmatch(name) and not _SECRET_NAME.search(name))
    }


def is_error_line(line: str) -> bool:
    """An error line of a python or cmd step (§5.10): it contains ``ERROR:``."""
    return "ERROR:" in line


def _generic_level(line: str) -> int:
    return logging.ERROR if is_error_line(line) else logging.INFO


def classify_lines(
    label: str,
    returncode: int,
    lines: Sequence[str],
    *,
    is_error: Callable[[str], bool] = is_error_line,
    temporary_hints: Sequence[str] = _TEMPORARY_HINTS,
) -> Exception:
    """The error for a step that exited with ``returncode``, from its output ``lines`` (§5.10).

    The last error line (``is_error``, or else the last non-empty line, e.g. a Python exception) is
    quoted in the message; ``temporary_hints`` are looked for in it, in any case.
    """
    error_lines = [line for line in lines if is_error(line)]
    non_empty = [line for line in lines if line.strip()]
    last = (error_lines or non_empty or [""])[-1].strip()
    message = f"{label} failed (exit code {returncode})" + (f": {last}" if last else "")
    if any("FATAL ERROR:" in line for line in lines):
        return GraphFatalError(message)
    lowered = last.lower()
    says_temporary = any(h.lower() in lowered for h in temporary_hints)
    if says_temporary or any("TEMPORARY ERROR:" in line for line in lines):
        return GraphTemporaryError(message)
    return GraphError(message)


def classify_failure(label: str, returncode: int, lines: Sequence[str]) -> Exception:
    """The error of a python or cmd step that exited with ``returncode`` (the module docstring)."""
    return classify_lines(label, returncode, lines)


@dataclass(frozen=True)
class LogRules:
    """How an engine's output is logged (``level`` of each line) and how a failure is classified."""

    level: Callable[[str], int] = _generic_level
    classify: Callable[[str, int, Sequence[str]], Exception] = classify_failure


GENERIC_RULES = LogRules()


def _pump(stream: IO[str], rules: LogRules, label: str, sink: list[str]) -> None:
    for raw in stream:
        line = raw.rstrip("\n")
        sink.append(line)
        logger.log(rules.level(line), "%s: %s", label, line)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def step_flags(args: Mapping[str, str], *, prefix: str = "--") -> list[str]:
    """A step's arguments as ``<prefix><name>=<value>``, sorted by name (the original used Go map
    order, which is random): python, cmd and docker steps' ``--name=value``, snap's ``-Pname=value``."""
    return [f"{prefix}{name}={args[name]}" for name in sorted(args)]


@dataclass(frozen=True)
class Completed:
    """A command that ran to its end (whatever its exit code), with its output lines."""

    returncode: int
    lines: list[str]


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout_s: float,
    label: str,
    rules: LogRules = GENERIC_RULES,
    env: Mapping[str, str] | None = None,
) -> Completed:
    """Run ``argv`` in ``cwd``, logging its output; its exit code and lines (no classification).

    The command runs in its own process group, so a timeout kills its children too.

    Args:
        env: variables added for the command to :func:`step_environment` of this process's.

    Raises:
        GraphTemporaryError: the command ran longer than ``timeout_s``.
        GraphError: the command cannot be started.
    """
    logger.info("%s: running %s", label, " ".join(argv))
    # One pipe for stdout and stderr, and unbuffered Python children: the lines arrive in the order
    # the step wrote them, so "the last error line" is well defined (two pipes read by two threads
    # interleave at random).
    full_env = {**step_environment(os.environ), **(env or {}), "PYTHONUNBUFFERED": "1"}
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=full_env,
            preexec_fn=_die_with_parent,
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
    pump = threading.Thread(target=_pump, args=(proc.stdout, rules, label, lines), daemon=True)
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
    return Completed(returncode, lines)


def run_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout_s: float,
    label: str,
    rules: LogRules = GENERIC_RULES,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run ``argv`` in ``cwd``, logging its output, and raise a classified error if it fails.

    Raises:
        GraphFatalError, GraphTemporaryError, GraphError: see the module docstring (or the
            engine's ``rules``).
    """
    done = run_process(argv, cwd=cwd, timeout_s=timeout_s, label=label, rules=rules, env=env)
    if done.returncode != 0:
        raise rules.classify(label, done.returncode, done.lines)
