"""Fixtures of the graph tests: the original's graph files and the real Sentinel-2 band."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.graphs.safe_trees import S2_L1C_B01


@pytest.fixture(scope="session")
def original_graphs(shared_fixtures: Path) -> Path:
    path = shared_fixtures / "original-ingester" / "graphs" / "library"
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the original ingester's graph files are needed")
    return path


@pytest.fixture(scope="session")
def real_s2_band(shared_fixtures: Path) -> Path:
    path = shared_fixtures / "s2" / S2_L1C_B01
    if not path.is_file():
        pytest.skip(f"{path} is absent: the real S2 band B01 is needed")
    return path
