"""Graph JSON read as leniently as the original reads it, where that is harmless (issue 10, item 6).

The original decodes graphs with Go's ``encoding/json`` (``graph/graph_json.go``): struct keys match in
any case, ``DTypeFromString`` reads an unknown dtype as *undefined*, ``nbands`` defaults to 1 only when
absent, and an out-file's ``layer`` may be missing. ``graphs/model.py`` says how each is read here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graphs.errors import GraphError
from graphs.loader import load_graph_file, parse_graph


def _load(document: Any) -> Any:
    return parse_graph(document, source="test.json")


def _problem(document: Any) -> str:
    with pytest.raises(GraphError) as info:
        _load(document)
    return str(info.value)


def _shout(struct: dict[str, Any]) -> dict[str, Any]:
    return {key.upper(): value for key, value in struct.items()}


def _shout_graph(document: dict[str, Any]) -> dict[str, Any]:
    """The graph with every struct key upper-cased; map keys (config keys, arg names) as they are."""

    def step(s: dict[str, Any]) -> dict[str, Any]:
        return _shout(s) | {"ARGS": {name: _shout(arg) for name, arg in (s.get("args") or {}).items()}}

    def out_file(o: dict[str, Any]) -> dict[str, Any]:
        shouted = _shout(o)
        if o.get("dformat_out"):
            shouted["DFORMAT_OUT"] = _shout(o["dformat_out"])
        return shouted

    return _shout(document) | {
        "PROCESSING_STEPS": [step(s) for s in document.get("processing_steps") or []],
        "IN_FILES": [[_shout(f) for f in files or []] for files in document.get("in_files") or []],
        "OUT_FILES": [[out_file(f) for f in files or []] for files in document.get("out_files") or []],
    }


def _original_files(original_graphs: Path) -> list[Path]:
    files = sorted(original_graphs.glob("*.json"))
    assert files, f"no graph in {original_graphs}"
    return files


def test_every_original_json_graph_loads_and_loads_the_same_with_keys_in_any_case(
    original_graphs: Path,
) -> None:
    for path in _original_files(original_graphs):
        document = json.loads(path.read_text())
        graph = load_graph_file(path)
        assert _load(_shout_graph(document)).model_dump() == graph.model_dump(), path.name


def test_keys_in_mixed_case_but_map_keys_keep_theirs() -> None:
    graph = _load(
        {
            "Config": {"Dformat_Out": "uint16,0,0,1"},
            "Processing_Steps": [
                {
                    "Engine": "python",
                    "Command": "python/x.py",
                    "Args": {"File-In": {"Type": "in", "Tile_Index": 1, "Layer": "a", "Extension": "tif"}},
                    "Condition": "different_T0_T1",
                }
            ],
            "In_Files": [[{"Layer": "a", "Extension": "tif", "Condition": "pass"}]],
            "Out_Files": [
                [
                    {
                        "Layer": "b",
                        "Action": "to_index",
                        "DFormat_Out": {"Type": "config", "Value": "Dformat_Out"},
                    }
                ]
            ],
        }
    )
    assert graph.config == {"Dformat_Out": "uint16,0,0,1"}
    arg = graph.processing_steps[0].args["File-In"]
    assert (arg.type.value, arg.tile_index, arg.layer) == ("in", 1, "a")
    assert graph.out_files[0][0].dformat_out is not None
    assert graph.out_files[0][0].dformat_out.value == "Dformat_Out"


def test_two_spellings_of_one_key_are_refused() -> None:
    message = _problem({"out_files": [[{"layer": "a", "Layer": "b"}]]})
    assert "out_files[0][0]: keys 'layer' and 'Layer' both mean 'layer'" in message
    assert "keep one" in message


def test_an_unknown_key_in_any_case_is_still_a_typo() -> None:
    assert "out_files[0][0].Extention: unknown key (typo?)" in _problem(
        {"out_files": [[{"layer": "a", "Extention": "tif"}]]}
    )


@pytest.mark.parametrize("datatype", ["undefined", "Undefined", "int64", "uint12"])
@pytest.mark.parametrize(
    "out_file",
    [
        {"action": "to_create"},
        {"action": "to_delete"},
        {},
        {"action": "to_index", "dformat_out": {"type": "fixed", "value": "float32,0,0,1"}},
    ],
)
def test_an_unknown_or_undefined_datatype_is_read_as_none_where_it_is_never_used(
    datatype: str, out_file: dict[str, Any]
) -> None:
    graph = _load({"out_files": [[{"layer": "a", "extension": "tif", "datatype": datatype} | out_file]]})
    assert graph.out_files[0][0].datatype is None


def test_a_known_datatype_in_any_case_is_kept() -> None:
    graph = _load({"out_files": [[{"layer": "a", "datatype": "FLOAT32", "action": "to_index"}]]})
    assert graph.out_files[0][0].datatype == "float32"


def test_an_undefined_datatype_of_a_file_indexed_by_it_is_refused() -> None:
    message = _problem({"out_files": [[{"layer": "a", "datatype": "undefined", "action": "to_index"}]]})
    assert "out_files[0][0].datatype: unknown dtype 'undefined'" in message
    assert "give a known dtype, or a dformat_out" in message


@pytest.mark.parametrize("nbands", [0, None])
def test_nbands_zero_or_null_is_one(nbands: int | None) -> None:
    assert _load({"out_files": [[{"layer": "a", "nbands": nbands}]]}).out_files[0][0].nbands == 1


def test_nbands_four_is_kept_and_negative_is_refused() -> None:
    assert _load({"out_files": [[{"layer": "a", "nbands": 4}]]}).out_files[0][0].nbands == 4
    assert "out_files[0][0].nbands: Input should be greater than or equal to 1" in _problem(
        {"out_files": [[{"layer": "a", "nbands": -1}]]}
    )


def test_an_ignored_out_file_without_layer_is_dropped_and_positions_stay_true() -> None:
    graph = _load(
        {"out_files": [[{"extension": "tif"}, {"layer": "b"}], [{"layer": "", "action": "to_ignore"}]]}
    )
    assert [[o.layer for o in files] for files in graph.out_files] == [["b"], [], []]
    message = _problem({"out_files": [[{"extension": "tif"}, {"layer": "b", "action": "to_upload"}]]})
    assert "out_files[0][1].action: unknown action 'to_upload'" in message


@pytest.mark.parametrize("action", ["to_create", "to_index", "to_delete"])
def test_an_out_file_without_layer_that_would_be_acted_on_is_refused(action: str) -> None:
    message = _problem({"out_files": [[{"extension": "tif", "action": action}]]})
    assert f"out_files[0][0]: layer: missing; an out-file with action '{action}' needs its layer" in message


@pytest.mark.parametrize(
    "document",
    [
        [],
        "graph",
        None,
        {"processing_steps": "python"},
        {"processing_steps": [None]},
        {"processing_steps": [{"engine": 3, "command": ["x"]}]},
        {"out_files": [[5]]},
        {"out_files": {"a": 1}},
        {"in_files": [["a"]]},
        {"config": {"a": {"b": 1}}},
        {"config": [], "envs": "A=1"},
        {"processing_steps": [{"engine": "cmd", "command": "x", "args": {"a": "fixed"}}]},
        {"out_files": [[{"layer": "a", "nbands": "many", "exponent": [], "dformat_out": 1}]]},
        {1: 2},
    ],
)
def test_bad_input_is_a_graph_error_never_a_traceback(document: Any) -> None:
    with pytest.raises(GraphError, match=r"graph test\.json"):
        _load(document)


def test_a_file_that_is_not_utf8_is_a_graph_error(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_bytes(b'{"config": "\xff\xfe"}')
    with pytest.raises(GraphError, match=r"g\.json: not UTF-8 text"):
        load_graph_file(path)
