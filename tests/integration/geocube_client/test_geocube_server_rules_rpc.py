"""The local server answers as a real Geocube (v1.0.3) where the two were seen to differ (geocube-api.md):
names checked, malformed ids, NOT_FOUND resource types, duplicates, dependencies, another datamapping."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from common.dataformat import DataFormat
from geocube_client import GeocubeClient, Instance, Variable
from geocube_client.errors import RpcFailure
from geocube_client.pb import geocube_pb2 as pb
from geocube_client.pb import geocube_pb2_grpc as pb_grpc
from tests.integration.geocube_client.conftest import unique

pytestmark = pytest.mark.integration

Failure = Callable[[Callable[[], object]], RpcFailure]
F32 = pb.DataFormat(dtype=pb.DataFormat.Float32, no_data=float("nan"), min_value=0, max_value=1)


def new_variable(name: str) -> pb.CreateVariableRequest:
    return pb.CreateVariableRequest(
        variable=pb.Variable(name=name, bands=["VV"], dformat=F32, resampling_alg=pb.NEAR)
    )


@pytest.mark.parametrize("name", ["Sigma 0", "sigma0!", "a//b", ""])
def test_a_variable_name_outside_the_servers_pattern_is_incorrect(
    stub: pb_grpc.GeocubeStub, failure_of: Failure, name: str
) -> None:
    failure = failure_of(lambda: stub.CreateVariable(new_variable(name)))
    assert (failure.code, failure.details) == ("INVALID_ARGUMENT", f"Incorrect name: {name}")


def test_names_the_server_accepts(stub: pb_grpc.GeocubeStub) -> None:
    name = unique("S2/L1C:B04_raw")
    variable_id = stub.CreateVariable(new_variable(name)).id
    request = pb.InstantiateVariableRequest(variable_id=variable_id, instance_name="raw-v1:x_y")
    assert stub.InstantiateVariable(request).instance.name == "raw-v1:x_y"


def test_an_instance_name_with_a_space_is_invalid(
    stub: pb_grpc.GeocubeStub, failure_of: Failure, variable: Variable
) -> None:
    request = pb.InstantiateVariableRequest(variable_id=variable.id, instance_name="V V")
    failure = failure_of(lambda: stub.InstantiateVariable(request))
    assert (failure.code, failure.details) == ("INVALID_ARGUMENT", "Invalid Name: V V")


@pytest.mark.parametrize(
    ("request_", "text"),
    [
        (pb.GetVariableRequest(id="12345"), "Invalid uuid: invalid UUID length: 5"),
        (pb.GetVariableRequest(instance_id="x" * 36), "Invalid uuid: invalid UUID format"),
    ],
)
def test_a_malformed_id_is_invalid_not_missing(
    stub: pb_grpc.GeocubeStub, failure_of: Failure, request_: pb.GetVariableRequest, text: str
) -> None:
    failure = failure_of(lambda: stub.GetVariable(request_))
    assert (failure.code, failure.details) == ("INVALID_ARGUMENT", text)


def test_not_found_details_carry_the_resource_type(
    stub: pb_grpc.GeocubeStub, failure_of: Failure, record_id: str, make_raster: Callable[..., str]
) -> None:
    unknown = str(uuid.uuid4())
    variable = pb.GetVariableRequest
    cases: list[tuple[Callable[[], object], str, str]] = [
        (lambda: stub.GetVariable(variable(id=unknown)), "Variable", f"Variable with id: {unknown}"),
        (lambda: stub.GetVariable(variable(name="NoSuch")), "Variable", "Variable with name: NoSuch"),
        (lambda: stub.GetVariable(pb.GetVariableRequest(instance_id=unknown)), "Variable Instance",
         f"Variable Instance with id: {unknown}"),
        (lambda: stub.GetContainers(pb.GetContainersRequest(uris=["/nowhere.tif"])), "Container",
         "Container with uri: /nowhere.tif"),
        (lambda: stub.CreateRecords(pb.CreateRecordsRequest(records=[pb.NewRecord(
            name="r", time=Timestamp(seconds=1), aoi_id=unknown)])), "AOI", f"AOI with id: {unknown}"),
    ]  # fmt: skip
    for call, resource_type, text in cases:
        failure = failure_of(call)
        assert (failure.code, failure.resource_type, failure.details) == ("NOT_FOUND", resource_type, text)


def test_duplicates_name_the_variable_and_instance(
    stub: pb_grpc.GeocubeStub, failure_of: Failure, variable: Variable, instance: Instance
) -> None:
    failure = failure_of(lambda: stub.CreateVariable(new_variable(variable.name)))
    assert (failure.code, failure.resource_type, failure.resource_name) == (
        "ALREADY_EXISTS", "Variable", variable.name,
    )  # fmt: skip
    request = pb.InstantiateVariableRequest(variable_id=variable.id, instance_name=instance.name)
    failure = failure_of(lambda: stub.InstantiateVariable(request))
    assert (failure.resource_type, failure.resource_name) == ("Instance", f"{variable.name}:{instance.name}")
    assert failure.details == f"Instance with name: {variable.name}:{instance.name}"


def test_a_duplicate_record_is_a_record_named_by_its_unique_key(
    stub: pb_grpc.GeocubeStub, failure_of: Failure, aoi_id: str
) -> None:
    record = pb.NewRecord(name=unique("S1A"), time=Timestamp(seconds=1704174570), tags={"b": "2", "a": "1"},
                          aoi_id=aoi_id)  # fmt: skip
    stub.CreateRecords(pb.CreateRecordsRequest(records=[record]))
    failure = failure_of(lambda: stub.CreateRecords(pb.CreateRecordsRequest(records=[record])))
    assert (failure.code, failure.resource_type) == ("ALREADY_EXISTS", "Record")
    assert failure.details == f'Record with : {record.name}, "a"=>"1", "b"=>"2", 2024-01-02 05:49:30+00'


def test_deleting_a_record_with_datasets_names_the_dependency(
    client: GeocubeClient, stub: pb_grpc.GeocubeStub, failure_of: Failure, record_id: str,
    instance: Instance, make_raster: Callable[..., str],
) -> None:  # fmt: skip
    dformat = DataFormat.parse("uint16,0,1,65535")
    client.index_dataset(uri=make_raster(), record_id=record_id, instance_id=instance.id, bands=[1],
                         dformat=dformat, real_min_value=0, real_max_value=1)  # fmt: skip
    failure = failure_of(lambda: stub.DeleteRecords(pb.DeleteRecordsRequest(ids=[record_id])))
    assert (failure.code, failure.owner, failure.resource_type, failure.resource_name) == (
        "FAILED_PRECONDITION", "records", "datasets", record_id,
    )  # fmt: skip
    assert failure.details == f"records and datasets with id: {record_id}"


def test_reindexing_with_another_mapping_says_another_datamapping(
    stub: pb_grpc.GeocubeStub, failure_of: Failure, record_id: str, instance: Instance,
    make_raster: Callable[..., str],
) -> None:  # fmt: skip
    uri = make_raster()
    dformat = pb.DataFormat(min_value=0, max_value=255)
    dataset = pb.Dataset(record_id=record_id, instance_id=instance.id, bands=[1], exponent=1,
                         real_min_value=0, real_max_value=1, dformat=dformat)  # fmt: skip
    stub.IndexDatasets(pb.IndexDatasetsRequest(container=pb.Container(uri=uri, datasets=[dataset])))
    dataset.real_max_value = 2
    failure = failure_of(
        lambda: stub.IndexDatasets(
            pb.IndexDatasetsRequest(container=pb.Container(uri=uri, datasets=[dataset]))
        )
    )
    assert failure.code == "ALREADY_EXISTS" and failure.resource_name == "/1"
    assert failure.details.startswith(
        f"A dataset with another datamapping already refers to the container {uri}"
    )
