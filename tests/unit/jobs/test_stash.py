"""A job too large for Prefect's 512 KiB parameter limit travels by reference (issue 11, item 7)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalogue.models import Constellation, Scene, Tile
from common.errors import PermanentError
from jobs.models import SceneJob
from jobs.stash import JobRef, job_parameters, load_job

BURST = "POLYGON ((10.0 54.8, 10.9 54.8, 10.9 55.0, 10.0 55.0, 10.0 54.8))"
NAME = "S1A_IW_SLC__1SDV_20220111T170124_20220111T170151_041416_04ECAD_F4D7"


def scene_job(tiles: int, storage: Path) -> SceneJob:
    date = datetime(2022, 1, 11, 17, 1, 24, tzinfo=UTC)
    scene = Scene(source_id=NAME, date=date, constellation=Constellation.SENTINEL1, footprint_wkt=BURST)
    bursts = [
        Tile(
            source_id=f"A44_IW{1 + i % 3}_{8000 + i}",
            scene_id=NAME,
            date=date + timedelta(seconds=i),
            footprint_wkt=BURST,
            swath_id=f"IW{1 + i % 3}",
            tile_nr=1 + i % 9,
        )
        for i in range(tiles)
    ]
    return SceneJob(aoi="Big", scene=scene, tiles=bursts, graph_name="S1BurstSplit", storage_uri=str(storage))


def test_a_small_job_is_its_own_parameter(tmp_path: Path) -> None:
    job = scene_job(3, tmp_path)
    assert job_parameters(job, aoi="Big", item=NAME, storage_uri=str(tmp_path)) == {
        "job": job.model_dump(mode="json")
    }
    assert not list(tmp_path.rglob("*.json"))


def test_a_scene_of_1600_bursts_travels_by_reference_and_comes_back_whole(tmp_path: Path) -> None:
    from flows.children import download_scene

    job = scene_job(1600, tmp_path)
    assert len(json.dumps(job.model_dump(mode="json"))) > 512 * 1024  # over Prefect's limit
    parameters = job_parameters(job, aoi="Big", item=NAME, storage_uri=str(tmp_path))
    assert set(parameters) == {"job_ref"} and len(json.dumps(parameters)) < 1024
    download_scene.validate_parameters(parameters)  # what Prefect checks when the run is created
    ref = JobRef.model_validate(parameters["job_ref"])
    assert ref.key.startswith("Big/_jobs/") and (tmp_path / ref.key).is_file()
    assert load_job(ref, SceneJob) == job
    again = job_parameters(job, aoi="Big", item=NAME, storage_uri=str(tmp_path))
    assert again == parameters, "a retried parent writes the same object"


def test_a_missing_stashed_job_is_a_clear_error(tmp_path: Path) -> None:
    ref = JobRef(storage_uri=str(tmp_path), key="Big/_jobs/nope.json", aoi="Big", item=NAME, size_bytes=1)
    with pytest.raises(PermanentError, match=r"is not in .* \(the parent wrote it there\)"):
        load_job(ref, SceneJob)


def test_a_document_past_the_parameter_limit_goes_by_reference(tmp_path: Path) -> None:
    from jobs.stash import document_parameters, load_document

    small = {"type": "FeatureCollection", "features": []}
    assert document_parameters(small, kind="scenes", aoi="Big", storage_uri="") == {"scenes": small}
    big = {"type": "FeatureCollection", "features": [{"id": f"s{i}", "x": "y" * 600} for i in range(600)]}
    parameters = document_parameters(big, kind="tiles", aoi="Big", storage_uri=str(tmp_path))
    assert set(parameters) == {"document_ref"}
    assert load_document(JobRef.model_validate(parameters["document_ref"])) == big
    with pytest.raises(PermanentError, match="GEOCUBE_INGESTER_STORAGE_URI"):
        document_parameters(big, kind="tiles", aoi="Big", storage_uri="")
