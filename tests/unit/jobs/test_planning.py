"""Which tile graphs make a tile wait for its previous and reference (``jobs.planning``). No Prefect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graphs.loader import BUILTIN_GRAPHS, load_graph, load_graph_file, parse_graph
from jobs.planning import graph_reads_links

STEP: dict[str, Any] = {"engine": "python", "command": "python/extract_s2.py"}


def test_the_optical_and_backscatter_graphs_read_no_t1_t2_so_their_tiles_run_in_parallel() -> None:
    parallel = ["ExtractS2Bands", "ExtractLandsatBands", "CopyProductToStorage", "Pass", "S1Backscatter"]
    assert {name: graph_reads_links(load_graph(name)) for name in parallel} == dict.fromkeys(parallel, False)
    if "S1CoregExtract" in BUILTIN_GRAPHS:  # coregistration against the reference
        assert graph_reads_links(load_graph("S1CoregExtract"))


def test_the_originals_coregistration_graphs_read_t1_t2(shared_fixtures: Path) -> None:
    folder = shared_fixtures / "original-ingester" / "graphs"
    found = {p.stem: graph_reads_links(load_graph_file(p)) for p in sorted(folder.rglob("*.json"))}
    assert found["S1CoregExtract"] and found["S1BackscatterCoherence"]
    assert not found["ExtractS2Bands"] and not found["CopyProductToStorage"]


@pytest.mark.parametrize(
    ("graph", "reads"),
    [
        ({"processing_steps": [STEP]}, False),
        ({"processing_steps": [STEP], "in_files": [[{"layer": "a"}], [], []]}, False),
        ({"processing_steps": [STEP], "in_files": [[], [{"layer": "a"}], []]}, True),
        ({"processing_steps": [STEP], "in_files": [[], [], [{"layer": "a"}]]}, True),
        ({"processing_steps": [STEP], "out_files": [[], [{"layer": "a", "action": "to_create"}], []]}, True),
        ({"processing_steps": [STEP | {"condition": "different_T1_T2"}]}, True),
        ({"processing_steps": [STEP | {"condition": "pass"}]}, False),
        ({"processing_steps": [STEP], "in_files": [[{"layer": "a", "condition": "equal_T0_T2"}]]}, True),
        (
            {"processing_steps": [STEP], "out_files": [[{"layer": "a", "condition": "different_T0_T1"}]]},
            True,
        ),
        ({"processing_steps": [STEP], "out_files": [[{"layer": "a", "condition": "file_exists"}]]}, False),
        ({"processing_steps": [STEP | {"args": {"d": {"type": "tile", "value": "cohdate"}}}]}, True),
        ({"processing_steps": [STEP | {"args": {"d": {"type": "tile", "value": "date"}}}]}, False),
        (
            {"processing_steps": [STEP | {"args": {"i": {"type": "in", "layer": "a", "tile_index": 1}}}]},
            True,
        ),
        ({"processing_steps": [STEP | {"args": {"i": {"type": "in", "layer": "a"}}}]}, False),
    ],
)
def test_a_graph_reads_t1_t2_through_files_conditions_or_arguments(
    graph: dict[str, Any], reads: bool
) -> None:
    assert graph_reads_links(parse_graph(graph, source="test")) is reads
