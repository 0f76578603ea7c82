"""The parent flow end to end in ``local`` mode: generated archive -> COGs on disk, indexed, clean."""

from __future__ import annotations

import json
import logging
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate

from flows.cli import main
from flows.ingest import ingest
from flows.outcome import summary_of
from geocube_client.client import GeocubeClient
from jobs.summary import IngestionSummary

# A throw-away Prefect API per session (about 20 s to start): slow, as everything that needs it.
pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.usefixtures("prefect_api")]


def run(payload: dict) -> tuple[object, IngestionSummary]:
    state = ingest(payload=payload, mode="local", return_state=True)
    summary = summary_of(state)
    assert summary is not None, state.message
    return state, summary


def archive_dns(world, cog: Path) -> np.ndarray:
    """The band's DNs as the product holds them (its JPEG2000 in the archive zip), read independently."""
    band = cog.stem.rsplit("_", 1)[1]
    (zip_path,) = world.root.glob(f"archive/*/*/*/{cog.parent.name}.zip")
    with zipfile.ZipFile(zip_path) as archive:
        (member,) = [n for n in archive.namelist() if n.endswith(f"_{band}.jp2")]
    with rasterio.open(f"zip://{zip_path}!{member}") as src:
        return np.asarray(src.read(1))


def assert_layers_read_back_as_reflectance(world, cogs: list[Path], containers: list) -> None:
    """GetCube on every layer returns (DN + offset) / quantification of the product (offset -1000 since
    baseline 04.00, generated as 05.10), NaN where DN is 0; and ``verify`` says equal."""
    with GeocubeClient(world.geocube, insecure=True) as client:
        for cog, container in zip(cogs, containers, strict=True):
            (dataset,) = container.datasets
            with rasterio.open(cog) as src:
                grid = {"crs_wkt": src.crs.to_wkt(), "transform": src.transform.to_gdal(),
                        "width": src.width, "height": src.height}  # fmt: skip
            (image,) = client.get_cube(
                instance_id=dataset.instance_id, record_ids=[dataset.record_id], **grid
            )
            assert image.error == "", image.error
            cube, dn = image.array[..., 0], archive_dns(world, cog)
            assert cube.dtype == np.float32
            assert np.array_equal(np.isnan(cube), dn == 0), cog.name
            reflectance = (dn[dn > 0].astype(np.float64) - 1000) / 10000
            assert np.abs(cube[dn > 0] - reflectance).max() < 1e-6, cog.name
    assert main(["verify", world.payload["name"], "--png", str(world.root / "quicklooks")]) == 0
    pngs = sorted((world.root / "quicklooks").glob("*.png"))
    assert len(pngs) == 3  # one per date, from the Geocube's answers
    picture = matplotlib.image.imread(pngs[0])
    assert picture.shape[:2] == (600, 600) and picture.shape[2] in (3, 4)  # true colour of the 10 m bands
    assert picture[..., 0].std() > 0  # not a blank image


@pytest.mark.slow
def test_local_ingestion_indexes_cogs_and_cleans_up(
    world_factory, capsys: pytest.CaptureFixture[str]
) -> None:
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

    assert_layers_read_back_as_reflectance(world, cogs, containers)

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
def test_failed_tile_lets_its_dependants_run_and_fails_the_parent(
    world_factory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first = datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC)
    world = world_factory("LocalFail", dates=[first + timedelta(days=10 * i) for i in range(3)], broken=[1])
    token = "tok-3f9a2c-never-in-logs"  # the local Geocube, like a real one without keys, accepts any key
    monkeypatch.setenv("GEOCUBE_APIKEY", token)
    caplog.set_level(logging.DEBUG)
    state, summary = run(world.payload)
    assert token not in caplog.text, "the API key reached the logs"
    assert token not in json.dumps(summary.model_dump(mode="json"))
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


@pytest.mark.slow
def test_incremental_aoi_adds_an_older_acquisition_without_branching(world_factory) -> None:
    world = world_factory("LocalIncremental")
    later = world.payload | {"start_time": "2024-01-10T00:00:00Z"}
    state1, summary1 = run(later)
    assert state1.is_completed(), state1.message
    assert sum(1 for r in summary1.rows if r.kind == "tile") == 2

    state2, summary2 = run(world.payload)  # now from 2024-01-01: one older acquisition
    assert state2.is_completed(), state2.message
    tiles = [r for r in summary2.rows if r.kind == "tile"]
    assert [t.date for t in tiles] == ["2024-01-05", "2024-01-15"], "the new tile and the relinked old root"
    with GeocubeClient(world.geocube, insecure=True) as client:
        records = {r.name[11:19]: r for r in client.list_records(tags={"aoi": "LocalIncremental"})}
    assert sorted(records) == ["20240105", "20240115", "20240125"], "no duplicate record"
    assert records["20240115"].tags["previous_scenes"] == f'["{records["20240105"].name}"]'
    assert records["20240125"].tags["reference_scenes"] == f'["{records["20240115"].name}"]'
    ledger = json.loads((world.storage / "LocalIncremental" / "ingested.json").read_text())
    assert sorted(ledger["status"].values()) == ["DONE"] * 3
    assert len(list(world.storage.rglob("*.tif"))) == 12

    state3, _ = run(world.payload)  # nothing new: nothing to do
    assert state3.is_completed() and "0 scene(s)" in state3.message


def test_cli_plan_writes_the_interchange_documents_and_the_picture(world_factory, tmp_path, capsys) -> None:
    from catalogue.interchange import read_interchange
    from flows.cli import main

    world = world_factory("CliPlan")
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(world.payload))
    out = tmp_path / "plan"
    assert main(["plan", str(payload), "--out", str(out), "--png"]) == 0
    printed = capsys.readouterr().out
    assert "3 scene(s), 3 tile(s) in 1 series" in printed and "planned in" in printed
    document = read_interchange(out / "tiles.json")
    assert len(document.tiles) == 3 and sum(t.previous is not None for t in document.tiles) == 2
    assert (out / "plan.png").stat().st_size > 10_000
    assert read_interchange(out / "scenes.json").tiles == []


def test_ingest_accepts_a_planned_tiles_document_back(world_factory, tmp_path, capsys) -> None:
    from flows.cli import main

    world = world_factory("CliTiles")
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(world.payload))
    out = tmp_path / "plan"
    assert main(["plan", str(payload), "--out", str(out)]) == 0
    document = json.loads((out / "tiles.json").read_text())
    document["features"] = document["features"][:2]  # the user keeps the first two scenes only
    (out / "tiles.json").write_text(json.dumps(document))
    capsys.readouterr()
    assert main(["ingest", str(payload), "--tiles", str(out / "tiles.json"), "--dry-run"]) == 0
    assert "2 scene(s), 2 tile(s)" in capsys.readouterr().out


@pytest.mark.slow
def test_no_secret_of_a_link_reaches_the_children_artifacts_ledger_or_logs(
    world_factory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Catalogue links carrying user:password@ and ?token=: the product downloads, and the secret is in
    no child run's parameters, no artifact, not the ledger and no log line."""
    from prefect.client.orchestration import get_client

    from tests.support.fault_http import Route, fault_server

    secret = "Sup3r-s3cret-T0ken"
    world = world_factory("LinkCheck")
    caplog.set_level(logging.INFO)
    with fault_server() as server:
        for item_file in sorted((world.root / "stac").rglob("*.json")):
            item = json.loads(item_file.read_text())
            if item.get("type") != "Feature":
                continue
            href = Path(item["assets"]["product"]["href"])
            product = href if href.is_absolute() else (item_file.parent / href).resolve()
            server.routes[f"/{product.name}"] = Route(product.read_bytes())
            port = server.base.rsplit(":", 1)[1]
            item["assets"]["product"]["href"] = (
                f"http://reader:{secret}@127.0.0.1:{port}/{product.name}?token={secret}"
            )
            item_file.write_text(json.dumps(item))
        monkeypatch.setenv("GEOCUBE_INGESTER_PROVIDERS", "url")
        state, summary = run(world.payload)
        fetched = [path for path, _ in server.requests]
    assert state.is_completed(), state.message
    assert len(fetched) == 3, "each product fetched once, from the link"
    assert all(r.message.startswith("downloaded by url") for r in summary.rows if r.kind == "scene")
    ledgers = list(world.storage.rglob("*.json"))
    assert ledgers and all(secret not in p.read_text() for p in ledgers)
    parent = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        children = [r for r in client.read_flow_runs(limit=200) if r.id != parent]
        artifacts = client.read_artifacts(limit=200)
    assert children, "the download and process runs"
    for run_ in children:
        assert secret not in json.dumps(run_.parameters, default=str), run_.name
    for artifact in artifacts:
        assert secret not in f"{artifact.data} {artifact.description}", artifact.key
    assert secret not in caplog.text


@pytest.mark.slow
def test_cli_prints_the_outcome_table_of_a_failed_ingestion(world_factory, tmp_path, capsys) -> None:
    """The parent ends Failed with an IngestionFailedError carrying its summary: the CLI prints it."""
    first = datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC)
    world = world_factory("CliFail", dates=[first + timedelta(days=10 * i) for i in range(2)], broken=[1])
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(world.payload))
    assert main(["ingest", str(payload)]) == 1
    out = capsys.readouterr().out
    table = [line.split() for line in out.splitlines() if line.startswith(("scene ", "tile "))]
    assert [(row[0], row[3]) for row in table] == [
        ("scene", "DONE"),
        ("scene", "DONE"),
        ("tile", "DONE"),
        ("tile", "FAILED"),
    ], out
    assert "CliFail: scenes: 2/2 done, 0 failed, 0 skipped; tiles: 1/2 done, 1 failed" in out
    assert "TypeError" not in out
