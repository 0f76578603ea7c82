"""Running processing steps: engines, command lines, timeouts, and whether a graph can run here.

Engines (original-ingester.md §5.4): ``python`` runs ``sys.executable <script> --name=value ...``;
``cmd`` runs ``<command> --name=value ...``; ``snap`` runs ESA SNAP's ``gpt`` on an XML graph
(``graphs.snap_engine``); ``docker`` runs an image with the docker CLI (``graphs.docker_engine``).
Arguments are sorted by name (the original used Go map order, which is random).

An engine is available where its executable is: ``gpt`` for snap (``$GEOCUBE_INGESTER_SNAP_GPT``, PATH,
``/usr/local/snap/bin/gpt``), the ``docker`` CLI for docker. :func:`check_runnable` refuses a graph
whose engine is missing, naming the step, the engine and how to install or point to it.

Each step has a timeout (config ``step_timeout_s``, default 3600 s; the original had none). Output is
streamed to the ``graphs.runner`` logger line by line, and a failure is classified from the log lines
(§5.10, ``graphs.runner``; SNAP's own rules in ``graphs.snap_engine``).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from graphs import docker_engine, snap_engine
from graphs.errors import GraphError
from graphs.model import Engine, Graph, ProcessingStep
from graphs.runner import classify_failure, run_command, step_flags

__all__ = [
    "DEFAULT_STEP_TIMEOUT_S",
    "ORIGINAL_SCRIPTS",
    "available_engines",
    "build_argv",
    "check_runnable",
    "classify_failure",
    "engine_unavailable_reason",
    "parse_timeout_s",
    "resolve_command",
    "run_command",
    "run_step",
]

GRAPHS_DIR = Path(__file__).resolve().parent
DEFAULT_STEP_TIMEOUT_S = 3600.0
# The original's script names, resolved to ours when no graph root holds a script of that name: its
# graphs (e.g. library/S1BackscatterCoherence.json) run python/erodeMask.py, ours is erode_mask.py.
ORIGINAL_SCRIPTS = {"python/erodeMask.py": "python/erode_mask.py"}


def _snap_reason() -> str | None:
    gpt, searched = snap_engine.find_gpt()
    return None if gpt else f"gpt not found ({searched}); {snap_engine.INSTALL_HINT}"


_REASONS: dict[Engine, Callable[[], str | None]] = {
    Engine.SNAP: _snap_reason,
    Engine.DOCKER: docker_engine.unavailable_reason,
}


def engine_unavailable_reason(engine: Engine) -> str | None:
    """Why ``engine`` cannot run on this machine (with the fix), or None when it can."""
    reason = _REASONS.get(engine)
    return reason() if reason else None


def available_engines() -> frozenset[Engine]:
    """The engines whose executable is here (python and cmd always are)."""
    return frozenset(e for e in Engine if engine_unavailable_reason(e) is None)


def check_runnable(graph: Graph) -> None:
    """Check that every step of ``graph`` uses an engine available on this machine, and that the XML
    graph of every snap step is here.

    Loading accepts every engine (the original's graphs must load, and ``plan`` needs none); call this
    where an unrunnable graph should be refused early: payload validation, and before a graph runs.

    Raises:
        GraphError: naming each step whose engine is not available, and how to make it available; and
            each snap step whose XML is missing, naming ``GEOCUBE_INGESTER_SNAP_GRAPHS``.
    """
    reasons = {e: engine_unavailable_reason(e) for e in {step.engine for step in graph.processing_steps}}
    problems = [
        f"processing_steps[{i}] ({step.engine.value} {step.command}): engine '{step.engine.value}' is not "
        f"available here: {reasons[step.engine]}"
        for i, step in enumerate(graph.processing_steps)
        if reasons[step.engine]
    ]
    for i, step in enumerate(graph.processing_steps):
        if step.engine == Engine.SNAP:
            try:
                resolve_command(step, index=i, roots=graph.command_roots)
            except GraphError as exc:
                problems.append(str(exc))
    if problems:
        raise GraphError(f"graph {graph.source}: " + "; ".join(problems))


def resolve_command(step: ProcessingStep, *, index: int, roots: Sequence[Path]) -> str:
    """The executable (``cmd``), script (``python``), XML graph (``snap``) or image (``docker``) of a step.

    A relative command is looked for in ``roots`` then in the graphs package folder (built-in scripts
    such as ``python/extract_s2.py``); a snap XML first in ``$GEOCUBE_INGESTER_SNAP_GRAPHS``; the
    original's ``python/erodeMask.py`` last as our ``python/erode_mask.py`` (:data:`ORIGINAL_SCRIPTS`);
    a ``cmd`` command may also be a program on PATH. Never in the
    job's working directory: a downloaded product must not be able to shadow a script. A docker
    image is not a file: it is only checked to be an image reference.

    Raises:
        GraphError: command not found (the message lists where we looked), or not an image reference.
    """
    where = f"processing_steps[{index}].command"
    if step.engine == Engine.DOCKER:
        return docker_engine.check_image(step.command, where=where)
    command = Path(step.command)
    searched = [command] if command.is_absolute() else [root / command for root in (*roots, GRAPHS_DIR)]
    if step.engine == Engine.SNAP:
        searched = [*snap_engine.snap_graph_candidates(step.command), *searched]
    own = ORIGINAL_SCRIPTS.get(step.command)
    if own is not None:
        searched.append(GRAPHS_DIR / own)
    for candidate in searched:
        if candidate.is_file():
            return str(candidate)
    if step.engine == Engine.CMD and len(command.parts) == 1:
        found = shutil.which(step.command)
        if found:
            return found
    looked = ", ".join(str(c) for c in searched) + (" and PATH" if step.engine == Engine.CMD else "")
    hint = f"; {snap_engine.SNAP_GRAPHS_HINT}" if step.engine == Engine.SNAP else ""
    raise GraphError(f"{where}: command not found: {step.command!r} (looked in {looked}){hint}")


def build_argv(engine: Engine, command: str, args: Mapping[str, str]) -> list[str]:
    """The command line of a python or cmd step; ``--name=value`` arguments in sorted order.

    snap and docker steps have their own: ``snap_engine.snap_argv``, ``docker_engine.docker_run_argv``.
    """
    flags = step_flags(args)
    if engine == Engine.PYTHON:
        return [sys.executable, command, *flags]
    if engine == Engine.CMD:
        return [command, *flags]
    raise GraphError(f"engine '{engine.value}': its command line is built by graphs.{engine.value}_engine")


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


def run_step(
    step: ProcessingStep,
    command: str,
    args: Mapping[str, str],
    *,
    config: Mapping[str, str],
    graph_envs: Sequence[str],
    cwd: Path,
    timeout_s: float,
    label: str,
) -> None:
    """Run one step with its engine; ``command`` comes from :func:`resolve_command`.

    Raises:
        GraphFatalError, GraphTemporaryError, GraphError: the step failed (classified from its log).
    """
    if step.engine == Engine.SNAP:
        snap_engine.run_snap(command, args, config=config, cwd=cwd, timeout_s=timeout_s, label=label)
    elif step.engine == Engine.DOCKER:
        docker_engine.run_docker(
            command, args, graph_envs=graph_envs, cwd=cwd, timeout_s=timeout_s, label=label
        )
    else:
        run_command(build_argv(step.engine, command, args), cwd=cwd, timeout_s=timeout_s, label=label)
