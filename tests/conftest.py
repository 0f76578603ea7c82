"""Fixtures shared by every test: the shared fixtures folder and a local Geocube server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# `make test` runs the tests in 2 processes (pytest-xdist, --dist loadfile: a module's tests stay in one
# process, with its module fixtures). The modules that start Prefect servers and workers take minutes
# each: handed out first, they run side by side while the quick ones fill the gaps, instead of one
# of them starting last and running alone.
HEAVY_FIRST = ("tests/flows/", "tests/reliability/", "tests/integration/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.relative_to(REPO).as_posix() if item.path.is_relative_to(REPO) else ""
        return next((i for i, prefix in enumerate(HEAVY_FIRST) if path.startswith(prefix)), len(HEAVY_FIRST))

    items.sort(key=rank)  # stable: the order inside a module, and of modules of one rank, is kept


def fixtures_dir() -> Path:
    """``../shared/fixtures`` beside the clone (GEOCUBE_INGESTER_FIXTURES overrides it)."""
    return Path(os.environ.get("GEOCUBE_INGESTER_FIXTURES", REPO.parent / "shared" / "fixtures"))


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    path = fixtures_dir()
    if not path.is_dir():
        pytest.skip(f"shared fixtures folder {path} is absent (a user's clone); CI always has it")
    return path


@pytest.fixture(scope="session")
def local_geocube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Geocube-compatible local server on 127.0.0.1 (SQLite), for the whole session: its address."""
    from geocube_client.server import start_local_server

    db = tmp_path_factory.mktemp("geocube") / "geocube.sqlite"
    with start_local_server(db_path=db) as server:
        yield server.address
