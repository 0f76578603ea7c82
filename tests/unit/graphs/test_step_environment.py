"""A graph step starts with the tools' environment, never the ingester's credentials (issue 12)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from graphs.runner import run_process, step_environment

SECRETS = {
    "GEOCUBE_INGESTER_CDSE_PASSWORD": "cdse-pw",
    "GEOCUBE_INGESTER_CDSE_S3_KEY": "s3-key-id",
    "GEOCUBE_INGESTER_CDSE_S3_SECRET_KEY": "s3-secret",
    "GEOCUBE_INGESTER_ONEATLAS_APIKEY": "oa-key",
    "GEOCUBE_INGESTER_EARTHDATA_TOKEN": "ed-token",
    "GEOCUBE_APIKEY": "gc-key",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
    "AWS_SESSION_TOKEN": "aws-token",
    "PREFECT_API_KEY": "pf-key",
    "PREFECT_API_AUTH_STRING": "admin:pass",
    "GOOGLE_APPLICATION_CREDENTIALS": "/keys/sa.json",
}
KEPT = {"GEOCUBE_INGESTER_DEM": "/dem/glo30.vrt", "PROJ_DATA": "/usr/share/proj", "GDAL_CACHEMAX": "256"}


def test_the_step_environment_drops_every_credential_and_keeps_the_tools() -> None:
    host = {
        "PATH": "/usr/bin",
        "HOME": "/home/x",
        "LANG": "C.UTF-8",
        **SECRETS,
        **KEPT,
        "RANDOM_APP_SETTING": "1",
    }
    env = step_environment(host)
    assert env == {"PATH": "/usr/bin", "HOME": "/home/x", "LANG": "C.UTF-8", **KEPT}


def test_a_user_declares_exact_names_a_step_needs() -> None:
    host = {"PATH": "/usr/bin", "MY_TOOL_LICENSE": "abc", "MY_TOOL_TOKEN": "t", **SECRETS}
    host["GEOCUBE_INGESTER_STEP_ENVS"] = "MY_TOOL_LICENSE, MY_TOOL_TOKEN"
    env = step_environment(host)
    assert env["MY_TOOL_LICENSE"] == "abc" and env["MY_TOOL_TOKEN"] == "t"
    assert not set(SECRETS) & set(env)


def test_a_real_step_process_sees_none_of_the_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**SECRETS, **KEPT}.items():
        monkeypatch.setenv(name, value)
    script = "import json, os; print('ENV ' + json.dumps(sorted(os.environ)))"
    done = run_process(
        [sys.executable, "-c", script], cwd=tmp_path, timeout_s=60, label="env", env={"EXTRA": "1"}
    )
    assert done.returncode == 0
    seen = set(json.loads(next(line for line in done.lines if line.startswith("ENV "))[4:]))
    assert not set(SECRETS) & seen
    assert set(KEPT) | {"EXTRA", "PATH", "PYTHONUNBUFFERED"} <= seen


@pytest.mark.slow  # two interpreters started and killed
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_step_dies_with_its_job_when_the_job_is_killed(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import time

    pid_file = tmp_path / "step.pid"
    step_script = tmp_path / "step.py"
    step_script.write_text(
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)\n"
    )
    job = (
        "import pathlib, sys\n"
        "from graphs.runner import run_process\n"
        f"run_process([sys.executable, {str(step_script)!r}], cwd=pathlib.Path({str(tmp_path)!r}), "
        "timeout_s=300, label='step')\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", job], cwd=Path(__file__).resolve().parents[3])
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    step = int(pid_file.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait(30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(step, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(step, signal.SIGKILL)
        pytest.fail("the step outlived its killed job")
