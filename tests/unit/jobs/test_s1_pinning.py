"""The original's S1 payload: its graphs' variant is decided once, at validation, against the engines
where processing runs, and pinned in graph_config for the download and processing workers."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from graphs.loader import load_graph
from jobs.ingestion import validate


@pytest.fixture
def denmark_s1(shared_fixtures: Path) -> dict[str, Any]:
    path = shared_fixtures / "original-ingester" / "payloads" / "DenmarkDemoS1.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_without_snap_in_the_pool_the_python_variant_is_pinned_and_coherence_warned(
    denmark_s1: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="jobs.validation"):
        payload, _ = validate(denmark_s1, with_geocube=False, engines=frozenset({"python", "cmd"}))
    assert payload.graph_config["s1_engine"] == "python"
    assert payload.graph_config["projection"] == "EPSG:32632"  # the payload's own keys stay
    assert "layers.coh_VV:" in caplog.text and "layers.coh_VH:" in caplog.text
    assert "layers.sigma0_VV" not in caplog.text
    # A worker that has gpt still loads the pinned variant, not its own "auto".
    graph = load_graph(
        "S1BackscatterCoherence", engines=frozenset({"python", "cmd", "snap"}), config=payload.graph_config
    )
    assert all(step.engine.value != "snap" for step in graph.processing_steps)


def test_with_snap_declared_the_snap_variant_is_pinned(denmark_s1: dict[str, Any]) -> None:
    payload, _ = validate(denmark_s1, with_geocube=False, engines=frozenset({"python", "cmd", "snap"}))
    assert payload.graph_config["s1_engine"] == "snap"
    graph = load_graph("S1BackscatterCoherence", engines=frozenset({"python"}), config=payload.graph_config)
    assert any(step.engine.value == "snap" for step in graph.processing_steps)


def test_an_explicit_choice_wins_over_the_engines(denmark_s1: dict[str, Any]) -> None:
    denmark_s1["graph_config"]["s1_engine"] = "python"
    payload, _ = validate(denmark_s1, with_geocube=False, engines=frozenset({"python", "cmd", "snap"}))
    assert payload.graph_config["s1_engine"] == "python"


def test_other_payloads_get_no_s1_key(shared_fixtures: Path) -> None:
    raw = json.loads((shared_fixtures / "original-ingester" / "payloads" / "DenmarkDemoS2.json").read_text())
    payload, _ = validate(raw, with_geocube=False, engines=frozenset({"python", "cmd"}))
    assert "s1_engine" not in payload.graph_config
