"""``geocube-ingester validate``: every problem printed at once, against the local Geocube."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from common.dataformat import DataFormat
from demo.setup import ensure_variables, load_demo_payload
from flows.cli import main
from geocube_client.client import GeocubeClient
from geocube_client.errors import GeocubeAlreadyExistsError

pytestmark = pytest.mark.integration


@pytest.fixture
def geocube_env(local_geocube: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GEOCUBE_SERVER", local_geocube)
    monkeypatch.setenv("GEOCUBE_INSECURE", "true")
    with GeocubeClient(local_geocube, insecure=True) as client:
        ensure_variables(client, load_demo_payload())
    return local_geocube


def write(tmp_path: Path, payload: dict[str, Any]) -> str:
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


def test_a_variable_whose_format_loses_the_data_is_refused_with_its_fix(
    tmp_path: Path, geocube_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's first mistake: reflectance (real [0, 1]) into a UInt16 [0, 10000] variable, nodata 0."""
    with GeocubeClient(geocube_env, insecure=True) as client:
        try:
            variable_id = client.create_variable(
                name="S2_B04_dn", bands=["dn"], resampling="NEAR",
                dformat=DataFormat(dtype="uint16", no_data=0, min_value=0, max_value=10000),
            )  # fmt: skip
            client.instantiate_variable(variable_id, "raw")
        except GeocubeAlreadyExistsError:
            pass
    bad = load_demo_payload() | {"layers": {"B04": {"variable": "S2_B04_dn", "instance": "raw"}}}
    assert main(["validate", write(tmp_path, bad)]) == 2
    err = capsys.readouterr().err
    assert "layers.B04:" in err and "S2_B04_dn" in err
    assert "50 % of its values become 0, the variable's nodata" in err
    assert "create the variable as Float32 [0, 1], nodata NaN" in err


def test_a_malformed_instance_id_is_called_malformed(
    tmp_path: Path, geocube_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = load_demo_payload() | {"layers": {"B04": {"instance_id": "not-an-id"}}}
    assert main(["validate", write(tmp_path, bad)]) == 2
    err = capsys.readouterr().err
    assert "layers.B04.instance_id: 'not-an-id' is malformed: a Geocube instance id is a UUID" in err
    assert "not found" not in err


def test_plan_checks_the_layers_against_the_geocube(
    tmp_path: Path, geocube_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = load_demo_payload() | {"layers": {"B04": {"variable": "NoSuchVariable", "instance": "raw"}}}
    assert main(["plan", write(tmp_path, bad), "--out", str(tmp_path / "plan")]) == 2
    assert "layers.B04: variable 'NoSuchVariable' not found" in capsys.readouterr().err
    assert not (tmp_path / "plan").exists()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("geocube-ingester 0.")


# ---------------------------------------------------------------- status, graph, delete of an AOI


def test_status_and_graph_from_the_ledger_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.unit.catalogue.test_graphviz import burst_series

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    from catalogue.ledger import Ledger, save_ledger
    from storage.local import LocalStorage

    tiles = burst_series("A037_IW1_300001", 12)
    ledger = Ledger(aoi="Cli-Status", tiles={t.key: t for t in tiles}, status={t.key: "DONE" for t in tiles})
    ledger.status[tiles[6].key] = "FAILED"
    save_ledger(LocalStorage(tmp_path), ledger)
    assert main(["status", "Cli-Status", "--storage", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "AOI Cli-Status: DONE" in out and "tiles: 12 (11 done, 1 failed)" in out
    assert "no Prefect API (PREFECT_API_URL is unset): from the ledger alone" in out
    assert main(["graph", "Cli-Status", "--storage", str(tmp_path)]) == 0
    dot = capsys.readouterr().out
    assert '"6 done\\n2024-01-03 .. 2024-02-02"' in dot and dot.count("color=red") == 1
    monkeypatch.setenv("PATH", str(tmp_path))  # no Graphviz
    assert main(["graph", "Cli-Status", "--storage", str(tmp_path), "--format", "png"]) == 1
    assert "install the Debian package graphviz" in capsys.readouterr().err
    assert main(["status", "NoSuchAOI", "--storage", str(tmp_path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["state"] == "NEW" and any(
        "nothing known of AOI 'NoSuchAOI'" in n for n in document["notes"]
    )


def test_delete_asks_lists_removes_and_says_what_it_removed(
    tmp_path: Path, geocube_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from storage.local import LocalStorage
    from tests.integration.geocube_client.conftest import unique
    from tests.integration.test_delete import make_aoi

    aoi = unique("CliDel")
    with GeocubeClient(geocube_env, insecure=True) as client:
        make_aoi(client, LocalStorage(tmp_path), aoi, indexed=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal: no confirmation, nothing removed
    assert main(["delete", aoi, "--storage", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "2 Geocube records" in captured.out and "confirm with --yes" in captured.err
    assert (tmp_path / aoi / "ingested.json").is_file()
    assert main(["delete", aoi, "--storage", str(tmp_path), "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"AOI {aoi}: removed 2 record(s), 3 file(s), 1 ledger(s)" in out
    assert main(["delete", aoi, "--storage", str(tmp_path), "--yes"]) == 0
    assert f"AOI {aoi}: nothing to delete" in capsys.readouterr().out


@pytest.mark.parametrize(("shape", "footprint_key"), [("current", "wkt"), ("legacy", "GeometryWKT")])
def test_plan_writes_the_interchange_shape_asked_and_keeps_the_documents_own(
    tmp_path: Path,
    shared_fixtures: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    shape: str,
    footprint_key: str,
) -> None:
    monkeypatch.delenv("GEOCUBE_SERVER", raising=False)
    original = shared_fixtures / "original-ingester"
    tiles = original / "interchange" / "tiles.json"
    out = tmp_path / "plan"
    args = ["plan", str(original / "payloads" / "DenmarkDemoS1.json"), "--tiles", str(tiles)]
    assert main([*args, "--out", str(out), "--interchange-shape", shape]) == 0
    assert f"{shape} shape" in capsys.readouterr().out
    written = json.loads((out / "tiles.json").read_text())
    scene = written["features"][0]["properties"]
    assert footprint_key in scene
    given = json.loads(tiles.read_text())
    assert {**given.get("properties", {}), "truncated": "false"} == written["properties"]
