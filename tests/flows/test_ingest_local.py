"""The parent flow end to end in ``local`` mode: generated archive -> COGs on disk, indexed, clean."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate

from flows.ingest import ingest
from geocube_client.client import GeocubeClient
from jobs.summary import IngestionSummary

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_api")]


def run(payload: dict) -> tuple[object, IngestionSummary]:
    state = ingest(payload=payload, mode="local", return_state=True)
    return state, IngestionSummary.model_validate(state.result(raise_on_failure=False))


@pytest.mark.slow
def test_local_ingestion_indexes_cogs_and_cleans_up(world_factory) -> None:
    world = world_factory("LocalE2E")
    state, summary = run(world.payload)
    assert state.is_completed(), state.message
    assert [r.status.value for r in summary.rows] == ["DONE"] * 6
    cogs = sorted(world.storage.rglob("*.tif"))
    assert len(cogs) == 3 * 4  # 3 dates x the 4 layers of the payload
    for cog in cogs:
        assert cog_validate(str(cog))[0], cog
        with rasterio.open(cog) as src:
            assert src.crs.to_epsg() == 32631 and src.overviews(1), cog
    assert not list(world.storage.rglob("*.zip")), "the stored product is deleted after processing"
    assert list(world.workdir.iterdir()) == [], "temporary files left behind"
    with GeocubeClient(world.geocube, insecure=True) as client:
        containers = client.get_containers([str(c) for c in cogs])
        records = client.list_records(tags={"aoi": "LocalE2E"})
    assert sum(len(c.datasets) for c in containers) == 12
    assert len(records) == 3 and all("processingDate" in r.tags for r in records)
    by_name = {r.name: r for r in records}
    for c in containers:
        (dataset,) = c.datasets
        assert by_name[next(n for n in by_name if n in c.uri)].id == dataset.record_id

    # A re-run is idempotent: same records, same datasets, nothing left behind.
    state2, _ = run(world.payload)
    assert state2.is_completed(), state2.message
    with GeocubeClient(world.geocube, insecure=True) as client:
        again = client.list_records(tags={"aoi": "LocalE2E"})
        containers2 = client.get_containers([str(c) for c in cogs])
    assert sorted(r.id for r in again) == sorted(r.id for r in records)
    assert sum(len(c.datasets) for c in containers2) == 12
    assert list(world.workdir.iterdir()) == []


@pytest.mark.slow
def test_failed_tile_lets_its_dependants_run_and_fails_the_parent(world_factory) -> None:
    first = datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC)
    world = world_factory("LocalFail", dates=[first + timedelta(days=10 * i) for i in range(3)], broken=[1])
    state, summary = run(world.payload)
    assert state.is_failed()
    assert "tiles: 2/3 done, 1 failed" in state.message
    tiles = [r for r in summary.rows if r.kind == "tile"]
    assert [t.status.value for t in tiles] == ["DONE", "FAILED", "DONE"]
    assert "no band found" in tiles[1].message or "FATAL" in tiles[1].message
    assert list(world.workdir.iterdir()) == []


def test_invalid_payload_fails_before_any_download(world_factory) -> None:
    world = world_factory("LocalInvalid")
    bad = world.payload | {
        "layers": {"B04": {"variable": "NoSuchVariable", "instance": "raw"}},
        "end_time": "2023-01-01T00:00:00Z",
    }
    state = ingest(payload=bad, mode="local", return_state=True)
    assert state.is_failed()
    message = str(state.result(raise_on_failure=False))
    assert "layers.B04" in message and "NoSuchVariable" in message and "end_time" in message
    assert not list(world.storage.rglob("*")), "nothing may be stored for an invalid payload"


def test_dry_run_plans_without_records(world_factory) -> None:
    world = world_factory("LocalDryRun")
    state = ingest(payload=world.payload, mode="local", dry_run=True, return_state=True)
    assert state.is_completed()
    assert "3 scene(s), 3 tile(s) in 1 series" in state.message
    with GeocubeClient(world.geocube, insecure=True) as client:
        assert client.list_records(tags={"aoi": "LocalDryRun"}) == []
