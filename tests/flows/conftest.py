"""Flow tests: one throw-away Prefect API per session, and a generated demo world per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from demo.setup import demo_environment, ensure_variables, load_demo_payload, prepare_demo
from geocube_client.client import GeocubeClient


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@dataclass
class World:
    root: Path
    env: dict[str, str]
    payload: dict[str, Any]
    geocube: str

    @property
    def storage(self) -> Path:
        return Path(self.env["GEOCUBE_INGESTER_STORAGE_URI"])

    @property
    def workdir(self) -> Path:
        return Path(self.env["GEOCUBE_INGESTER_WORKDIR"])


def make_world(root: Path, geocube: str, name: str, **archive_options: Any) -> World:
    prepare_demo(root, **archive_options)
    payload = load_demo_payload() | {"name": name, "record_tags": {"source": "test", "aoi": name}}
    with GeocubeClient(geocube, insecure=True) as client:
        ensure_variables(client, payload)
    return World(root=root, env=demo_environment(root, geocube), payload=payload, geocube=geocube)


@pytest.fixture
def world_factory(
    tmp_path: Path, local_geocube: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., World]:
    def build(name: str, **archive_options: Any) -> World:
        world = make_world(tmp_path / name, local_geocube, name, **archive_options)
        for key, value in world.env.items():
            monkeypatch.setenv(key, value)
        return world

    return build
