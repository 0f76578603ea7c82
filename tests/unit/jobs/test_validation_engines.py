"""Validation refuses a graph whose engine is missing here, naming the step; ``plan`` only warns."""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from common.errors import ValidationFailedError
from graphs.loader import load_graph
from graphs.snap_engine import SNAP_GPT_ENV
from jobs.validation import validate_payload
from tests.support.standin_exec import make_standin

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[1.0, 43.0], [2.0, 43.0], [2.0, 44.0], [1.0, 44.0], [1.0, 43.0]]],
}


def _payload(tile_graph: str) -> dict[str, Any]:
    return {
        "name": "MyAOI",
        "type": "Feature",
        "geometry": SQUARE,
        "start_time": "2022-01-01T00:00:00Z",
        "end_time": "2022-01-12T00:00:00Z",
        "scene_type": {"constellation": "sentinel1", "parameters": {}},
        "scene_graph_name": "CopyProductToStorage",
        "tile_graph_name": tile_graph,
        "layers": {"sigma0_VV": {"variable": "S1_VV", "instance": "raw"}},
    }


@pytest.fixture
def snap_graph(tmp_path: Path) -> Path:
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "Backscatter.xml").write_text("<graph id='g'/>")
    graph = {
        "processing_steps": [
            {"engine": "python", "command": "python/extract_s2.py"},
            {"engine": "snap", "command": "snap/Backscatter.xml", "args": {}},
        ],
        "out_files": [[{"layer": "sigma0_VV", "extension": "tif", "action": "to_index"}]],
    }
    path = tmp_path / "library" / "Backscatter.json"
    path.parent.mkdir()
    path.write_text(json.dumps(graph))
    return path


def _validate(tmp_path: Path, **options: Any) -> Any:
    loader = partial(load_graph, graph_root=tmp_path)
    return validate_payload(_payload("library/Backscatter.json"), load_graph=loader, geocube=None, **options)


def test_a_snap_graph_is_refused_without_gpt_naming_the_step(
    snap_graph: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SNAP_GPT_ENV, str(tmp_path / "nowhere" / "gpt"))
    with pytest.raises(ValidationFailedError) as info:
        _validate(tmp_path)
    problems = {p.field: p.message for p in info.value.problems}
    assert list(problems) == ["tile_graph_name"]
    assert problems["tile_graph_name"].startswith(
        f"graph {snap_graph}: processing_steps[1] (snap snap/Backscatter.xml): engine 'snap' is not "
        f"available here: gpt not found ({SNAP_GPT_ENV}={tmp_path / 'nowhere' / 'gpt'} is not an "
        "executable file); install ESA SNAP"
    )
    assert "processing_steps[0]" not in problems["tile_graph_name"]


def test_plan_needs_no_engine_it_warns(
    snap_graph: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(SNAP_GPT_ENV, str(tmp_path / "nowhere" / "gpt"))
    with caplog.at_level(logging.WARNING, logger="jobs.validation"):
        payload, _ = _validate(tmp_path, require_engines=False)
    assert payload.tile_graph_name == "library/Backscatter.json"
    assert "tile_graph_name: graph" in caplog.text
    assert "engine 'snap' is not available here" in caplog.text


def test_with_gpt_the_snap_graph_validates(
    snap_graph: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gpt = make_standin(tmp_path / "bin", "gpt")
    monkeypatch.setenv(SNAP_GPT_ENV, str(gpt.path))
    payload, _ = _validate(tmp_path)
    assert payload.tile_graph_name == "library/Backscatter.json"
    assert gpt.calls() == []  # validation runs nothing


def test_the_cli_plan_needs_no_engine_but_an_ingestion_does(
    snap_graph: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs.ingestion import validate

    monkeypatch.setenv(SNAP_GPT_ENV, str(tmp_path / "nowhere" / "gpt"))
    monkeypatch.setenv("GEOCUBE_INGESTER_GRAPH_ROOT", str(tmp_path))
    monkeypatch.delenv("GEOCUBE_SERVER", raising=False)
    raw = _payload("library/Backscatter.json")
    payload, _ = validate(raw, with_geocube=False, require_engines=False)
    assert payload.tile_graph_name == "library/Backscatter.json"
    with pytest.raises(ValidationFailedError, match="engine 'snap' is not available here"):
        validate(raw, with_geocube=False)
