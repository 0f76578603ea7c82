"""The docker engine against a stand-in ``docker`` CLI that records its argv, plus a real run with a daemon.

The stand-in emulates what the real CLI does with ``--env NAME`` (the value comes from the CLI's own
environment; an unset NAME is not passed), so the container environment can be checked without a
daemon. The real run needs a daemon and a local ``busybox`` image (tests never pull).
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from graphs.context import TileContext
from graphs.docker_engine import CONTAINER_PREFIX, DOCKER_ENVS_ENV, DOCKER_MOUNTS_ENV
from graphs.engines import check_runnable
from graphs.errors import GraphError, GraphFatalError, GraphTemporaryError
from graphs.execute import execute_graph
from graphs.loader import parse_graph
from tests.support.standin_exec import Answer, StandIn, make_standin

IMAGE = "registry.example.com/tool:1.2"
ABSENT = Answer(lines=[f"Error: No such image: {IMAGE}"], exit=1)


def _tiles() -> tuple[TileContext, TileContext, TileContext]:
    t0 = TileContext(tile_id="T0", scene_id="S", date=datetime(2019, 9, 5, tzinfo=UTC))
    return (t0, t0, t0)


def _docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **answers: Answer) -> StandIn:
    standin = make_standin(tmp_path / "bin", "docker", {"image": ABSENT} | answers)
    monkeypatch.setenv("PATH", str(standin.path.parent))
    for variable in (DOCKER_ENVS_ENV, DOCKER_MOUNTS_ENV):
        monkeypatch.delenv(variable, raising=False)
    return standin


def _run(tmp_path: Path, *, image: str = IMAGE, envs: list[str] | None = None, **config: str) -> Any:
    args = {"b": {"type": "fixed", "value": "x y"}, "a": {"type": "out", "layer": "cls", "extension": "tif"}}
    document = {
        "envs": envs or [],
        "processing_steps": [{"engine": "docker", "command": image, "args": args}],
    }
    graph = parse_graph(document, source="test")
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return execute_graph(graph, tiles=_tiles(), workdir=workdir, config=config, is_retriable=True)


def _container(standin: StandIn) -> str:
    (run,) = [argv for argv in standin.argvs() if argv[0] == "run"]
    return run[run.index("--name") + 1]


def test_pull_run_and_remove_with_the_exact_command_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docker = _docker(tmp_path, monkeypatch)
    dem, aux = tmp_path / "dem", tmp_path / "aux data"
    dem.mkdir()
    aux.mkdir()
    monkeypatch.setenv(DOCKER_MOUNTS_ENV, f"{dem}, {aux}")
    assert _run(tmp_path).error is None
    work = str((tmp_path / "work").resolve())
    name = _container(docker)
    assert name.startswith(CONTAINER_PREFIX)
    assert docker.argvs() == [
        ["image", "inspect", "--format", "{{.Id}}", IMAGE],
        ["pull", IMAGE],
        [
            "run", "--rm", "--name", name, "--workdir", work, "--user", f"{os.getuid()}:{os.getgid()}",
            "--mount", f"type=bind,source={work},target={work}",
            "--mount", f"type=bind,source={dem},target={dem},readonly",
            "--mount", f"type=bind,source={aux},target={aux},readonly",
            IMAGE, "--a=20190905_T0_cls.tif", "--b=x y",
        ],
        ["rm", "-f", name],
    ]  # fmt: skip
    assert {call["cwd"] for call in docker.calls()[:-1]} == {work}


def test_an_image_already_present_is_not_pulled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker = _docker(tmp_path, monkeypatch, image=Answer(lines=["sha256:0123"]))
    assert _run(tmp_path).error is None
    assert [argv[0] for argv in docker.argvs()] == ["image", "run", "rm"]


def test_the_env_allow_list_is_by_exact_name_and_values_stay_off_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docker = _docker(tmp_path, monkeypatch)
    monkeypatch.setenv(DOCKER_ENVS_ENV, "FOO, BAR")  # BAR is not set: not passed
    monkeypatch.setenv("FOO", "foo-value")
    monkeypatch.setenv("FOO_SECRET", "s3cret-token")
    assert _run(tmp_path, envs=["GRAPH_VAR=from the graph", "FOO=graph wins"]).error is None
    (run,) = [call for call in docker.calls() if call["argv"][0] == "run"]
    assert run["container_env"] == {"FOO": "graph wins", "GRAPH_VAR": "from the graph"}
    assert ["--env", "FOO", "--env", "GRAPH_VAR"] == run["argv"][-7:-3]
    assert not any("s3cret" in arg or "graph wins" in arg for argv in docker.argvs() for arg in argv)


def test_nothing_of_the_host_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker = _docker(tmp_path, monkeypatch)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cret")
    assert _run(tmp_path).error is None
    (run,) = [call for call in docker.calls() if call["argv"][0] == "run"]
    assert run["container_env"] == {}
    assert "--env" not in run["argv"]


@pytest.mark.parametrize("code", [1, 2, 137])
def test_any_non_zero_exit_fails_and_the_container_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    docker = _docker(tmp_path, monkeypatch, run=Answer(lines=["ERROR: bad input", "bye"], exit=code))
    error = _run(tmp_path).error
    assert type(error) is GraphError
    assert str(error).endswith(f"failed (exit code {code}): ERROR: bad input")
    assert docker.argvs()[-1] == ["rm", "-f", _container(docker)]


def test_fatal_and_temporary_conventions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker = _docker(tmp_path, monkeypatch, run=Answer(lines=["FATAL ERROR: empty product"], exit=3))
    assert isinstance(_run(tmp_path).error, GraphFatalError)
    assert docker.argvs()[-1][:2] == ["rm", "-f"]
    _docker(tmp_path, monkeypatch, run=Answer(lines=["TEMPORARY ERROR: 503 from the DEM server"], exit=1))
    assert isinstance(_run(tmp_path).error, GraphTemporaryError)


def test_a_timeout_kills_the_cli_and_removes_the_container(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docker = _docker(tmp_path, monkeypatch, run=Answer(lines=["working"], sleep_s=60))
    error = _run(tmp_path, step_timeout_s="0.5").error
    assert isinstance(error, GraphTemporaryError)
    assert "timed out after 0.5 s" in str(error)
    assert docker.argvs()[-1] == ["rm", "-f", _container(docker)]


@pytest.mark.parametrize(
    ("answer", "kind", "text"),
    [
        (Answer(lines=[f"Error response from daemon: manifest for {IMAGE} not found"], exit=1),
         GraphError, ""),
        (Answer(lines=["Error response from daemon: net/http: TLS handshake timeout"], exit=1),
         GraphTemporaryError, ""),
        (Answer(sleep_s=60), GraphTemporaryError, "timed out after 0.5 s"),
    ],
)  # fmt: skip
def test_pull_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: Answer, kind: type[Exception], text: str
) -> None:
    docker = _docker(tmp_path, monkeypatch, pull=answer)
    error = _run(tmp_path, step_timeout_s="0.5").error
    assert type(error) is kind
    assert f"pulling {IMAGE} {text}" in str(error) if text else f"cannot pull image {IMAGE}" in str(error)
    assert [argv[0] for argv in docker.argvs()] == ["image", "pull"]  # no container was started


def test_an_unreachable_daemon_is_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_daemon = (
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
    )
    _docker(tmp_path, monkeypatch, image=Answer(lines=[no_daemon], exit=1))
    error = _run(tmp_path).error
    assert isinstance(error, GraphTemporaryError)
    assert "the docker daemon is not reachable" in str(error)


def test_an_image_that_would_be_an_option_is_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docker = _docker(tmp_path, monkeypatch)
    with pytest.raises(
        GraphError, match=r"processing_steps\[0\]\.command: '--privileged' is not a docker image"
    ):
        _run(tmp_path, image="--privileged")
    assert docker.calls() == []


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (DOCKER_ENVS_ENV, "AWS_*", f"{DOCKER_ENVS_ENV}: 'AWS_\\*' is not a variable name"),
        (DOCKER_MOUNTS_ENV, "data/dem", f"{DOCKER_MOUNTS_ENV}: 'data/dem' must be an absolute host path"),
        (
            DOCKER_MOUNTS_ENV,
            "/no/such/dem",
            f"{DOCKER_MOUNTS_ENV}: '/no/such/dem' does not exist on this host",
        ),
    ],
)
def test_bad_docker_settings_name_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    docker = _docker(tmp_path, monkeypatch)
    monkeypatch.setenv(variable, value)
    error = _run(tmp_path).error
    assert type(error) is GraphError
    assert message.replace("\\", "") in str(error)
    assert docker.calls() == []


def test_graph_envs_cannot_reconfigure_the_docker_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _docker(tmp_path, monkeypatch)
    error = _run(tmp_path, envs=["DOCKER_HOST=tcp://elsewhere:2375"]).error
    assert "envs[0]: 'DOCKER_HOST': DOCKER_* variables cannot be passed to a container" in str(error)


def test_without_the_docker_cli_the_graph_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    graph = parse_graph({"processing_steps": [{"engine": "docker", "command": IMAGE}]}, source="test")
    with pytest.raises(GraphError) as info:
        check_runnable(graph)
    assert (
        f"graph test: processing_steps[0] (docker {IMAGE}): engine 'docker' is not available here: the "
        "docker CLI is not on PATH; install the docker CLI"
    ) in str(info.value)


def _docker_ok(*argv: str) -> bool:
    try:
        return subprocess.run(["docker", *argv], capture_output=True, timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.slow
def test_a_real_docker_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not _docker_ok("info"):
        pytest.skip("no docker daemon here (`docker info` fails): the real docker run is not tested")
    base = os.environ.get("GEOCUBE_INGESTER_TEST_DOCKER_IMAGE", "busybox:latest")
    if not _docker_ok("image", "inspect", base):
        pytest.skip(f"image {base} is not present locally (tests never pull); `docker pull {base}` first")
    tag = "geocube-ingester-test-echo:latest"
    dockerfile = (
        f'FROM {base}\nENTRYPOINT ["sh", "-c", "echo \\"$@\\" > args.txt; echo \\"$FOO\\" > env.txt", "--"]\n'
    )
    subprocess.run(
        ["docker", "build", "-q", "-t", tag, "-"], input=dockerfile.encode(), check=True, timeout=300
    )
    monkeypatch.setenv(DOCKER_ENVS_ENV, "FOO")
    monkeypatch.setenv("FOO", "from the host")
    monkeypatch.delenv(DOCKER_MOUNTS_ENV, raising=False)
    assert _run(tmp_path, image=tag).error is None
    work = tmp_path / "work"
    assert (work / "args.txt").read_text() == "--a=20190905_T0_cls.tif --b=x y\n"
    assert (work / "env.txt").read_text() == "from the host\n"
    left = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", f"name={CONTAINER_PREFIX}"],
        capture_output=True, text=True, check=True, timeout=20,
    )  # fmt: skip
    assert left.stdout.strip() == ""
