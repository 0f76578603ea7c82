"""Arguments, conditions and out-file selection (original-ingester.md §5.3 to §5.9), without subprocesses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from catalogue.models import Constellation, Tile, TileLink
from common.dataformat import DataFormat
from graphs.context import TileContext, format_arg, is_tile_condition_met, make_tile_contexts
from graphs.errors import GraphError, GraphFatalError
from graphs.execute import execute_graph, select_in_files, select_out_files
from graphs.loader import parse_graph
from graphs.model import Action, Arg, Condition, Graph
from storage.layout import layer_file_name

DATES = {  # scene "1" is the reference (first date), "3" the latest
    "1": datetime(2019, 8, 12, tzinfo=UTC),
    "2": datetime(2019, 8, 24, tzinfo=UTC),
    "3": datetime(2019, 9, 5, tzinfo=UTC),
}


def _tiles(*scenes: str) -> tuple[TileContext, TileContext, TileContext]:
    t0, t1, t2 = (
        TileContext(
            tile_id="A44_IW1_8951",
            scene_id=scene,
            date=DATES[scene],
            swath_id="IW1",
            tile_nr=3,
            constellation="Sentinel1",
        )
        for scene in scenes
    )
    return (t0, t1, t2)


def _graph(**document: Any) -> Graph:
    return parse_graph(document, source="test")


# --- conditions ----------------------------------------------------------------------------------

TRUTH = {  # (T0, T1, T2) scenes: expected values of different_T0_T1, _T0_T2, _T1_T2
    ("1", "1", "1"): (False, False, False),  # a root tile: T1 = T2 = T0
    ("2", "1", "1"): (True, True, False),  # second date: previous = reference
    ("3", "2", "1"): (True, True, True),
    ("1", "1", "2"): (False, True, True),  # the original's "Raise a Fatal Error" tiles
}


@pytest.mark.parametrize(("scenes", "different"), TRUTH.items())
def test_tile_conditions_truth_table(
    scenes: tuple[str, str, str], different: tuple[bool, bool, bool]
) -> None:
    tiles = _tiles(*scenes)
    pairs = ("T0_T1", "T0_T2", "T1_T2")
    assert is_tile_condition_met(Condition.PASS, tiles)
    for pair, expected in zip(pairs, different, strict=True):
        assert is_tile_condition_met(Condition(f"different_{pair}"), tiles) is expected
        assert is_tile_condition_met(Condition(f"equal_{pair}"), tiles) is (not expected)


def _out(layer: str, **fields: Any) -> dict[str, Any]:
    return {"layer": layer, "extension": "tif", "action": "to_delete"} | fields


def test_the_originals_raise_a_fatal_error_case(tmp_path: Path) -> None:
    """graph_test.go "Raise a Fatal Error": tiles [1,1,2] and a fatal error select [true, false, true]."""
    graph = _graph(
        out_files=[
            [
                _out("a", condition="pass", error_condition="on_fatal_failure"),
                _out("b", condition="different_T0_T1", error_condition="on_fatal_failure"),
                _out("c", condition="different_T0_T2", error_condition="on_fatal_failure"),
            ]
        ]
    )
    selected = select_out_files(
        graph, tiles=_tiles("1", "1", "2"), workdir=tmp_path, config={}, error=GraphFatalError("boom")
    )
    assert [f.layer for f in selected] == ["a", "c"]


FAILURE_CASES = [
    # condition, error_condition, error is fatal, expected kept after a failure
    ("pass", None, True, False),
    ("pass", "on_failure", False, True),
    ("pass", "on_fatal_failure", False, False),
    ("pass", "on_fatal_failure", True, True),
    ("different_T0_T1", "on_failure", False, True),
    ("equal_T0_T1", "on_failure", False, False),
    ("on_failure", None, False, True),
    ("on_fatal_failure", None, False, False),
    ("on_fatal_failure", None, True, True),
    ("on_failure", "on_fatal_failure", False, False),
    ("on_failure", "on_fatal_failure", True, True),
    ("on_failure", "different_T0_T1", False, True),
]


@pytest.mark.parametrize(("condition", "error_condition", "fatal", "kept"), FAILURE_CASES)
def test_selection_after_a_failure(
    tmp_path: Path, condition: str, error_condition: str | None, fatal: bool, kept: bool
) -> None:
    graph = _graph(out_files=[[_out("x", condition=condition, error_condition=error_condition)]])
    error = GraphFatalError("f") if fatal else GraphError("e")
    selected = select_out_files(graph, tiles=_tiles("2", "1", "1"), workdir=tmp_path, config={}, error=error)
    assert bool(selected) is kept


@pytest.mark.parametrize(
    ("condition", "error_condition", "kept"),
    [
        ("pass", "on_fatal_failure", True),  # error_condition is ignored on success: the product is deleted
        ("on_failure", None, False),
        ("on_fatal_failure", None, False),
        ("different_T0_T1", None, False),
        ("equal_T1_T2", None, True),
    ],
)
def test_selection_after_a_success(
    tmp_path: Path, condition: str, error_condition: str | None, kept: bool
) -> None:
    graph = _graph(out_files=[[_out("x", condition=condition, error_condition=error_condition)]])
    selected = select_out_files(graph, tiles=_tiles("1", "1", "1"), workdir=tmp_path, config={}, error=None)
    assert bool(selected) is kept


def test_file_conditions_look_at_t0_in_the_workdir(tmp_path: Path) -> None:
    tiles = _tiles("2", "1", "1")
    graph = _graph(
        out_files=[
            [_out("present", condition="file_exists"), _out("absent", condition="file_exists")],
            [_out("present", condition="file_not_exist"), _out("absent", condition="file_not_exist")],
        ]
    )
    (tmp_path / tiles[0].file_name("present", "tif")).write_bytes(b"x")
    selected = select_out_files(graph, tiles=tiles, workdir=tmp_path, config={}, error=None)
    assert [(f.tile_index, f.layer) for f in selected] == [(0, "present"), (1, "absent")]
    assert selected[1].file_name == tiles[1].file_name("absent", "tif")


def test_out_files_carry_what_indexing_needs(tmp_path: Path) -> None:
    graph = _graph(
        config={"dformat_out": "int16,-32768,0,10000"},
        out_files=[
            [
                _out(
                    "sigma0_VV",
                    action="to_index",
                    dformat_out={"type": "config", "value": "dformat_out"},
                    ext_min_value=0,
                    ext_max_value=1,
                    exponent=2,
                    nbands=1,
                ),
                _out("MS", action="to_index", datatype="u2", nodata=0, min_value=1, max_value=4095, nbands=4),
                _out("preprocessed", extension="dim", action="to_create"),
            ]
        ],
    )
    selected = select_out_files(
        graph, tiles=_tiles("2", "1", "1"), workdir=tmp_path, config=graph.config, error=None
    )
    sigma, ms, dim = selected
    assert sigma.action is Action.TO_INDEX
    assert sigma.file_name == "20190824_A44_IW1_8951_sigma0_VV.tif"
    assert sigma.dformat == DataFormat("int16", -32768.0, 0.0, 10000.0)
    assert (sigma.ext_min_value, sigma.ext_max_value, sigma.exponent, sigma.nbands) == (0.0, 1.0, 2.0, 1)
    assert ms.dformat == DataFormat("uint16", 0.0, 1.0, 4095.0)
    assert ms.nbands == 4
    assert dim.dformat is None


def test_dformat_is_parsed_on_the_failure_path_too(tmp_path: Path) -> None:
    """Defect 22: the original skipped dformat_out after a failure, so such a file could not be indexed."""
    dformat = {"type": "fixed", "value": "float32,NaN,0,1"}
    graph = _graph(out_files=[[_out("x", action="to_index", condition="on_failure", dformat_out=dformat)]])
    (selected,) = select_out_files(
        graph, tiles=_tiles("1", "1", "1"), workdir=tmp_path, config={}, error=GraphError("e")
    )
    assert selected.dformat is not None
    assert selected.dformat.dtype == "float32"


# --- dformat -------------------------------------------------------------------------------------


def _dformat_out(tmp_path: Path, text: str, *, error: Exception | None = None) -> DataFormat | None:
    """The dformat selected for a third out-file whose ``dformat_out`` is the fixed ``text``."""
    dformat_out = {"type": "fixed", "value": text}
    condition = "pass" if error is None else "on_failure"
    outs = [_out(layer, condition=condition) for layer in ("a", "b")]
    outs.append(_out("x", action="to_index", condition=condition, dformat_out=dformat_out))
    graph = _graph(out_files=[outs])
    selected = select_out_files(graph, tiles=_tiles("1", "1", "1"), workdir=tmp_path, config={}, error=error)
    return selected[2].dformat


def test_dformat_out_is_read_by_geocube_client(tmp_path: Path) -> None:
    """``dtype,nodata,min,max`` with §5.9 aliases in any case and NaN nodata, as DataFormat.parse reads it."""
    parsed = _dformat_out(tmp_path, "uint16,NaN,0,32767")
    assert isinstance(parsed, DataFormat)
    assert parsed.dtype == "uint16"
    assert parsed.no_data != parsed.no_data  # NaN
    assert (parsed.min_value, parsed.max_value) == (0.0, 32767.0)
    assert parsed == DataFormat.parse("u2,nan,0,32767")
    assert _dformat_out(tmp_path, "Int16, 0, 0, 32767") == DataFormat("int16", 0, 0, 32767)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("uint16,0,0", "expected 4 comma-separated fields dtype,nodata,min,max"),
        ("uint16,0,0,1,2", "expected 4 comma-separated fields dtype,nodata,min,max"),
        ("uint12,0,0,1", "unknown data type 'uint12'"),
        ("uint16,zero,0,1", "nodata: expected a number (or NaN), got 'zero'"),
        ("uint16,0,0,max", "max: expected a number (or NaN), got 'max'"),
    ],
)
def test_dformat_out_errors_name_the_json_path(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(GraphError) as info:
        _dformat_out(tmp_path, text)
    assert str(info.value).startswith(f"out_files[0][2].dformat_out: dformat {text!r}")
    assert message in str(info.value)


def test_a_bad_dformat_out_after_a_failure_is_kept_without_dformat(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert _dformat_out(tmp_path, "uint12,0,0,1", error=GraphError("e")) is None
    assert "out_files[0][2].dformat_out: dformat 'uint12,0,0,1'" in caplog.text


# --- arguments -----------------------------------------------------------------------------------


def _arg(**fields: Any) -> Arg:
    return Arg.model_validate(fields)


@pytest.mark.parametrize(
    ("scenes", "key", "expected"),
    [
        (("2", "1", "1"), "swath", "IW1"),
        (("2", "1", "1"), "number", "3"),
        (("2", "1", "1"), "scene", "2"),
        (("3", "2", "1"), "date", "05Sep2019"),
        (("3", "2", "2"), "cohdate", "05Sep2019"),  # T1 and T2 are the same scene: T0's date
        (("3", "2", "1"), "cohdate", "12Aug2019"),  # otherwise the reference's date
        (("2", "1", "1"), "constellation", "Sentinel1"),
    ],
)
def test_tile_args(scenes: tuple[str, str, str], key: str, expected: str) -> None:
    tiles = _tiles(*scenes)
    assert format_arg(_arg(type="tile", value=key), config={}, tiles=tiles, field_name="a") == expected


def test_in_and_out_args_use_the_storage_file_names() -> None:
    tiles = _tiles("3", "2", "1")
    master = _arg(type="in", tile_index=2, layer="preprocessed", extension="dim")
    output = _arg(type="out", layer="coregistred", extension="dim")
    product = _arg(type="in", tile_index=0, layer="__product__", extension="SAFE")
    assert format_arg(master, config={}, tiles=tiles, field_name="a") == layer_file_name(
        scene_id="1", tile_id="A44_IW1_8951", date=DATES["1"], layer="preprocessed", ext="dim"
    )
    assert (
        format_arg(output, config={}, tiles=tiles, field_name="a") == "20190905_A44_IW1_8951_coregistred.dim"
    )
    assert format_arg(product, config={}, tiles=tiles, field_name="a") == "3.SAFE"


def test_fixed_and_config_args() -> None:
    tiles = _tiles("1", "1", "1")
    assert (
        format_arg(_arg(type="fixed", value='"VV VH"'), config={}, tiles=tiles, field_name="a") == '"VV VH"'
    )
    assert format_arg(_arg(type="config", value="k"), config={"k": "v"}, tiles=tiles, field_name="a") == "v"


def test_missing_config_key_names_the_field_and_the_fix() -> None:
    expected = (
        r"processing_steps\[0\]\.args\.iterations: key 'erode' not found in config; "
        r"add it to the graph's config or to the payload's graph_config"
    )
    with pytest.raises(GraphError, match=expected):
        format_arg(
            _arg(type="config", value="erode"),
            config={},
            tiles=_tiles("1", "1", "1"),
            field_name="processing_steps[0].args.iterations",
        )


def test_missing_config_key_fails_the_run_and_still_selects_out_files(tmp_path: Path) -> None:
    step = {"engine": "cmd", "command": "true", "args": {"x": {"type": "config", "value": "nope"}}}
    graph = _graph(
        processing_steps=[step],
        out_files=[[_out("__product__", extension="SAFE", error_condition="on_fatal_failure")]],
    )
    outcome = execute_graph(
        graph, tiles=_tiles("1", "1", "1"), workdir=tmp_path, config={}, is_retriable=False
    )
    assert isinstance(outcome.error, GraphFatalError)  # not retriable: every failure is fatal (§5.8)
    assert "processing_steps[0].args.x: key 'nope' not found in config" in str(outcome.error)
    assert [f.layer for f in outcome.out_files] == ["__product__"]


def test_graph_without_steps_succeeds(tmp_path: Path) -> None:
    graph = _graph(out_files=[[_out("__product__", extension="*", action="to_create")]])
    outcome = execute_graph(
        graph, tiles=_tiles("1", "1", "1"), workdir=tmp_path, config={}, is_retriable=True
    )
    assert outcome.error is None
    assert [(f.file_name, f.action) for f in outcome.out_files] == [("1", Action.TO_CREATE)]


# --- in-files and tile contexts ------------------------------------------------------------------


def test_in_files_honour_tile_conditions_and_are_deduplicated() -> None:
    graph = _graph(
        in_files=[
            [
                {"layer": "preprocessed", "extension": "dim"},
                {"layer": "preprocessed", "extension": "dim"},
                {"layer": "sigma0_VV", "extension": "tif", "condition": "file_exists"},
            ],
            [{"layer": "coregextract", "extension": "dim", "condition": "different_T1_T2"}],
            [{"layer": "preprocessed", "extension": "dim", "condition": "different_T0_T2"}],
        ]
    )
    root = select_in_files(graph, tiles=_tiles("1", "1", "1"))
    assert [(f.tile_index, f.file_name) for f in root] == [(0, "20190812_A44_IW1_8951_preprocessed.dim")]
    third = select_in_files(graph, tiles=_tiles("3", "2", "1"))
    assert [f.tile_index for f in third] == [0, 1, 2]


def test_make_tile_contexts_substitutes_t0_for_a_root() -> None:
    date = datetime(2019, 9, 5, tzinfo=UTC)
    root = Tile(
        source_id="A44_IW1_8951", scene_id="S1_c", date=date, footprint_wkt="POINT (0 0)", swath_id="IW1"
    )
    assert make_tile_contexts(root, constellation=Constellation.SENTINEL1) == (
        (make_tile_contexts(root, constellation="Sentinel1")[0],) * 3
    )
    previous = TileLink(source_id="A44_IW1_8951", scene_id="S1_b", date=datetime(2019, 8, 24, tzinfo=UTC))
    reference = TileLink(source_id="A44_IW1_8951", scene_id="S1_a", date=datetime(2019, 8, 12, tzinfo=UTC))
    tile = root.model_copy(update={"previous": previous, "reference": reference})
    t0, t1, t2 = make_tile_contexts(tile, constellation=Constellation.SENTINEL1)
    assert (t0.scene_id, t1.scene_id, t2.scene_id) == ("S1_c", "S1_b", "S1_a")
    assert (t1.swath_id, t2.constellation) == ("IW1", "Sentinel1")
    assert t2.file_name("preprocessed", "dim") == "20190812_A44_IW1_8951_preprocessed.dim"
