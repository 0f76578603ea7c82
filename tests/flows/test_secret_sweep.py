"""The secret sweep (issue 12, item 5): a known needle in every credential setting, a full ingestion with
a failing tile, then every output is searched: log lines (captured and stored by Prefect), every flow
run's parameters and state message, artifacts, the storage's files (ledger, records, COGs, zips) and the
work directory. No needle may be anywhere."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from common.settings import SECRET_FIELDS, env_name
from flows.ingest import ingest

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.usefixtures("prefect_api")]


def needles() -> dict[str, str]:
    return {
        env_name(field): f"Ndl{index:02d}-{field.replace('_', '')[:12]}-x7Q"
        for index, field in enumerate(SECRET_FIELDS)
    }


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


def test_no_credential_needle_reaches_any_output(
    world_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter

    first = datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC)
    world = world_factory("SecretSweep", dates=[first + timedelta(days=10 * i) for i in range(3)], broken=[1])
    secrets = needles()
    assert len(secrets) >= 8  # every credential setting: Geocube, CDSE, Creodias, DHuS, OneAtlas, ...
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    state = ingest(payload=world.payload, mode="local", return_state=True)
    assert state.is_failed()  # the broken product's tile failed: its error texts are searched too
    found: list[str] = []

    def search(where: str, text: str) -> None:
        found.extend(f"{where}: {name}" for name, value in secrets.items() if value in text)

    search("captured logs", caplog.text)
    search("parent state", f"{state.message} {state.data!r}")
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(limit=200)
        for run in runs:
            search(f"flow run {run.name} parameters", json.dumps(run.parameters, default=str))
            search(f"flow run {run.name} state", f"{run.state.message if run.state else ''}")
        for artifact in client.read_artifacts(limit=200):
            search(f"artifact {artifact.key}", f"{artifact.data} {artifact.description}")
        stored_logs: list[Any] = []
        while page := client.read_logs(log_filter=LogFilter(), limit=200, offset=len(stored_logs)):
            stored_logs += page
        search("Prefect's stored logs", "\n".join(entry.message for entry in stored_logs))
    for path in files_under(world.storage, world.workdir, world.root / "stac"):
        search(str(path.relative_to(world.root)), path.read_bytes().decode("latin-1"))
    assert runs and stored_logs
    assert not found, "\n".join(found)
