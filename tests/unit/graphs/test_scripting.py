"""graphs.scripting: the python graph scripts' log lines (original-ingester.md §5.10) and their preamble."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from graphs.loader import GRAPHS_DIR
from graphs.scripting import error, fatal, log, make_parser

# Those on graphs.scripting (s1_backscatter.py still has its own preamble).
SCRIPTS = [
    "extract_dimap.py",
    "extract_landsat.py",
    "extract_s2.py",
    "s1_backscatter.py",
    "split_s1_burst.py",
]


def test_the_log_lines_follow_the_python_filters_conventions(capsys: pytest.CaptureFixture[str]) -> None:
    log("INFO: B02 -> out_B02.tif")
    assert fatal("no band found in /w") == 1
    assert error("B03: disk full") == 1
    out, err = capsys.readouterr()
    assert out == "INFO: B02 -> out_B02.tif\n"
    assert err == "FATAL ERROR: no band found in /w\nERROR: B03: disk full\n"


def test_a_parser_is_described_by_the_first_line_of_the_docstring() -> None:
    assert make_parser("Extract bands.\n\nUsage: ...").description == "Extract bands."
    assert make_parser(None).description is None  # python -OO strips docstrings
    assert make_parser("").description is None


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.slow  # a python start per script: about 1 s each
def test_a_script_runs_from_a_source_checkout_without_the_package_installed(
    script: str, tmp_path: Path
) -> None:
    # -S skips the site module, so the editable install's .pth is not read: only the libraries are
    # importable, and the script must find graphs/catalogue beside itself. -OO strips its docstring.
    result = subprocess.run(
        [sys.executable, "-S", "-OO", str(GRAPHS_DIR / "python" / script), "--help"],
        env={"PYTHONPATH": sysconfig.get_paths()["purelib"]},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {script}")
