from __future__ import annotations

import json
from pathlib import Path

import pytest

from graphs.engines import check_runnable, resolve_command
from graphs.errors import GraphError
from graphs.loader import list_builtin_graphs, load_graph, load_graph_file
from graphs.model import Action, Condition, Engine

ORIGINAL_FILES = [
    "CopyProductToStorage.json",
    "ExtractS2Bands.json",
    "Pass.json",
    "S1BackscatterCoherence.json",
    "S1CoregExtract.json",
]


@pytest.mark.parametrize("name", ORIGINAL_FILES)
def test_every_original_graph_loads_unchanged(original_graphs: Path, name: str) -> None:
    graph = load_graph(str(original_graphs / name))
    assert len(graph.in_files) == 3
    assert len(graph.out_files) <= 3


def test_original_backscatter_coherence_content(original_graphs: Path) -> None:
    graph = load_graph("library/S1BackscatterCoherence.json", graph_root=original_graphs.parent)
    assert len(graph.processing_steps) == 13
    assert graph.config["dformat_out"] == "float32,0,0,1"
    assert [s.engine for s in graph.processing_steps].count(Engine.SNAP) == 5
    assert graph.processing_steps[1].condition == Condition.DIFFERENT_T0_T1
    assert graph.processing_steps[0].args["master"].tile_index == 2
    assert graph.in_files[1][0].condition == Condition.DIFFERENT_T1_T2
    coh_vv = graph.out_files[0][2]
    assert (coh_vv.layer, coh_vv.action, coh_vv.condition) == (
        "coh_VV",
        Action.TO_INDEX,
        Condition.DIFFERENT_T0_T1,
    )
    assert coh_vv.error_condition is None
    assert (coh_vv.exponent, coh_vv.nbands) == (1.0, 1)


def test_snap_graphs_load_but_are_not_runnable_without_gpt(
    original_graphs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEOCUBE_INGESTER_SNAP_GPT", str(tmp_path / "no-gpt"))
    graph = load_graph(str(original_graphs / "S1CoregExtract.json"))
    with pytest.raises(GraphError) as info:
        check_runnable(graph)
    message = str(info.value)
    assert (
        "processing_steps[0] (snap snap/S1_SLC_BkG.xml): engine 'snap' is not available here: gpt not "
        f"found (GEOCUBE_INGESTER_SNAP_GPT={tmp_path / 'no-gpt'} is not an executable file); install ESA SNAP"
        in message
    )
    assert "processing_steps[1] (snap snap/S1_SLC_SlvExtract.xml)" in message


@pytest.mark.parametrize("name", ["CopyProductToStorage", "Pass"])
def test_our_library_matches_the_original(original_graphs: Path, name: str) -> None:
    assert load_graph(name).model_dump() == load_graph_file(original_graphs / f"{name}.json").model_dump()


@pytest.mark.parametrize("builtin", list_builtin_graphs())
def test_builtins_are_runnable(builtin: str) -> None:
    graph = load_graph(builtin)
    check_runnable(graph)
    assert graph.source == builtin
    for i, step in enumerate(graph.processing_steps):
        assert Path(resolve_command(step, index=i, roots=graph.command_roots)).is_file()


@pytest.mark.parametrize("spelling", ["library/ExtractS2Bands.json", "library/graph/ExtractS2Bands.json"])
def test_original_spellings_map_to_our_builtin(spelling: str) -> None:
    graph = load_graph(spelling)
    assert graph == load_graph("ExtractS2Bands")
    assert graph.out_files[0][0].extension == "tif"  # ours writes COGs, not the original's jp2 copies


@pytest.mark.parametrize(
    ("spelling", "where"),
    [
        ("ExtractS2Bands", "library/ExtractS2Bands.json"),
        ("ExtractS2Bands", "ExtractS2Bands.json"),
        ("library/ExtractS2Bands.json", "library/ExtractS2Bands.json"),
        ("library/graph/ExtractS2Bands.json", "library/graph/ExtractS2Bands.json"),
    ],
)
def test_a_users_copy_shadows_the_builtin(
    tmp_path: Path, original_graphs: Path, spelling: str, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    own = tmp_path / where
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_bytes((original_graphs / "ExtractS2Bands.json").read_bytes())
    with caplog.at_level("INFO", logger="graphs.loader"):
        graph = load_graph(spelling, graph_root=tmp_path)
    assert graph.source == str(own)
    assert graph.config["dformat_out"] == "uint16,NaN,0,32767"
    assert graph.out_files[0][0].extension == "jp2"
    assert "B8A" not in {o.layer for o in graph.out_files[0]}
    assert f"the user's file {own} (it shadows the built-in ExtractS2Bands)" in caplog.text


def test_without_a_users_copy_the_builtin_is_used_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "Other.json").write_text("{}")
    with caplog.at_level("INFO", logger="graphs.loader"):
        graph = load_graph("ExtractS2Bands", graph_root=tmp_path)
    assert graph.source == "ExtractS2Bands"
    assert "graph ExtractS2Bands: the built-in ExtractS2Bands" in caplog.text


def test_list_builtin_graphs() -> None:
    assert list_builtin_graphs() == [
        "CopyProductToStorage",
        "ExtractLandsatBands",
        "ExtractS2Bands",
        "Pass",
        "PhrPreProcessing",
        "PhrProcessing",
        "S1Backscatter",
        "S1BackscatterCoherence",
        "S1BurstSplit",
        "S1Clean",
        "S1CoregExtract",
        "S1Preprocessing",
        "SpotPreProcessing",
        "SpotProcessing",
    ]


def test_unknown_graph_lists_the_builtins(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match=r"'S1Backscater'.*CopyProductToStorage, ExtractLandsatBands, "):
        load_graph("S1Backscater", graph_root=tmp_path)


def test_remote_graphs_are_not_supported_yet() -> None:
    with pytest.raises(GraphError, match="remote graphs are not supported yet") as info:
        load_graph("gs://bucket/graph.json?token=secret")
    assert "secret" not in str(info.value)


def test_graph_relative_to_graph_root_and_its_commands(tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "Mine.json").write_text(
        json.dumps({"processing_steps": [], "in_files": [[], [], []]})
    )
    graph = load_graph("library/Mine.json", graph_root=tmp_path)
    assert graph.command_roots[0] == tmp_path
    assert tmp_path.resolve() in graph.command_roots


def test_graph_relative_to_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "g.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert load_graph("g.json").processing_steps == []


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{\n  "config": {,\n}')
    with pytest.raises(GraphError, match=r"bad\.json: not valid JSON: .*line 2"):
        load_graph(str(tmp_path / "bad.json"))
