"""``geocube-ingester validate``: every problem printed at once, against the local Geocube."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo.setup import ensure_variables, load_demo_payload
from flows.cli import main
from geocube_client.client import GeocubeClient

pytestmark = pytest.mark.integration


@pytest.fixture
def geocube_env(local_geocube: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GEOCUBE_SERVER", local_geocube)
    monkeypatch.setenv("GEOCUBE_INSECURE", "true")
    with GeocubeClient(local_geocube, insecure=True) as client:
        ensure_variables(client, load_demo_payload())
    return local_geocube


def write(tmp_path: Path, payload: dict) -> str:
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(payload))
    return str(path)


def test_valid_payload(tmp_path: Path, geocube_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", write(tmp_path, load_demo_payload())]) == 0
    out = capsys.readouterr().out
    assert "'DemoToulouse' is valid" in out and "4 layer(s)" in out


def test_every_problem_is_printed(
    tmp_path: Path, geocube_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = load_demo_payload() | {
        "name": "bad name",
        "tile_graph_name": "ExtractS2Bandz",
        "layers": {
            "B04": {"variable": "S2_B04", "instance": "calibrated"},
            "B02": {"variable": "NoSuchVariable", "instance": "raw"},
        },
    }
    assert main(["validate", write(tmp_path, bad)]) == 2
    err = capsys.readouterr().err
    for expected in (
        "name: wrong format",
        "tile_graph_name:",
        "ExtractS2Bandz",
        "layers.B04: unknown instance 'calibrated'",
        "known instances: raw",
        "layers.B02: variable 'NoSuchVariable' not found",
    ):
        assert expected in err, err


def test_without_geocube_layers_are_not_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GEOCUBE_SERVER", raising=False)
    assert main(["validate", write(tmp_path, load_demo_payload())]) == 0
    assert "set GEOCUBE_SERVER" in capsys.readouterr().out


def test_layer_the_graph_does_not_index(
    tmp_path: Path, geocube_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = load_demo_payload()
    bad["layers"]["NDVI"] = {"variable": "S2_B04", "instance": "raw"}
    assert main(["validate", write(tmp_path, bad)]) == 2
    assert "layers.NDVI: the tile graph 'ExtractS2Bands' indexes no layer 'NDVI'" in capsys.readouterr().err
