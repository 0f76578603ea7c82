"""The python and cmd engines, timeouts and the log conventions of original-ingester.md §5.10."""

from __future__ import annotations

import json
import logging
import stat
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from common.errors import PermanentError, TemporaryError
from graphs.context import TileContext
from graphs.engines import build_argv, classify_failure, parse_timeout_s
from graphs.errors import GraphError, GraphFatalError, GraphTemporaryError
from graphs.execute import execute_graph
from graphs.loader import parse_graph
from graphs.model import Engine

SCENES = ("1", "1", "2")  # the original's test tiles


def _tiles() -> tuple[TileContext, TileContext, TileContext]:
    t0, t1, t2 = (
        TileContext(tile_id=f"T{i}", scene_id=s, date=datetime(2019, 9, 5, tzinfo=UTC))
        for i, s in enumerate(SCENES)
    )
    return (t0, t1, t2)


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "scripts" / "step.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def _run(tmp_path: Path, script: Path, *, args: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    step = {"engine": "python", "command": str(script), "args": args or {}, "condition": "pass"}
    graph = parse_graph(
        {
            "config": {"mode": "test"},
            "processing_steps": [step],
            "out_files": [
                [
                    {
                        "layer": "a",
                        "extension": "tif",
                        "action": "to_delete",
                        "condition": "pass",
                        "error_condition": "on_fatal_failure",
                    },
                    {
                        "layer": "b",
                        "extension": "tif",
                        "action": "to_delete",
                        "condition": "different_T0_T1",
                        "error_condition": "on_fatal_failure",
                    },
                    {
                        "layer": "c",
                        "extension": "tif",
                        "action": "to_delete",
                        "condition": "different_T0_T2",
                        "error_condition": "on_fatal_failure",
                    },
                ]
            ],
        },
        source="test",
    )
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    options: dict[str, Any] = {"config": {}, "is_retriable": True} | kwargs
    return execute_graph(graph, tiles=_tiles(), workdir=workdir, **options)


def test_python_step_gets_sorted_named_args_and_runs_in_the_workdir(tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        """
        import json, os, sys
        json.dump({"argv": sys.argv[1:], "cwd": os.getcwd()}, open("seen.json", "w"))
        print("INFO: done")
        """,
    )
    args = {
        "zeta": {"type": "fixed", "value": "last"},
        "alpha": {"type": "config", "value": "mode"},
        "workdir": {"type": "config", "value": "workdir"},
        "output": {"type": "out", "layer": "sigma0_VV", "extension": "tif"},
    }
    outcome = _run(tmp_path, script, args=args)
    assert outcome.error is None
    seen = json.loads((tmp_path / "work" / "seen.json").read_text())
    workdir = str((tmp_path / "work").resolve())
    assert seen == {
        "argv": ["--alpha=test", "--output=20190905_T0_sigma0_VV.tif", f"--workdir={workdir}", "--zeta=last"],
        "cwd": workdir,
    }
    assert [f.layer for f in outcome.out_files] == ["a", "c"]  # success: conditions only


def test_fatal_error_selects_on_fatal_failure_out_files(tmp_path: Path) -> None:
    script = _script(tmp_path, 'raise ValueError("FATAL ERROR: test")\n')  # the original's fatal_error.py
    outcome = _run(tmp_path, script)
    assert isinstance(outcome.error, GraphFatalError)
    assert isinstance(outcome.error, PermanentError)
    assert "ValueError: FATAL ERROR: test" in str(outcome.error)
    assert outcome.is_fatal
    assert [f.layer for f in outcome.out_files] == ["a", "c"]  # [true, false, true]


def test_temporary_error_is_retried_and_selects_nothing(tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        """
        import sys
        print("downloading DEM")
        print("TEMPORARY ERROR: DEM server answered 503", file=sys.stderr)
        sys.exit(3)
        """,
    )
    outcome = _run(tmp_path, script)
    assert isinstance(outcome.error, GraphTemporaryError)
    assert isinstance(outcome.error, TemporaryError)
    assert "TEMPORARY ERROR: DEM server answered 503" in str(outcome.error)
    assert outcome.out_files == []


def test_temporary_failure_in_a_traceback_is_temporary(tmp_path: Path) -> None:
    script = _script(tmp_path, 'raise OSError("[Errno -3] Temporary failure in name resolution")\n')
    assert isinstance(_run(tmp_path, script).error, GraphTemporaryError)


def test_other_failures_are_plain_errors_with_the_last_error_line(tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        """
        import sys
        print("ERROR: first problem")
        print("ERROR: bad dformat 'x'", file=sys.stderr)
        sys.exit(1)
        """,
    )
    error = _run(tmp_path, script).error
    assert type(error) is GraphError
    assert str(error).endswith("failed (exit code 1): ERROR: bad dformat 'x'")


def test_a_failure_of_a_non_retriable_tile_is_fatal(tmp_path: Path) -> None:
    script = _script(tmp_path, "import sys; print('ERROR: nope'); sys.exit(1)\n")
    outcome = _run(tmp_path, script, is_retriable=False)
    assert isinstance(outcome.error, GraphFatalError)
    assert isinstance(outcome.error.__cause__, GraphError)
    assert [f.layer for f in outcome.out_files] == ["a", "c"]


def test_step_timeout_is_temporary(tmp_path: Path) -> None:
    script = _script(tmp_path, "import time\nprint('working', flush=True)\ntime.sleep(60)\n")
    outcome = _run(tmp_path, script, config={"step_timeout_s": "0.5"})
    assert isinstance(outcome.error, GraphTemporaryError)
    assert "timed out after 0.5 s (config step_timeout_s)" in str(outcome.error)


def test_output_goes_to_the_logger_in_order_with_the_tile_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script = _script(
        tmp_path,
        "import sys\nprint('hello out')\nprint('ERROR: hello err', file=sys.stderr)\nprint('bye out')\n",
    )
    with caplog.at_level(logging.DEBUG, logger="graphs"):
        assert _run(tmp_path, script).error is None
    lines = [
        (r.getMessage(), r.levelno)
        for r in caplog.records
        if "T0 step 0 (python step.py): " in r.getMessage() and "running" not in r.getMessage()
    ]
    assert lines == [
        ("T0 step 0 (python step.py): hello out", logging.INFO),
        ("T0 step 0 (python step.py): ERROR: hello err", logging.ERROR),
        ("T0 step 0 (python step.py): bye out", logging.INFO),
    ]


def test_cmd_engine(tmp_path: Path) -> None:
    tool = tmp_path / "tool.sh"
    tool.write_text('#!/bin/sh\necho "$@" > args.txt\n')
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    args = {"b": {"type": "fixed", "value": "2"}, "a": {"type": "tile", "value": "scene"}}
    step = {"engine": "cmd", "command": str(tool), "args": args}
    graph = parse_graph({"processing_steps": [step]}, source="test")
    outcome = execute_graph(graph, tiles=_tiles(), workdir=tmp_path, config={}, is_retriable=True)
    assert outcome.error is None
    assert (tmp_path / "args.txt").read_text() == "--a=1 --b=2\n"


def test_steps_whose_condition_is_false_are_skipped(tmp_path: Path) -> None:
    step = {"engine": "cmd", "command": "false", "condition": "different_T0_T1"}
    graph = parse_graph({"processing_steps": [step]}, source="test")
    assert execute_graph(graph, tiles=_tiles(), workdir=tmp_path, config={}, is_retriable=True).error is None


def test_snap_steps_without_gpt_are_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEOCUBE_INGESTER_SNAP_GPT", str(tmp_path / "no-gpt"))
    graph = parse_graph(
        {"processing_steps": [{"engine": "snap", "command": "snap/S1_SLC_BkG.xml"}]}, source="t"
    )
    with pytest.raises(GraphError, match=r"processing_steps\[0\] \(snap snap/S1_SLC_BkG\.xml\): engine"):
        execute_graph(graph, tiles=_tiles(), workdir=tmp_path, config={}, is_retriable=True)


def test_missing_command_is_refused_before_anything_runs(tmp_path: Path) -> None:
    graph = parse_graph({"processing_steps": [{"engine": "python", "command": "python/nope.py"}]}, source="t")
    with pytest.raises(
        GraphError, match=r"processing_steps\[0\]\.command: command not found: 'python/nope.py'"
    ):
        execute_graph(graph, tiles=_tiles(), workdir=tmp_path, config={}, is_retriable=True)


def test_build_argv_is_deterministic() -> None:
    argv = build_argv(Engine.CMD, "/bin/tool", {"b": "2", "a": "1", "c": "x y"})
    assert argv == ["/bin/tool", "--a=1", "--b=2", "--c=x y"]
    with pytest.raises(GraphError, match=r"built by graphs\.docker_engine"):
        build_argv(Engine.DOCKER, "image", {})


@pytest.mark.parametrize(
    ("lines", "kind"),
    [
        (["ok", "FATAL ERROR: /w/x.tif empty"], GraphFatalError),
        (["FATAL ERROR: first", "TEMPORARY ERROR: then"], GraphFatalError),
        (["TEMPORARY ERROR: 429"], GraphTemporaryError),
        (["Error: Connection timed out"], GraphTemporaryError),
        (["Traceback", "ConnectionError: read timed out"], GraphTemporaryError),
        (["ERROR: invalid range"], GraphError),
        ([], GraphError),
    ],
)
def test_classify_failure(lines: list[str], kind: type[Exception]) -> None:
    error = classify_failure("step", 1, lines)
    assert type(error) is kind


@pytest.mark.parametrize(("raw", "expected"), [(None, 3600.0), ("", 3600.0), ("12.5", 12.5)])
def test_parse_timeout(raw: str | None, expected: float) -> None:
    assert parse_timeout_s({} if raw is None else {"step_timeout_s": raw}) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "soon", "nan"])
def test_parse_timeout_errors(raw: str) -> None:
    with pytest.raises(GraphError, match=r"config\.step_timeout_s"):
        parse_timeout_s({"step_timeout_s": raw})
