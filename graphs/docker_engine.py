"""The ``docker`` engine: a step's ``command`` is an image, run with the docker CLI (no SDK).

What the original does (original-ingester.md §5.4, ``graph/docker.go``), and what we do differently
(its defects, §9.2 item 20):

- the image is pulled when it is not present locally; a pull that times out is temporary;
- the container runs with the step's ``--name=value`` arguments (sorted) as its command, the working
  directory as its working dir, a read-write bind mount of the working directory at the same path,
  and read-only bind mounts of ``$GEOCUBE_INGESTER_DOCKER_MOUNTS`` (comma-separated host paths,
  mounted at the same paths);
- its environment is the graph's ``envs`` plus the host variables named in
  ``$GEOCUBE_INGESTER_DOCKER_ENVS`` (comma-separated **exact** names; the original matched by prefix,
  so ``AWS`` let ``AWS_SECRET_ACCESS_KEY`` through). Nothing of the host by default. Values never
  appear on a command line: ``--env NAME`` makes the docker CLI read them from its own environment;
- **any** non-zero exit is a failure (the original failed on exit code 1 only);
- the container is named and removed (``docker rm -f``) on **every** outcome: success, failure,
  timeout, interruption (the original removed it on success only);
- it runs as this process's user and group, so the files it writes in the working directory can be
  cleaned up after the job;
- its output is classified as a ``cmd`` step's (lines containing ``ERROR:`` or starting with
  ``ERROR``); a docker CLI that cannot reach its daemon is a temporary failure.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from graphs.errors import GraphError, GraphTemporaryError
from graphs.runner import LogRules, classify_lines, run_command, run_process, step_flags

logger = logging.getLogger(__name__)

DOCKER_MOUNTS_ENV = "GEOCUBE_INGESTER_DOCKER_MOUNTS"
DOCKER_ENVS_ENV = "GEOCUBE_INGESTER_DOCKER_ENVS"
INSTALL_HINT = "install the docker CLI (https://docs.docker.com/engine/install/) and put it on PATH"
NOT_ON_PATH = f"the docker CLI is not on PATH; {INSTALL_HINT}"
CONTAINER_PREFIX = "geocube-ingester-"
REMOVE_TIMEOUT_S = 120.0
# An image reference: [registry[:port]/]name[:tag][@digest]. Above all, it never starts with "-",
# which the docker CLI would read as an option.
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NO_DAEMON = ("cannot connect to the docker daemon", "is the docker daemon running", "error during connect")
_PULL_TEMPORARY = ("timeout", "timed out", "temporary failure", "too many requests", "connection reset")


def find_docker() -> str | None:
    """The docker CLI on PATH, or None."""
    return shutil.which("docker")


def unavailable_reason() -> str | None:
    """Why docker steps cannot run here (with the fix), or None when the CLI is on PATH."""
    return None if find_docker() else NOT_ON_PATH


def check_image(image: str, *, where: str) -> str:
    """``image`` if it is a docker image reference, else a GraphError naming ``where``."""
    if not _IMAGE.match(image):
        raise GraphError(
            f"{where}: {image!r} is not a docker image reference (e.g. 'registry.example.com/tool:1.2')"
        )
    return image


def _split_list(variable: str) -> list[str]:
    return [item.strip() for item in os.environ.get(variable, "").split(",") if item.strip()]


def read_mounts() -> list[str]:
    """The read-only mounts of ``$GEOCUBE_INGESTER_DOCKER_MOUNTS``.

    Raises:
        GraphError: a path that is not absolute, does not exist, or has a ``"``.
    """
    mounts = _split_list(DOCKER_MOUNTS_ENV)
    for mount in mounts:
        if not Path(mount).is_absolute() or '"' in mount:
            raise GraphError(
                f"{DOCKER_MOUNTS_ENV}: {mount!r} must be an absolute host path (comma-separated list)"
            )
        if not Path(mount).exists():
            raise GraphError(f"{DOCKER_MOUNTS_ENV}: {mount!r} does not exist on this host")
    return mounts


def read_allowed_envs() -> list[str]:
    """The host variables a container may see: ``$GEOCUBE_INGESTER_DOCKER_ENVS``, exact names.

    Raises:
        GraphError: an entry that is not a variable name (e.g. ``AWS_*``: names are exact).
    """
    names = _split_list(DOCKER_ENVS_ENV)
    for name in names:
        if not _ENV_NAME.match(name):
            raise GraphError(
                f"{DOCKER_ENVS_ENV}: {name!r} is not a variable name; list exact names, comma-separated "
                "(no prefixes or patterns)"
            )
    return names


def container_env(
    graph_envs: Sequence[str], allowed: Sequence[str], host: Mapping[str, str]
) -> dict[str, str]:
    """The container's environment: host variables named in ``allowed``, then the graph's ``envs``."""
    env = {name: host[name] for name in allowed if name in host}
    for index, entry in enumerate(graph_envs):
        name, _, value = entry.partition("=")
        if name.upper().startswith("DOCKER_"):
            # They are handed over through the docker CLI's own environment, which they would reconfigure.
            raise GraphError(f"envs[{index}]: {name!r}: DOCKER_* variables cannot be passed to a container")
        env[name] = value
    return env


def _bind(source: str, *, readonly: bool) -> str:
    if '"' in source:
        raise GraphError(f"docker mount {source!r}: a path with '\"' cannot be mounted")
    quoted = f'"{source}"' if "," in source else source
    spec = f"type=bind,source={quoted},target={quoted}"
    return f"{spec},readonly" if readonly else spec


def docker_run_argv(
    docker: str,
    image: str,
    args: Mapping[str, str],
    *,
    name: str,
    workdir: Path,
    mounts: Sequence[str],
    env_names: Sequence[str],
    user: str | None,
) -> list[str]:
    """The ``docker run`` command line of a step (the module docstring)."""
    argv = [docker, "run", "--rm", "--name", name, "--workdir", str(workdir)]
    if user:
        argv += ["--user", user]
    argv += ["--mount", _bind(str(workdir), readonly=False)]
    for mount in mounts:
        argv += ["--mount", _bind(mount, readonly=True)]
    for env_name in sorted(env_names):
        argv += ["--env", env_name]
    return [*argv, image, *step_flags(args)]


def _current_user() -> str | None:
    getuid, getgid = getattr(os, "getuid", None), getattr(os, "getgid", None)
    return f"{getuid()}:{getgid()}" if getuid and getgid else None


def _says_no_daemon(lines: Sequence[str]) -> bool:
    return any(hint in line.lower() for line in lines for hint in _NO_DAEMON)


def _unreachable(label: str, lines: Sequence[str]) -> GraphTemporaryError:
    return GraphTemporaryError(f"{label}: the docker daemon is not reachable: {lines[-1].strip()}")


def is_docker_error(line: str) -> bool:
    """An error line of a docker step (§5.10): it contains ``ERROR:`` or starts with ``ERROR``."""
    return "ERROR:" in line or line.lstrip().startswith("ERROR")


def classify_docker(label: str, returncode: int, lines: Sequence[str]) -> Exception:
    """The error of a container that exited non-zero (any non-zero code; the module docstring)."""
    if returncode == 125 and _says_no_daemon(lines):  # 125: the docker CLI itself failed
        return _unreachable(label, lines)
    return classify_lines(label, returncode, lines, is_error=is_docker_error)


def _docker_level(line: str) -> int:
    return logging.ERROR if is_docker_error(line) else logging.INFO


DOCKER_RULES = LogRules(level=_docker_level, classify=classify_docker)


def ensure_image(docker: str, image: str, *, cwd: Path, timeout_s: float, label: str) -> None:
    """Pull ``image`` unless it is present locally.

    Raises:
        GraphTemporaryError: the daemon is not reachable, or the pull timed out or hit a transient
            registry error.
        GraphError: the pull failed otherwise (unknown image, access denied...).
    """
    inspect = run_process(
        [docker, "image", "inspect", "--format", "{{.Id}}", image],
        cwd=cwd, timeout_s=timeout_s, label=f"{label} image", rules=DOCKER_RULES,
    )  # fmt: skip
    if inspect.returncode == 0:
        return
    if _says_no_daemon(inspect.lines):
        raise _unreachable(label, inspect.lines)
    logger.info("%s: pulling image %s", label, image)
    try:
        pull = run_process(
            [docker, "pull", image], cwd=cwd, timeout_s=timeout_s, label=f"{label} pull", rules=DOCKER_RULES
        )
    except GraphTemporaryError as exc:
        raise GraphTemporaryError(f"{label}: pulling {image} timed out after {timeout_s:g} s") from exc
    if pull.returncode == 0:
        return
    last = next((line.strip() for line in reversed(pull.lines) if line.strip()), "")
    message = f"{label}: cannot pull image {image} (exit code {pull.returncode}): {last}"
    if _says_no_daemon(pull.lines) or any(hint in last.lower() for hint in _PULL_TEMPORARY):
        raise GraphTemporaryError(message)
    raise GraphError(message)


def remove_container(docker: str, name: str, *, label: str) -> None:
    """``docker rm -f <name>``; a container already gone (``--rm``) is fine, other failures are logged."""
    try:
        done = subprocess.run(
            [docker, "rm", "-f", name],
            capture_output=True, text=True, errors="replace", timeout=REMOVE_TIMEOUT_S, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("%s: could not remove container %s: %s", label, name, exc)
        return
    if done.returncode != 0 and "no such container" not in done.stderr.lower():
        logger.warning("%s: could not remove container %s: %s", label, name, done.stderr.strip())


def run_docker(
    image: str,
    args: Mapping[str, str],
    *,
    graph_envs: Sequence[str],
    cwd: Path,
    timeout_s: float,
    label: str,
) -> None:
    """Run ``image`` with ``args`` on the working directory ``cwd`` (the module docstring).

    Raises:
        GraphError: docker not found, bad configuration, pull refused or a failed container;
            GraphTemporaryError: daemon unreachable, pull or step timeout; GraphFatalError: the
            container printed ``FATAL ERROR:``.
    """
    docker = find_docker()
    if docker is None:
        raise GraphError(f"{label}: engine 'docker': {NOT_ON_PATH}")
    check_image(image, where=label)
    mounts, allowed = read_mounts(), read_allowed_envs()
    env = container_env(graph_envs, allowed, os.environ)
    ensure_image(docker, image, cwd=cwd, timeout_s=timeout_s, label=label)
    name = f"{CONTAINER_PREFIX}{uuid.uuid4().hex[:16]}"
    argv = docker_run_argv(
        docker, image, args, name=name, workdir=cwd, mounts=mounts, env_names=list(env), user=_current_user()
    )
    try:
        run_command(argv, cwd=cwd, timeout_s=timeout_s, label=label, rules=DOCKER_RULES, env=env)
    finally:
        # Killing the CLI (timeout, cancelled flow) does not stop the container: remove it by name.
        remove_container(docker, name, label=label)
