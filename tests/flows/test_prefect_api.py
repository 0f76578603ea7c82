"""Starting or waiting for a Prefect API: a wait fit for a busy machine, and a message naming the fix."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from demo.setup import load_demo_payload
from flows.prefect_api import (
    DEFAULT_STARTUP_TIMEOUT_S,
    STARTUP_TIMEOUT_ENV,
    PrefectApiUnavailableError,
    prepare_environment,
    startup_timeout_s,
    wait_for_api,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_default_wait_is_long_and_a_users_setting_is_kept() -> None:
    env: dict[str, str] = {}
    prepare_environment(env)
    assert int(env[STARTUP_TIMEOUT_ENV]) == DEFAULT_STARTUP_TIMEOUT_S >= 120
    env = {STARTUP_TIMEOUT_ENV: "45"}
    prepare_environment(env)
    assert startup_timeout_s(env) == 45


@pytest.mark.parametrize("value", ["soon", "0", "-3"])
def test_a_bad_timeout_names_the_setting(value: str) -> None:
    with pytest.raises(PrefectApiUnavailableError, match=STARTUP_TIMEOUT_ENV):
        startup_timeout_s({STARTUP_TIMEOUT_ENV: value})


def test_an_api_url_that_does_not_answer_is_named_with_the_fix() -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    with pytest.raises(PrefectApiUnavailableError) as info:
        wait_for_api(url, timeout_s=0.5, poll_s=0.1)
    message = str(info.value)
    assert f"PREFECT_API_URL={url}" in message and "prefect server start" in message


@pytest.mark.slow
def test_the_cli_says_which_setting_to_change_when_prefect_cannot_start(tmp_path: Path) -> None:
    """A temporary API that cannot come up in time (1 s here) gives a message, not a traceback."""
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(load_demo_payload()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {STARTUP_TIMEOUT_ENV: "1", "PREFECT_HOME": str(tmp_path / "prefect")}
    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", "ingest", str(payload)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"raise {STARTUP_TIMEOUT_ENV} (now 1)" in result.stderr
    assert "PREFECT_API_URL" in result.stderr
