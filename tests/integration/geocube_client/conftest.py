"""A local Geocube on 127.0.0.1 per test module, a client on it, and GeoTIFFs written with rasterio."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import numpy as np
import pytest
import rasterio
from affine import Affine

from common.dataformat import DataFormat
from geocube_client import GeocubeClient, Instance, NewRecord, Variable
from geocube_client.errors import RpcFailure, read_rpc_failure
from geocube_client.pb import geocube_pb2_grpc as pb_grpc
from geocube_client.server import LocalGeocube, start_local_server

SQUARE = "POLYGON ((2 43, 3 43, 3 44, 2 44, 2 43))"


@pytest.fixture(scope="module")
def geocube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGeocube]:
    db = tmp_path_factory.mktemp("geocube") / "geocube.sqlite"
    with start_local_server(db_path=db) as server:
        yield server


@pytest.fixture
def client(geocube: LocalGeocube) -> Iterator[GeocubeClient]:
    with GeocubeClient(
        geocube.address, insecure=True, timeout_s=10, unknown_retry_delays_s=(0.01, 0.01)
    ) as c:
        yield c


@pytest.fixture
def stub(geocube: LocalGeocube) -> Iterator[pb_grpc.GeocubeStub]:
    """The raw stub: to send what our client refuses to send, and see the server's own answer."""
    with grpc.insecure_channel(geocube.address) as channel:
        yield pb_grpc.GeocubeStub(channel)


def _failure_of(call: Callable[[], object]) -> RpcFailure:
    try:
        call()
    except grpc.RpcError as exc:
        return read_rpc_failure(exc)
    raise AssertionError("the call succeeded")


@pytest.fixture
def failure_of() -> Callable[[Callable[[], object]], RpcFailure]:
    """``failure_of(lambda: stub.X(req))``: the status, message and ResourceInfo of a raw call that fails."""
    return _failure_of


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def aoi_id(client: GeocubeClient) -> str:
    return client.create_aoi(SQUARE)


@pytest.fixture
def variable(client: GeocubeClient) -> Variable:
    """A one-band variable 'Sigma0-…' (float32 in [0, 1]) with one instance 'VV'."""
    name = unique("Sigma0")
    variable_id = client.create_variable(name=name, bands=["VV"], dformat=DataFormat.parse("float32,NaN,0,1"))
    client.instantiate_variable(variable_id, "VV", metadata={"polarisation": "VV"})
    return client.get_variable(id=variable_id)


@pytest.fixture
def instance(variable: Variable) -> Instance:
    return variable.instances[0]


@pytest.fixture
def record_id(client: GeocubeClient, aoi_id: str) -> str:
    (rid,) = client.create_records(
        [
            NewRecord(
                unique("S1A_IW_SLC"),
                datetime(2024, 1, 2, 5, 49, 30, tzinfo=UTC),
                {"test": "indexing"},
                aoi_id,
            )
        ]
    )
    return rid


def write_geotiff(path: Path, *, count: int = 1, dtype: str = "uint16") -> str:
    """A small georeferenced GeoTIFF (EPSG:4326 over SQUARE); returns its absolute path."""
    data = np.arange(16 * 16 * count).reshape(count, 16, 16).astype(dtype)
    profile = {"driver": "GTiff", "width": 16, "height": 16, "count": count, "dtype": dtype,
               "crs": "EPSG:4326", "transform": Affine(1 / 16, 0, 2, 0, -1 / 16, 44)}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return str(path.resolve())


@pytest.fixture
def make_raster(tmp_path: Path) -> Callable[..., str]:
    def make(name: str = "layer.tif", **kwargs: object) -> str:
        return write_geotiff(tmp_path / name, **kwargs)  # type: ignore[arg-type]

    return make
