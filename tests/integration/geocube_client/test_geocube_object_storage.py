"""Layers on object storage, as a real Geocube reads them: a COG uploaded to S3 (moto in server mode)
or GCS (fake-gcs-server) through ObjectStorage, indexed at its s3:// or gs:// URI into the local
Geocube, which opens it with GDAL's /vsis3/ and /vsigs/ configured by its environment; GetCube gives
back the file's values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio

from common.dataformat import DataFormat
from geocube_client import GeocubeClient, GeocubeInvalidArgumentError
from geocube_client.models import NewRecord
from geocube_client.server_index import gdal_path
from storage import open_storage
from tests.integration.geocube_client.conftest import unique
from tests.support.gcs_server import fake_gcs
from tests.support.s3_server import ACCESS_KEY, SECRET_KEY, MotoS3, moto_s3

pytestmark = pytest.mark.integration
RGB = DataFormat.parse("uint8,0,0,255")


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    with moto_s3() as server:
        server.create_bucket("layers")
        yield server


@pytest.fixture
def cog(shared_fixtures: Path) -> Path:
    return shared_fixtures / "rasters" / "cogeo.tif"  # a real 3-band uint8 COG (EPSG:3857)


def _index_and_read(client: GeocubeClient, aoi_id: str, uri: str, cog: Path) -> np.ndarray:
    variable_id = client.create_variable(name=unique("RGB"), bands=["r", "g", "b"], dformat=RGB)
    instance = client.instantiate_variable(variable_id, "cog")
    (record_id,) = client.create_records(
        [NewRecord(unique("S2A_MSIL2A"), datetime(2024, 1, 5, tzinfo=UTC), {"t": "object"}, aoi_id)]
    )
    client.index_dataset(uri=uri, record_id=record_id, instance_id=instance.id, bands=[1, 2, 3], dformat=RGB,
                         real_min_value=0, real_max_value=255)  # fmt: skip
    with rasterio.open(cog) as src:
        grid = {"crs_wkt": src.crs.to_wkt(), "transform": src.transform.to_gdal(), "width": src.width,
                "height": src.height}  # fmt: skip
    (image,) = client.get_cube(instance_id=instance.id, record_ids=[record_id], **grid)
    assert image.error == "" and image.array is not None, image.error
    array: np.ndarray = image.array
    return array


def _file_values(cog: Path) -> np.ndarray:
    with rasterio.open(cog) as src:
        return np.moveaxis(src.read(), 0, -1)


def test_gdal_paths_of_container_uris() -> None:
    assert gdal_path("s3://bkt/a/b.tif") == "/vsis3/bkt/a/b.tif"
    assert gdal_path("gs://bkt/a/b.tif", "GTIFF_DIR:1") == "GTIFF_DIR:1:/vsigs/bkt/a/b.tif"
    assert gdal_path("/data/b.tif") == "/data/b.tif"
    assert gdal_path("file:///data/b.tif") is None and gdal_path("data/b.tif") is None


@pytest.fixture
def on_moto(s3: MotoS3, monkeypatch: pytest.MonkeyPatch) -> MotoS3:
    """The ingester's and the Geocube's environments for moto: obstore's keys and endpoint setting, and
    GDAL's /vsis3/ (path-style, plain http) as a Geocube on MinIO-like storage is configured."""
    settings = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": "us-east-1",
        "GEOCUBE_INGESTER_S3_ENDPOINT_URL": s3.endpoint,
        "AWS_S3_ENDPOINT": s3.endpoint.removeprefix("http://"),
        "AWS_VIRTUAL_HOSTING": "FALSE",
        "AWS_HTTPS": "NO",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return s3


def test_a_cog_on_s3_is_indexed_at_its_uri_and_read_back(
    client: GeocubeClient, aoi_id: str, on_moto: MotoS3, cog: Path
) -> None:
    uri = open_storage("s3://layers/geocube").upload(cog, "aoi/scene/tiles/t/cog.tif")
    assert uri == "s3://layers/geocube/aoi/scene/tiles/t/cog.tif"
    cube = _index_and_read(client, aoi_id, uri, cog)
    assert np.array_equal(cube, _file_values(cog))
    (container,) = client.get_containers([uri])
    assert container.uri == uri


def test_a_missing_object_cannot_be_indexed(
    client: GeocubeClient, aoi_id: str, on_moto: MotoS3, cog: Path
) -> None:
    with pytest.raises(GeocubeInvalidArgumentError, match="cannot be opened"):
        _index_and_read(client, aoi_id, "s3://layers/nothing/here.tif", cog)


def test_a_cog_on_gcs_is_indexed_at_its_uri_and_read_back(
    client: GeocubeClient, aoi_id: str, cog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_gcs() as gcs:
        gcs.create_bucket("glayers")
        gcs.seed("glayers", "geocube/aoi/cog.tif", cog.read_bytes())
        monkeypatch.setenv("CPL_GS_ENDPOINT", gcs.endpoint + "/")
        monkeypatch.setenv("GS_NO_SIGN_REQUEST", "YES")  # the emulator takes no signature
        monkeypatch.setenv("GEOCUBE_INGESTER_GS_ENDPOINT_URL", gcs.endpoint)
        storage = open_storage("gs://glayers/geocube")
        assert storage.exists("aoi/cog.tif")
        cube = _index_and_read(client, aoi_id, storage.uri_of("aoi/cog.tif"), cog)
    assert np.array_equal(cube, _file_values(cog))
