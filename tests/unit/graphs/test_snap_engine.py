"""The snap engine against a stand-in ``gpt`` that records its argv (original-ingester.md §5.4, §5.10).

The stand-in prints lines of the forms the original's ``SNAPLogFilter`` reads: ``Error:`` lines (the
last one decides: ``Try again`` / ``Temporary failure`` are temporary), ``SEVERE:``, ``INFO:``, Java
stack lines. ``Temporary failure in name resolution`` is glibc's text for EAI_AGAIN, as a Java
``UnknownHostException`` carries it when SNAP cannot resolve a DEM or orbit server.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from graphs.context import TileContext
from graphs.engines import available_engines, check_runnable
from graphs.errors import GraphError, GraphTemporaryError
from graphs.execute import execute_graph
from graphs.loader import load_graph, parse_graph
from graphs.model import Engine
from graphs.snap_engine import DEFAULT_SNAP_GPT, SNAP_GPT_ENV, find_gpt, snap_argv, snap_level
from tests.support.standin_exec import Answer, StandIn, make_standin


def _tiles() -> tuple[TileContext, TileContext, TileContext]:
    t0, t1, t2 = (
        TileContext(tile_id=f"T{i}", scene_id=s, date=datetime(2019, 9, 5, tzinfo=UTC))
        for i, s in enumerate(("1", "2", "3"))
    )
    return (t0, t1, t2)


@pytest.fixture
def gpt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    standin = make_standin(tmp_path / "snap" / "bin", "gpt", {"*": Answer(lines=["INFO: done"])})
    monkeypatch.setenv(SNAP_GPT_ENV, str(standin.path))
    return standin


def _graph(tmp_path: Path, args: dict[str, Any], config: dict[str, str] | None = None) -> Any:
    xml = tmp_path / "graphs" / "snap" / "Graph.xml"
    xml.parent.mkdir(parents=True, exist_ok=True)
    xml.write_text("<graph id='g'/>")
    step = {"engine": "snap", "command": "snap/Graph.xml", "args": args}
    document = {"config": config or {}, "processing_steps": [step]}
    return parse_graph(document, source="test", command_roots=(tmp_path / "graphs",))


def _run(tmp_path: Path, graph: Any, **config: str) -> Any:
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return execute_graph(graph, tiles=_tiles(), workdir=workdir, config=config, is_retriable=True)


def test_the_originals_coregistration_graph_runs_gpt_with_its_exact_command_line(
    gpt: StandIn, original_graphs: Path, tmp_path: Path
) -> None:
    graph = load_graph(str(original_graphs / "S1CoregExtract.json"))
    outcome = _run(tmp_path, graph)
    assert outcome.error is None
    snap_dir = original_graphs.parent.resolve() / "snap"
    calls = gpt.calls()
    assert [c["argv"] for c in calls] == [
        [
            f"{snap_dir}/S1_SLC_BkG.xml", "-x", "-q", "1", "-J-Xmx9000m",
            "-Pdem_file=", "-Pdem_name=SRTM 3Sec", "-Pdem_nodata=0",
            "-Pdem_resampling=BILINEAR_INTERPOLATION",
            "-Pmaster=20190905_T2_preprocessed.dim", "-Poutput=20190905_T0_coregistred.dim",
            "-Presampling=BISINC_21_POINT_INTERPOLATION", "-Pslave=20190905_T0_preprocessed.dim",
        ],
        [
            f"{snap_dir}/S1_SLC_SlvExtract.xml", "-x", "-q", "1", "-J-Xmx9000m",
            "-Pinput=20190905_T0_coregistred.dim", "-Poutput=20190905_T0_coregextract.dim",
        ],
    ]  # fmt: skip
    assert {c["cwd"] for c in calls} == {str((tmp_path / "work").resolve())}


def test_parallelism_and_memory_come_from_the_config(gpt: StandIn, tmp_path: Path) -> None:
    graph = _graph(tmp_path, {"b": {"type": "fixed", "value": '"VV VH"'}}, {"snap_cpu_parallelism": "2"})
    assert _run(tmp_path, graph, snap_cpu_parallelism="8", snap_memory="12G").error is None
    assert gpt.argvs() == [
        [str(tmp_path / "graphs" / "snap" / "Graph.xml"), "-x", "-q", "8", "-J-Xmx12G", '-Pb="VV VH"']
    ]


@pytest.mark.parametrize(
    ("key", "value"),
    [("snap_cpu_parallelism", "0"), ("snap_cpu_parallelism", "two"), ("snap_memory", "9 GB")],
)
def test_invalid_snap_config_names_the_key(key: str, value: str) -> None:
    with pytest.raises(GraphError, match=rf"config\.{key}: '{value}' is not valid for gpt"):
        snap_argv("gpt", "g.xml", {}, config={key: value})


@pytest.mark.parametrize(
    ("lines", "kind", "quoted"),
    [
        (
            [
                "Executing processing graph",
                "Error: java.net.UnknownHostException: step.esa.int: Temporary failure in name resolution",
            ],
            GraphTemporaryError,
            "Error: java.net.UnknownHostException",
        ),
        (
            ["Error: [NodeId: Apply-Orbit-File] orbit server busy. Try again later"],
            GraphTemporaryError,
            "Try",
        ),
        (["Error: [NodeId: Read] Specified 'file' does not exist", "SEVERE: cleanup"], GraphError, "Read"),
    ],
)
def test_snap_errors_are_classified_by_the_last_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str], kind: type[Exception], quoted: str
) -> None:
    standin = make_standin(tmp_path / "bin", "gpt", {"*": Answer(lines=lines, exit=1)})
    monkeypatch.setenv(SNAP_GPT_ENV, str(standin.path))
    error = _run(tmp_path, _graph(tmp_path, {})).error
    assert type(error) is kind
    assert "failed (exit code 1): Error: " in str(error)
    assert quoted in str(error)


def test_snap_log_levels_follow_the_originals_filter() -> None:
    assert snap_level("java.lang.OutOfMemoryError: Java heap space Exception") == logging.WARNING
    assert snap_level("\tat org.esa.snap.core.gpf.Operator.run(Operator.java:42)") == logging.DEBUG
    assert snap_level("INFO: org.esa.snap.core.gpf.operators.tooladapter: loaded") == logging.DEBUG
    assert snap_level("-- org.jblas INFO Deleting /tmp/jblas.so") == logging.DEBUG
    assert snap_level("SEVERE: org.esa.s1tbx: no DEM tile") == logging.INFO
    assert snap_level("WARNING: org.esa.snap: slow") == logging.WARNING
    assert snap_level("Error: [NodeId: Write] disk full") == logging.ERROR
    assert snap_level("Processing... 10%") == logging.INFO


def test_a_gpt_run_past_the_step_timeout_is_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin = make_standin(tmp_path / "bin", "gpt", {"*": Answer(lines=["working"], sleep_s=60)})
    monkeypatch.setenv(SNAP_GPT_ENV, str(standin.path))
    error = _run(tmp_path, _graph(tmp_path, {}), step_timeout_s="0.5").error
    assert isinstance(error, GraphTemporaryError)
    assert "timed out after 0.5 s (config step_timeout_s)" in str(error)


def test_gpt_is_found_on_path_when_the_setting_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin = make_standin(tmp_path / "bin", "gpt")
    monkeypatch.delenv(SNAP_GPT_ENV, raising=False)
    monkeypatch.setenv("PATH", str(standin.path.parent))
    assert find_gpt() == (str(standin.path), "PATH")
    assert Engine.SNAP in available_engines()


def test_without_gpt_snap_is_not_available_and_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SNAP_GPT_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    if DEFAULT_SNAP_GPT.is_file():
        pytest.skip(f"{DEFAULT_SNAP_GPT} is installed on this machine")
    assert find_gpt() == (None, f"{SNAP_GPT_ENV} unset, no gpt on PATH nor at {DEFAULT_SNAP_GPT}")
    assert Engine.SNAP not in available_engines()
    with pytest.raises(GraphError) as info:
        check_runnable(_graph(tmp_path, {}))
    assert (
        "graph test: processing_steps[0] (snap snap/Graph.xml): engine 'snap' is not available here: gpt "
        f"not found ({SNAP_GPT_ENV} unset, no gpt on PATH nor at {DEFAULT_SNAP_GPT}); install ESA SNAP"
    ) in str(info.value)
    assert f"or set {SNAP_GPT_ENV} to its bin/gpt" in str(info.value)
