"""The processing pool's engine declaration, and validation against it instead of this machine's engines."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from common.errors import ValidationFailedError
from flows.pools import ENGINES_ENV, declare_engines, engines_of_template, parse_engines, processing_engines
from graphs.loader import load_graph
from graphs.model import Engine
from jobs.validation import validate_payload

REPO = Path(__file__).resolve().parents[2]
PREFECT = Path(sys.executable).with_name("prefect")


def default_template() -> dict[str, Any]:
    done = subprocess.run(
        [str(PREFECT), "work-pool", "get-default-base-job-template", "--type", "process"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


def test_engine_lists_are_read_strictly() -> None:
    assert parse_engines(" Snap , docker") == {"python", "cmd", "snap", "docker"}
    assert parse_engines("") == {"python", "cmd"}
    with pytest.raises(ValueError, match=r"unknown engine.*gdal.*known: cmd, docker, python, snap"):
        parse_engines("snap,gdal")


@pytest.mark.slow  # seconds: a prefect CLI, or a slow server
def test_declaration_round_trips_through_prefects_own_template() -> None:
    template = default_template()
    assert engines_of_template(template) is None  # Prefect's default declares nothing
    declared = declare_engines(template, frozenset({"python", "cmd", "snap"}))
    assert declared["variables"]["properties"]["env"]["default"] == {ENGINES_ENV: "cmd,python,snap"}
    assert engines_of_template(declared) == frozenset({"python", "cmd", "snap"})
    assert template["variables"]["properties"]["env"].get("default") is None  # the input is not changed


@pytest.mark.slow  # seconds: a prefect CLI, or a slow server
def test_the_up_script_command_writes_the_declared_template() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flows.pools", "declare", "snap"],
        input=json.dumps(default_template()),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert engines_of_template(json.loads(done.stdout)) == frozenset({"python", "cmd", "snap"})
    bad = subprocess.run(
        [sys.executable, "-m", "flows.pools", "declare", "snapp"],
        input="{}",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert bad.returncode == 2
    assert "GEOCUBE_INGESTER_PROCESSING_ENGINES: unknown engine(s) snapp" in bad.stderr


@pytest.fixture
def snap_graph(tmp_path: Path) -> Path:
    indexed = {
        "layer": "x",
        "extension": "tif",
        "action": "to_index",
        "dformat_out": {"type": "fixed", "value": "uint8,0,0,255"},
        "ext_min_value": 0,
        "ext_max_value": 255,
    }
    graph = {
        "processing_steps": [{"engine": "snap", "command": "snap/graph.xml", "args": {}}],
        "in_files": [[], [], []],
        "out_files": [[indexed], [], []],
    }
    path = tmp_path / "snapgraph.json"
    path.write_text(json.dumps(graph))
    return path


def payload_for(graph: Path) -> dict[str, Any]:
    return {
        "name": "Pools",
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[1, 43], [1.1, 43], [1.1, 43.1], [1, 43.1], [1, 43]]],
        },
        "start_time": "2024-01-01T00:00:00Z",
        "end_time": "2024-01-02T00:00:00Z",
        "scene_type": {"constellation": "sentinel2", "parameters": {}},
        "scene_graph_name": "CopyProductToStorage",
        "tile_graph_name": str(graph),
        "layers": {"x": {"variable": "X", "instance": "raw"}},
    }


def test_validation_follows_the_declared_engines_not_this_machine(snap_graph: Path) -> None:
    check: Callable[..., Any] = validate_payload
    raw = payload_for(snap_graph)
    payload, _ = check(raw, load_graph=load_graph, geocube=None, engines=frozenset({"python", "cmd", "snap"}))
    assert payload.tile_graph_name == str(snap_graph)
    with pytest.raises(ValidationFailedError) as refused:
        check(raw, load_graph=load_graph, geocube=None, engines=frozenset({"python", "cmd"}))
    message = str(refused.value)
    assert "tile_graph_name" in message
    assert (
        "processing_steps[0] (snap snap/graph.xml): the processing pool declares the engines cmd, python"
        in message
    )
    assert "GEOCUBE_INGESTER_PROCESSING_ENGINES" in message


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_api")
def test_the_parent_reads_the_processing_pools_declaration() -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    assert processing_engines() is None  # no process-tile deployment yet: this machine's engines
    with get_client(sync_client=True) as client:
        template = declare_engines(default_template(), frozenset({"python", "cmd", "docker"}))
        client.create_work_pool(
            WorkPoolCreate(name="pools-test-processing", type="process", base_job_template=template),
            overwrite=True,
        )
        flow_id = client.create_flow_from_name("process-tile")
        client.create_deployment(flow_id=flow_id, name="process-tile", work_pool_name="pools-test-processing")
    assert processing_engines() == frozenset({Engine.PYTHON.value, Engine.CMD.value, Engine.DOCKER.value})


def test_the_deployments_heartbeat_is_the_one_the_zombie_automation_expects() -> None:
    import yaml

    from flows.zombies import HEARTBEAT_S

    deployments = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    for deployment in deployments:
        env = deployment["work_pool"]["job_variables"]["env"]
        assert float(env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"]) == HEARTBEAT_S, deployment["name"]
