"""IndexDatasets and GetContainers over a real socket, on GeoTIFFs written with rasterio (geocube-api.md)."""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from common.dataformat import DataFormat
from geocube_client import (
    GeocubeAlreadyExistsError,
    GeocubeClient,
    GeocubeInvalidArgumentError,
    GeocubeNotFoundError,
    IndexOutcome,
    Instance,
    NewRecord,
)
from geocube_client.errors import RpcFailure
from geocube_client.pb import geocube_pb2 as pb
from geocube_client.pb import geocube_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration

FLOAT01 = DataFormat.parse("float32,NaN,0,1")
U16 = DataFormat.parse("uint16,0,1,65535")


def index(
    client: GeocubeClient, uri: str, record_id: str, instance: Instance, **overrides: object
) -> IndexOutcome:
    arguments: dict[str, object] = {
        "uri": uri,
        "record_id": record_id,
        "instance_id": instance.id,
        "bands": [1],
        "dformat": U16,
        "real_min_value": 0.0,
        "real_max_value": 1.0,
    }
    return client.index_dataset(**(arguments | overrides))  # type: ignore[arg-type]


def test_index_reads_the_dtype_from_the_file(
    client: GeocubeClient, make_raster: Callable[..., str], record_id: str, instance: Instance
) -> None:
    uri = make_raster(dtype="uint16")
    sent = DataFormat("float32", math.nan, 0, 1000)  # the server replaces the dtype by the file's
    assert (
        index(client, uri, record_id, instance, dformat=sent, exponent=2.0, managed=True)
        == IndexOutcome.INDEXED
    )
    (container,) = client.get_containers([uri])
    assert container.uri == uri and container.managed is True
    (dataset,) = container.datasets
    assert (dataset.record_id, dataset.instance_id, dataset.bands) == (record_id, instance.id, [1])
    assert dataset.dformat == DataFormat("uint16", math.nan, 0, 1000)
    assert (dataset.real_min_value, dataset.real_max_value, dataset.exponent) == (0.0, 1.0, 2.0)


def test_index_the_shared_byte_fixture(
    client: GeocubeClient, shared_fixtures: Path, record_id: str, instance: Instance
) -> None:
    uri = str((shared_fixtures / "rasters" / "byte.tif").resolve())
    with pytest.raises(GeocubeInvalidArgumentError, match="out of bounds of UInt8"):
        index(client, uri, record_id, instance, dformat=U16)  # max 65535 does not fit the file's uint8
    assert (
        index(client, uri, record_id, instance, dformat=DataFormat.parse("byte,0,1,255"))
        == IndexOutcome.INDEXED
    )
    (container,) = client.get_containers([uri])
    assert container.datasets[0].dformat == DataFormat("uint8", 0, 1, 255)


def test_band_count_must_equal_the_variables(
    client: GeocubeClient, make_raster: Callable[..., str], record_id: str, instance: Instance
) -> None:
    uri = make_raster(count=2)
    with pytest.raises(GeocubeInvalidArgumentError, match="Wrong number of bands in dataset"):
        index(client, uri, record_id, instance, bands=[1, 2])
    with pytest.raises(GeocubeInvalidArgumentError, match="band 3 out of range"):
        index(client, uri, record_id, instance, bands=[3])


def test_real_range_must_intersect_the_variables(
    client: GeocubeClient, make_raster: Callable[..., str], record_id: str, instance: Instance
) -> None:
    with pytest.raises(
        GeocubeInvalidArgumentError, match="does not intersect the range of values of the variable"
    ):
        index(client, make_raster(), record_id, instance, real_min_value=1.0, real_max_value=2.0)


def test_unknown_record_or_instance_is_not_found(
    client: GeocubeClient, make_raster: Callable[..., str], record_id: str, instance: Instance
) -> None:
    uri = make_raster()
    with pytest.raises(GeocubeNotFoundError, match="Dataset with record_id") as info:
        index(client, uri, str(uuid.uuid4()), instance)
    assert "record" in str(info.value)
    unknown = Instance(id=str(uuid.uuid4()), name="VV")
    with pytest.raises(GeocubeNotFoundError, match=f"Variable Instance with id: {unknown.id}"):
        index(client, uri, record_id, unknown)
    with pytest.raises(GeocubeNotFoundError):
        client.get_containers([uri])  # nothing was indexed


def raw_index(stub: pb_grpc.GeocubeStub, uri: str, dataset: pb.Dataset) -> Callable[[], object]:
    return lambda: stub.IndexDatasets(
        pb.IndexDatasetsRequest(container=pb.Container(uri=uri, datasets=[dataset]))
    )


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"exponent": 0.0}, "invalid exponent (must be strictly positive)"),  # the proto default
        ({"dformat": None}, "min must be < max"),  # unset dformat
        (
            {"dformat": pb.DataFormat(dtype=pb.DataFormat.UInt16, min_value=7, max_value=7)},
            "min must be < max",
        ),
    ],
)
def test_server_refuses_bad_mappings(
    stub: pb_grpc.GeocubeStub,
    failure_of: Callable[..., RpcFailure],
    make_raster: Callable[..., str],
    record_id: str,
    instance: Instance,
    change: dict[str, object],
    text: str,
) -> None:
    fields: dict[str, object] = {
        "record_id": record_id, "instance_id": instance.id, "bands": [1], "real_min_value": 0,
        "real_max_value": 1, "exponent": 1.0,
        "dformat": pb.DataFormat(dtype=pb.DataFormat.UInt16, min_value=1, max_value=65535),
    }  # fmt: skip
    fields.update(change)
    dataset = pb.Dataset(**{k: v for k, v in fields.items() if v is not None})
    failure = failure_of(raw_index(stub, make_raster(), dataset))
    assert failure.code == "INVALID_ARGUMENT"
    assert text in failure.details


@pytest.mark.parametrize("form", ["file://{path}", "{name}", "{path}.missing"])
def test_server_opens_only_existing_absolute_paths(
    stub: pb_grpc.GeocubeStub,
    failure_of: Callable[..., RpcFailure],
    make_raster: Callable[..., str],
    record_id: str,
    instance: Instance,
    form: str,
) -> None:
    path = make_raster()
    uri = form.format(path=path, name=Path(path).name)
    dataset = pb.Dataset(
        record_id=record_id, instance_id=instance.id, bands=[1], real_min_value=0, real_max_value=1,
        exponent=1, dformat=pb.DataFormat(dtype=pb.DataFormat.UInt16, min_value=1, max_value=65535),
    )  # fmt: skip
    failure = failure_of(raw_index(stub, uri, dataset))
    assert failure.code == "INVALID_ARGUMENT"
    assert "cannot be opened" in failure.details


def test_identical_reindex_is_ok_and_changes_nothing(
    client: GeocubeClient, make_raster: Callable[..., str], record_id: str, instance: Instance
) -> None:
    uri = make_raster()
    assert index(client, uri, record_id, instance) == IndexOutcome.INDEXED
    before = client.get_containers([uri])
    assert index(client, uri, record_id, instance, managed=True) == IndexOutcome.INDEXED
    assert client.get_containers([uri]) == before  # one dataset, managed still False


def test_reindex_of_ours_with_another_mapping_is_already_indexed(
    client: GeocubeClient,
    make_raster: Callable[..., str],
    record_id: str,
    instance: Instance,
    caplog: pytest.LogCaptureFixture,
) -> None:
    uri = make_raster()
    index(client, uri, record_id, instance)
    with caplog.at_level(logging.WARNING, logger="geocube_client.client"):
        outcome = index(client, uri, record_id, instance, real_max_value=0.5, exponent=2.0)
    assert outcome == IndexOutcome.ALREADY_INDEXED  # ALREADY_EXISTS, then GetContainers shows it is ours
    assert "already indexed" in caplog.text
    (dataset,) = client.get_containers([uri])[0].datasets
    assert (dataset.real_max_value, dataset.exponent) == (1.0, 1.0)  # not an update


def test_same_band_for_another_record_is_a_conflict_naming_it(
    client: GeocubeClient,
    stub: pb_grpc.GeocubeStub,
    failure_of: Callable[..., RpcFailure],
    make_raster: Callable[..., str],
    record_id: str,
    instance: Instance,
    aoi_id: str,
) -> None:
    uri = make_raster()
    index(client, uri, record_id, instance)
    (other,) = client.create_records(
        [NewRecord(f"S1B_{uuid.uuid4().hex[:6]}", datetime(2024, 1, 14, tzinfo=UTC), {}, aoi_id)]
    )
    with pytest.raises(GeocubeAlreadyExistsError) as info:
        index(client, uri, other, instance)
    assert info.value.resource_name == "/1"
    assert f"record_id={record_id}" in str(info.value)  # the record that holds the band
    raw = failure_of(
        raw_index(
            stub,
            uri,
            pb.Dataset(
                record_id=other, instance_id=instance.id, bands=[1], real_min_value=0, real_max_value=1,
                exponent=1, dformat=pb.DataFormat(dtype=pb.DataFormat.UInt16, min_value=1, max_value=65535),
            ),
        )
    )  # fmt: skip
    assert (raw.code, raw.resource_name) == ("ALREADY_EXISTS", "/1")


def test_other_bands_of_a_container_and_managed_kept_from_the_first_index(
    client: GeocubeClient, make_raster: Callable[..., str], record_id: str, instance: Instance, aoi_id: str
) -> None:
    uri = make_raster(count=2)
    assert index(client, uri, record_id, instance, bands=[1], managed=True) == IndexOutcome.INDEXED
    assert index(client, uri, record_id, instance, bands=[2], managed=False) == IndexOutcome.INDEXED
    (container,) = client.get_containers([uri])
    assert container.managed is True
    assert [d.bands for d in container.datasets] == [[1], [2]]


def test_get_containers_is_all_or_nothing_and_literal(
    client: GeocubeClient, make_raster: Callable[..., str], record_id: str, instance: Instance
) -> None:
    uri = make_raster()
    index(client, uri, record_id, instance)
    assert [c.uri for c in client.get_containers([uri])] == [uri]
    with pytest.raises(GeocubeNotFoundError, match=r"missing\.tif"):
        client.get_containers([uri, str(Path(uri).with_name("missing.tif"))])
    dotted = f"{Path(uri).parent}/./{Path(uri).name}"  # the same file, another string
    with pytest.raises(GeocubeNotFoundError):
        client.get_containers([dotted])
    assert client.get_containers([]) == []
