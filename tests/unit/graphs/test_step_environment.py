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
