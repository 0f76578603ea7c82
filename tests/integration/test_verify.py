"""``verify``: each indexed layer of an AOI read back through GetCube and compared with its file."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from common.dataformat import DataFormat
from geocube_client import GeocubeClient, NewRecord
from jobs.verify import ReadBack, verify_aoi
from storage import open_storage
from tests.integration.geocube_client.conftest import unique

pytestmark = pytest.mark.integration

SOURCE = DataFormat.parse("uint16,0,0,10000")


def write_layer(path: Path, data: np.ndarray, *, offset_px: int = 0) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    transform = Affine(10, 0, 360000 + 10 * offset_px, 0, -10, 4830000 - 10 * offset_px)
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1, dtype="uint16",
        crs="EPSG:32631", transform=transform, nodata=0,
    ) as dst:  # fmt: skip
        dst.write(data, 1)
    return str(path)


@pytest.fixture
def indexed_aoi(tmp_path: Path, local_geocube: str) -> tuple[str, Path, dict[str, str]]:
    """An AOI with four layers in storage: one fine; two tiles of one record that overlap (as S1 bursts
    do), the later covering the earlier; one in an integer variable that rounds its reflectance away."""
    aoi = unique("VerifyAOI")
    rng = np.random.default_rng(3)
    data = rng.integers(1000, 5000, size=(40, 50)).astype("uint16")
    data[:, 0] = 0
    with GeocubeClient(local_geocube, insecure=True) as client:
        aoi_id = client.create_aoi("POLYGON ((1.26 43.5, 1.35 43.5, 1.35 43.6, 1.26 43.6, 1.26 43.5))")
        (record,) = client.create_records(
            [NewRecord(unique("S2A_MSIL1C"), datetime(2024, 1, 5, tzinfo=UTC), {"aoi": aoi}, aoi_id)]
        )
        uris = {}
        reflectance = DataFormat("float32", math.nan, -0.1, 1.6)
        folder = tmp_path / aoi / "scene" / "tiles" / "tile"
        overlap_instance = ""
        for name, dformat, real, layer in (
            ("good", reflectance, (-0.1, 0.9), data),
            ("covered", reflectance, (-0.1, 0.9), data),
            ("over", reflectance, (-0.1, 0.9), data[:10, :10] + 7),
            ("rounded", DataFormat("uint16", 0, 0, 10000), (0.0, 1.0), data),
        ):
            if name == "over":
                instance_id = overlap_instance  # another tile of the same record and instance
            else:
                variable_id = client.create_variable(name=unique(name), bands=["r"], dformat=dformat)
                instance_id = client.instantiate_variable(variable_id, "raw").id
                overlap_instance = instance_id
            offset = 20 if name == "over" else 0
            uri = write_layer(folder / f"20240105_tile_{name}.tif", layer, offset_px=offset)
            client.index_dataset(uri=uri, record_id=record, instance_id=instance_id, bands=[1],
                                 dformat=SOURCE, real_min_value=real[0], real_max_value=real[1])  # fmt: skip
            uris[name] = uri
    write_layer(folder / "20240105_tile_unindexed.tif", data)
    return aoi, tmp_path, uris


def test_verify_reports_equal_differs_and_unreadable(indexed_aoi, local_geocube: str) -> None:
    aoi, root, _ = indexed_aoi
    with GeocubeClient(local_geocube, insecure=True) as client:
        report = verify_aoi(client, open_storage(str(root)), aoi)
    by_file = {Path(c.uri).stem.rsplit("_", 1)[1]: c for c in report.checks}
    assert set(by_file) == {"good", "covered", "over", "rounded"}  # the unindexed file is not a layer
    assert by_file["good"].outcome == ReadBack.EQUAL
    assert by_file["over"].outcome == ReadBack.EQUAL  # painted last: the cube shows it whole
    assert by_file["covered"].outcome == ReadBack.DIFFERS
    assert "on 100 pixel(s); nodata differs on 0 pixel(s)" in by_file["covered"].detail  # the 10 x 10 over it
    assert by_file["rounded"].outcome == ReadBack.UNREADABLE
    assert "Not enough valid pixels (skipped)" in by_file["rounded"].detail
    assert not report.all_equal
    assert report.headline().endswith("2 equal, 1 differs, 1 unreadable")
