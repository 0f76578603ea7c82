"""Secrets from Prefect Secret blocks, on a real Prefect API: what the worker's environment leaves unset."""

from __future__ import annotations

import pytest
from prefect import flow, task
from prefect.blocks.system import Secret
from pydantic import SecretStr

import tasks  # noqa: F401 - registers the Prefect Secret blocks lookup
from common.settings import load_settings, secret_block_name
from tasks import secrets

pytestmark = [pytest.mark.slow, pytest.mark.integration]  # a Prefect API: about 20 s to start

PASSWORD = "pw-from-a-block-41c9"


@task
def cdse_password_seen_by_a_task() -> SecretStr | None:
    return load_settings().cdse_password


@flow
def a_run() -> tuple[SecretStr | None, SecretStr | None]:
    return load_settings().cdse_password, cdse_password_seen_by_a_task()


def test_a_secret_block_fills_a_setting_the_environment_leaves_unset(
    prefect_api: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEOCUBE_INGESTER_CDSE_PASSWORD", raising=False)
    monkeypatch.setattr(secrets, "_cache", {})
    name = secret_block_name("cdse_password")
    assert name == "geocube-ingester-cdse-password"
    Secret(value=PASSWORD).save(name, overwrite=True)
    try:
        in_flow, in_task = a_run()
        assert in_flow is not None and in_flow.get_secret_value() == PASSWORD
        assert in_task is not None and in_task.get_secret_value() == PASSWORD
        assert PASSWORD not in repr(load_settings())
        assert load_settings().cdse_password is None, "outside a run no API is asked"

        monkeypatch.setenv("GEOCUBE_INGESTER_CDSE_PASSWORD", "from-the-environment")
        in_flow, _ = a_run()
        assert in_flow is not None and in_flow.get_secret_value() == "from-the-environment"
    finally:
        Secret.delete(name)


def test_a_missing_block_leaves_the_setting_unset(prefect_api: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEOCUBE_APIKEY", raising=False)
    monkeypatch.delenv("GEOCUBE_INGESTER_GEOCUBE_APIKEY", raising=False)
    monkeypatch.setattr(secrets, "_cache", {})
    assert secret_block_name("geocube_apikey") == "geocube-apikey"

    @flow
    def apikey() -> SecretStr | None:
        return load_settings().geocube_apikey

    assert apikey() is None
