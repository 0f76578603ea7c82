"""GetCube of the local Geocube over a real socket: layers read back in their variable's format.

The rules are a real Geocube's (v1.0.3, shared/docs/geocube-api.md "Reading layers back"): each dataset
mapped to real values and cast into the variable's format, nodata kept, datasets of a record mosaicked,
"Not enough valid pixels (skipped)", a global header then per image a header and chunks.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import numpy as np
import pytest
import rasterio
from affine import Affine

from common.dataformat import DataFormat
from geocube_client import GeocubeClient, GeocubeInvalidArgumentError
from geocube_client.errors import RpcFailure
from geocube_client.models import NewRecord, Variable
from geocube_client.pb import geocube_pb2 as pb
from geocube_client.pb import geocube_pb2_grpc as pb_grpc
from tests.integration.geocube_client.conftest import unique

pytestmark = pytest.mark.integration

SOURCE = DataFormat.parse("uint16,0,0,10000")


def make_variable(client: GeocubeClient, dformat: DataFormat) -> tuple[Variable, str]:
    variable_id = client.create_variable(name=unique("S2_B04"), bands=["reflectance"], dformat=dformat)
    instance = client.instantiate_variable(variable_id, "raw")
    return client.get_variable(id=variable_id), instance.id


def write(path: Path, data: np.ndarray, transform: Affine, *, crs: str = "EPSG:32631") -> str:
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1, dtype=data.dtype,
        crs=crs, transform=transform, nodata=0,
    ) as dst:  # fmt: skip
        dst.write(data, 1)
    return str(path)


def reflectance_dns(height: int = 64, width: int = 80) -> np.ndarray:
    """DNs of a baseline 04.00+ product: reflectance * 10000 + 1000, with a 0 (nodata) border."""
    rng = np.random.default_rng(7)
    data = rng.integers(1000, 6000, size=(height, width)).astype("uint16")
    data[:, :3] = 0
    return data


TRANSFORM = Affine(10, 0, 360000, 0, -10, 4830000)


def grid_of(path: str) -> dict[str, object]:
    with rasterio.open(path) as ds:
        return {"crs_wkt": ds.crs.to_wkt(), "transform": ds.transform.to_gdal(), "width": ds.width,
                "height": ds.height}  # fmt: skip


def new_record(client: GeocubeClient, aoi_id: str, day: int, tags: dict[str, str] | None = None) -> str:
    time = datetime(2024, 1, 5, 10, 54, tzinfo=UTC) + timedelta(days=day)
    (rid,) = client.create_records([NewRecord(unique("S2A_MSIL1C"), time, tags or {"t": "cube"}, aoi_id)])
    return rid


def test_reflectance_into_an_integer_variable_reads_back_as_not_enough_valid_pixels(
    client: GeocubeClient, tmp_path: Path, aoi_id: str
) -> None:
    """The demo's old mismatch, as a real Geocube answered it on all 12 layers."""
    data = reflectance_dns()
    path = write(tmp_path / "b04.tif", data - np.where(data > 0, 1000, 0).astype("uint16"), TRANSFORM)
    _, instance_id = make_variable(client, DataFormat.parse("uint16,0,0,10000"))
    rid = new_record(client, aoi_id, 0)
    client.index_dataset(uri=path, record_id=rid, instance_id=instance_id, bands=[1], dformat=SOURCE,
                         real_min_value=0, real_max_value=1)  # fmt: skip
    (image,) = client.get_cube(instance_id=instance_id, record_ids=[rid], **grid_of(path))  # type: ignore[arg-type]
    assert image.array is None and image.records[0].id == rid
    assert image.error == "rpc error: code = NotFound desc = Not enough valid pixels (skipped)"


def test_a_float_variable_reads_back_reflectance_with_the_offset(
    client: GeocubeClient, tmp_path: Path, aoi_id: str
) -> None:
    data = reflectance_dns()
    path = write(tmp_path / "b04.tif", data, TRANSFORM)
    _, instance_id = make_variable(client, DataFormat("float32", math.nan, -0.1, 1.6))
    rid = new_record(client, aoi_id, 0)
    client.index_dataset(uri=path, record_id=rid, instance_id=instance_id, bands=[1], dformat=SOURCE,
                         real_min_value=-0.1, real_max_value=0.9)  # fmt: skip
    (image,) = client.get_cube(instance_id=instance_id, record_ids=[rid], **grid_of(path))  # type: ignore[arg-type]
    cube = image.array[..., 0]
    assert cube.dtype == np.float32 and image.records[0].id == rid
    assert np.array_equal(np.isnan(cube), data == 0)  # DN 0 stays nodata
    expected = (data.astype(np.float64) - 1000) / 10000
    assert np.abs(cube[data > 0] - expected[data > 0]).max() < 1e-6


def test_an_integer_variable_with_the_files_range_reads_back_the_file(
    client: GeocubeClient, tmp_path: Path, aoi_id: str
) -> None:
    data = reflectance_dns()
    path = write(tmp_path / "b04.tif", data, TRANSFORM)
    _, instance_id = make_variable(client, DataFormat.parse("uint16,0,0,10000"))
    rid = new_record(client, aoi_id, 0)
    client.index_dataset(uri=path, record_id=rid, instance_id=instance_id, bands=[1], dformat=SOURCE,
                         real_min_value=0, real_max_value=10000)  # fmt: skip
    (image,) = client.get_cube(
        instance_id=instance_id,
        record_ids=[rid],
        compression_level=6,
        **grid_of(path),  # type: ignore[arg-type]
    )
    assert image.array.dtype == np.uint16
    assert np.array_equal(image.array[..., 0], data)


def test_datasets_of_a_record_are_mosaicked_on_the_requested_grid(
    client: GeocubeClient, tmp_path: Path, aoi_id: str
) -> None:
    data = reflectance_dns(64, 80)
    west = write(tmp_path / "west.tif", data[:, :40].copy(), TRANSFORM)
    east = write(tmp_path / "east.tif", data[:, 40:].copy(), TRANSFORM @ Affine.translation(40, 0))
    _, instance_id = make_variable(client, DataFormat.parse("uint16,0,0,10000"))
    rid = new_record(client, aoi_id, 0)
    for path in (west, east):
        client.index_dataset(uri=path, record_id=rid, instance_id=instance_id, bands=[1], dformat=SOURCE,
                             real_min_value=0, real_max_value=10000)  # fmt: skip
    with rasterio.open(west) as ds:
        crs = ds.crs.to_wkt()
    (whole,) = client.get_cube(instance_id=instance_id, record_ids=[rid], crs_wkt=crs,
                               transform=TRANSFORM.to_gdal(), width=80, height=64)  # fmt: skip
    assert np.array_equal(whole.array[..., 0], data)
    # pixels twice as large, nearest neighbour: GDAL takes the source pixel under each centre
    coarse = (TRANSFORM @ Affine.scale(2)).to_gdal()
    (image,) = client.get_cube(instance_id=instance_id, record_ids=[rid], crs_wkt=crs, transform=coarse,
                               width=40, height=32)  # fmt: skip
    assert np.array_equal(image.array[..., 0], data[1::2, 1::2])


def test_filters_give_one_image_per_record_in_time_order(
    client: GeocubeClient, stub: pb_grpc.GeocubeStub, tmp_path: Path, aoi_id: str
) -> None:
    tag = unique("series")
    _, instance_id = make_variable(client, DataFormat.parse("uint16,0,0,10000"))
    records = []
    for day in (20, 0, 10):
        data = np.full((8, 8), 1000 + day, dtype="uint16")
        path = write(tmp_path / f"d{day}.tif", data, TRANSFORM)
        rid = new_record(client, aoi_id, day, {"series": tag})
        records.append((day, rid))
        client.index_dataset(uri=path, record_id=rid, instance_id=instance_id, bands=[1], dformat=SOURCE,
                             real_min_value=0, real_max_value=10000)  # fmt: skip
    grid = grid_of(str(tmp_path / "d0.tif"))
    request = pb.GetCubeRequest(
        filters=pb.RecordFilters(tags={"series": tag}), instances_id=[instance_id], crs=grid["crs_wkt"],
        pix_to_crs=pb.GeoTransform(**dict(zip("abcdef", grid["transform"], strict=True))),  # type: ignore[call-overload]
        size=pb.Size(width=8, height=8), compression_level=-3,
    )  # fmt: skip
    answer = list(stub.GetCube(request, timeout=10))
    assert answer[0].WhichOneof("response") == "global_header"
    assert (answer[0].global_header.count, answer[0].global_header.nb_datasets) == (3, 3)
    headers = [m.header for m in answer if m.WhichOneof("response") == "header"]
    assert [h.grouped_records.records[0].id for h in headers] == [rid for _, rid in sorted(records)]
    values = [int(np.frombuffer(h.data, dtype="<u2")[0]) for h in headers]
    assert values == [1000, 1010, 1020]


def test_a_large_image_streams_in_chunks_of_512_kib(
    client: GeocubeClient, stub: pb_grpc.GeocubeStub, tmp_path: Path, aoi_id: str
) -> None:
    data = np.random.default_rng(1).integers(1, 10000, size=(700, 700)).astype("uint16")  # 980 000 bytes
    path = write(tmp_path / "big.tif", data, TRANSFORM)
    _, instance_id = make_variable(client, DataFormat.parse("uint16,0,0,10000"))
    rid = new_record(client, aoi_id, 0)
    client.index_dataset(uri=path, record_id=rid, instance_id=instance_id, bands=[1], dformat=SOURCE,
                         real_min_value=0, real_max_value=10000)  # fmt: skip
    grid = grid_of(path)
    for level, v11x in ((-3, False), (1, False), (1, True)):
        request = pb.GetCubeRequest(
            records=pb.RecordIdList(ids=[rid]), instances_id=[instance_id], crs=grid["crs_wkt"],
            pix_to_crs=pb.GeoTransform(**dict(zip("abcdef", grid["transform"], strict=True))),  # type: ignore[call-overload]
            size=pb.Size(width=700, height=700), compression_level=level, protocol_v11x=v11x,
        )  # fmt: skip
        answer = list(stub.GetCube(request, timeout=10))
        header = answer[1].header
        chunks = [m.chunk for m in answer[2:]]
        assert header.size == 700 * 700 * 2 and header.nb_parts == 2  # uncompressed bytes, 512 KiB parts
        assert header.compression is (level != -3)
        assert [c.part for c in chunks] == list(range(1, 1 + len(chunks)))
        assert len(chunks) == header.nb_parts - 1  # padded with an empty chunk when compressed
        assert all(len(c.data) <= 512 * 1024 for c in chunks)
        raw = header.data + b"".join(c.data for c in chunks)
        if header.compression:
            raw = zlib.decompress(raw, -15)
        assert (header.shape.dim1, header.shape.dim2, header.shape.dim3) == (1, 700, 700)  # bands, w, h
        assert np.array_equal(np.frombuffer(raw, dtype="<u2").reshape(700, 700), data)


def test_get_cube_refuses_a_malformed_or_unknown_instance(
    client: GeocubeClient, stub: pb_grpc.GeocubeStub, failure_of: Callable[..., RpcFailure], record_id: str
) -> None:
    grid = {"crs_wkt": "EPSG:32631", "transform": TRANSFORM.to_gdal(), "width": 4, "height": 4}
    with pytest.raises(
        GeocubeInvalidArgumentError, match=r"Invalid Instance\.uuid VV: invalid UUID length: 2"
    ):
        client.get_cube(instance_id="VV", record_ids=[record_id], **grid)  # type: ignore[arg-type]
    unknown = "5f1b0c2e-0000-4000-8000-000000000000"
    request = pb.GetCubeRequest(records=pb.RecordIdList(ids=[record_id]), instances_id=[unknown],
                                crs="EPSG:32631", size=pb.Size(width=4, height=4),
                                pix_to_crs=pb.GeoTransform(a=360000, b=10, d=4830000, f=-10))  # fmt: skip
    failure = failure_of(lambda: list(stub.GetCube(request, timeout=10)))
    assert failure.code == grpc.StatusCode.NOT_FOUND.name
    assert failure.resource_type == "Variable Instance" and failure.resource_name == unknown


def test_a_group_of_records_is_one_image_painted_in_the_order_given(
    client: GeocubeClient, stub: pb_grpc.GeocubeStub, tmp_path: Path, aoi_id: str
) -> None:
    _, instance_id = make_variable(client, DataFormat.parse("uint16,0,0,10000"))
    records = []
    for day, value in ((0, 1000), (10, 2000)):
        rid = new_record(client, aoi_id, day)
        path = write(tmp_path / f"g{day}.tif", np.full((8, 8), value, dtype="uint16"), TRANSFORM)
        client.index_dataset(uri=path, record_id=rid, instance_id=instance_id, bands=[1], dformat=SOURCE,
                             real_min_value=0, real_max_value=10000)  # fmt: skip
        records.append(rid)
    grid = grid_of(str(tmp_path / "g0.tif"))
    for order, top in ((records, 2000), (records[::-1], 1000)):
        request = pb.GetCubeRequest(
            grouped_records=pb.GroupedRecordIdsList(records=[pb.GroupedRecordIds(ids=order)]),
            instances_id=[instance_id], crs=grid["crs_wkt"], size=pb.Size(width=8, height=8),
            pix_to_crs=pb.GeoTransform(**dict(zip("abcdef", grid["transform"], strict=True))),  # type: ignore[call-overload]
            compression_level=-3,
        )  # fmt: skip
        answer = list(stub.GetCube(request, timeout=10))
        assert answer[0].global_header.count == 1
        assert set(np.frombuffer(answer[1].header.data, dtype="<u2")) == {top}  # the last given wins
