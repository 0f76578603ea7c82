from __future__ import annotations

from typing import Any

import pytest

from geocube_client.models import DTYPE_TO_PROTO_NAME
from geocube_client.pb import geocube_pb2 as pb
from graphs.errors import GraphError
from graphs.loader import parse_graph
from graphs.model import Condition


def _step(**overrides: Any) -> dict[str, Any]:
    return {"engine": "python", "command": "python/x.py", "args": {}, "condition": "pass"} | overrides


def _load(**document: Any) -> Any:
    return parse_graph(document, source="test.json")


def _problem(**document: Any) -> str:
    with pytest.raises(GraphError) as info:
        _load(**document)
    return str(info.value)


def test_unknown_engine() -> None:
    assert "processing_steps[0].engine: unknown engine 'pyton'; known: python, cmd, snap, docker" in _problem(
        processing_steps=[_step(engine="pyton")]
    )


def test_unknown_step_condition_lists_the_tile_conditions() -> None:
    message = _problem(processing_steps=[_step(condition="different_T0_T3")])
    assert (
        "processing_steps[0].condition: unknown condition 'different_T0_T3'; known: pass, different_T0_T1"
        in message
    )


def test_error_condition_is_rejected_in_a_step() -> None:
    message = _problem(processing_steps=[_step(condition="on_fatal_failure")])
    assert "processing_steps[0].condition: condition 'on_fatal_failure' is not allowed here" in message


def test_omitted_or_empty_step_condition_means_pass() -> None:
    step = _step()
    del step["condition"]
    graph = _load(processing_steps=[step, _step(condition="")])
    assert [s.condition for s in graph.processing_steps] == [Condition.PASS, Condition.PASS]


def test_unknown_action() -> None:
    message = _problem(out_files=[[{"layer": "B01", "extension": "tif", "action": "to_upload"}]])
    assert (
        "out_files[0][0].action: unknown action 'to_upload'; known: to_ignore, to_create, to_index, to_delete"
        in (message)
    )


def test_unknown_out_file_conditions() -> None:
    message = _problem(out_files=[[{"layer": "B01", "condition": "exists", "error_condition": "on_error"}]])
    assert "out_files[0][0].condition: unknown condition 'exists'" in message
    assert "out_files[0][0].error_condition: unknown error_condition 'on_error'" in message
    assert "2 problems" in message


def test_four_out_files_arrays_are_rejected() -> None:
    message = _problem(out_files=[[], [], [], []])
    assert "out_files: 4 arrays given; at most 3" in message


def test_four_in_files_arrays_are_rejected() -> None:
    assert "in_files: 4 arrays given" in _problem(in_files=[[], [], [], []])


def test_fewer_arrays_are_padded_to_three() -> None:
    graph = _load(in_files=[[{"layer": "preprocessed", "extension": "dim"}]], out_files=None)
    assert [len(files) for files in graph.in_files] == [1, 0, 0]
    assert graph.out_files == [[], [], []]


def test_unknown_arg_type_uses_the_real_keyword() -> None:
    message = _problem(processing_steps=[_step(args={"input": {"type": "tile_in", "value": "x"}})])
    assert (
        "processing_steps[0].args.input.type: unknown arg type 'tile_in'; known: fixed, config, tile, in, out"
        in (message)
    )


def test_unknown_tile_key() -> None:
    message = _problem(processing_steps=[_step(args={"d": {"type": "tile", "value": "day"}})])
    assert (
        "processing_steps[0].args.d.value: unknown tile key 'day'; known: swath, number, scene, date"
        in message
    )


def test_tile_index_out_of_range() -> None:
    arg = {"type": "in", "tile_index": 3, "layer": "preprocessed", "extension": "dim"}
    message = _problem(processing_steps=[_step(args={"master": arg})])
    assert "processing_steps[0].args.master.tile_index: 3 is out of range" in message


def test_typo_in_a_key_is_named() -> None:
    message = _problem(out_files=[[{"layer": "B01", "extention": "tif"}]])
    assert "out_files[0][0].extention: unknown key (typo?)" in message


def test_dformat_out_must_be_fixed_or_config() -> None:
    message = _problem(out_files=[[{"layer": "B01", "dformat_out": {"type": "tile", "value": "date"}}]])
    assert "out_files[0][0].dformat_out: must be a 'fixed' or 'config' arg, got 'tile'" in message


def test_unknown_datatype_of_a_file_indexed_by_it() -> None:
    message = _problem(out_files=[[{"layer": "x", "datatype": "int64", "action": "to_index"}]])
    assert "out_files[0][0].datatype: unknown dtype 'int64'; known: uint8, byte, u1," in message
    assert "The original reads it as undefined, which cannot be indexed" in message


def test_a_datatype_is_a_string() -> None:
    message = _problem(out_files=[[{"layer": "x", "datatype": 7}]])
    assert "out_files[0][0].datatype: 7 is not a dtype name; use a string, e.g. 'float32'" in message


def test_values_stay_case_sensitive_with_a_hint() -> None:
    message = _problem(processing_steps=[_step(engine="Python")])
    assert (
        "processing_steps[0].engine: unknown engine 'Python' (names are case-sensitive: 'python')" in message
    )


def test_out_file_defaults() -> None:
    out = _load(out_files=[[{"layer": "B01", "extension": "tif"}]]).out_files[0][0]
    assert (out.action.value, out.condition, out.error_condition, out.exponent, out.nbands) == (
        "to_ignore",
        Condition.PASS,
        None,
        1.0,
        1,
    )


def test_envs_are_name_value_pairs() -> None:
    assert _load(envs=["A=1", "B_2=x=y", "C="]).envs == ["A=1", "B_2=x=y", "C="]
    assert "envs: [1] 'GDAL' is not NAME=VALUE (e.g. 'GDAL_CACHEMAX=512')" in _problem(envs=["A=1", "GDAL"])
    assert "'1A=x' is not NAME=VALUE" in _problem(envs=["1A=x"])


def test_null_config_is_empty() -> None:
    assert _load(config=None).config == {}


@pytest.mark.parametrize(
    ("alias", "dtype", "code"),
    [
        ("Byte", "uint8", 1),
        ("u2", "uint16", 2),
        ("UINT32", "uint32", 3),
        ("i1", "int8", 4),  # the Geocube proto has Int8; geocube_client.models accepts it
        ("i2", "int16", 5),
        ("int32", "int32", 6),
        ("F4", "float32", 7),
        ("float64", "float64", 8),
        ("c4", "complex64", 9),
    ],
)
def test_dtype_aliases_and_geocube_codes(alias: str, dtype: str, code: int) -> None:
    """An out-file's ``datatype`` is made canonical at load by geocube_client.models (§5.9)."""
    out = _load(out_files=[[{"layer": "x", "datatype": alias}]]).out_files[0][0]
    assert out.datatype == dtype
    assert pb.DataFormat.Dtype.Value(DTYPE_TO_PROTO_NAME[out.datatype]) == code
