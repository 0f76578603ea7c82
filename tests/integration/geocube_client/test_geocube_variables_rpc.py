"""Variables and instances over a real socket (geocube-api.md: GetVariable, CreateVariable, ...)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from common.dataformat import DataFormat
from geocube_client import GeocubeAlreadyExistsError, GeocubeClient, GeocubeNotFoundError, Variable
from geocube_client.errors import RpcFailure
from geocube_client.pb import geocube_pb2 as pb
from geocube_client.pb import geocube_pb2_grpc as pb_grpc
from geocube_client.server import LOCAL_VERSION

pytestmark = pytest.mark.integration


def test_version(client: GeocubeClient) -> None:
    assert client.version() == LOCAL_VERSION


def test_variable_round_trips_through_create_and_get(client: GeocubeClient) -> None:
    name = f"Coherence-{uuid.uuid4().hex[:8]}"
    variable_id = client.create_variable(
        name=name,
        bands=["VV", "VH"],
        dformat=DataFormat.parse("u2,NaN,0,65535"),
        unit="1",
        description="interferometric coherence",
        resampling="bilinear",
    )
    variable = client.get_variable(name=name)
    assert variable == Variable(
        id=variable_id,
        name=name,
        unit="1",
        description="interferometric coherence",
        bands=["VV", "VH"],
        dformat=variable.dformat,
        resampling="BILINEAR",
        instances=[],
    )
    assert client.get_variable(id=variable_id) == variable


def test_get_variable_by_instance_returns_only_that_instance(
    client: GeocubeClient, variable: Variable
) -> None:
    vh = client.instantiate_variable(variable.id, "VH", metadata={"polarisation": "VH"})
    assert [i.name for i in client.get_variable(id=variable.id).instances] == ["VV", "VH"]
    by_instance = client.get_variable(instance_id=vh.id)
    assert by_instance.instances == [vh]
    assert vh.metadata == {"polarisation": "VH"}
    assert by_instance.find_instance("VH") == vh and by_instance.find_instance("VV") is None


@pytest.mark.parametrize("key", ["id", "name", "instance_id"])
def test_unknown_variable_is_not_found(client: GeocubeClient, key: str) -> None:
    with pytest.raises(GeocubeNotFoundError) as info:
        client.get_variable(**{key: str(uuid.uuid4())})
    assert info.value.code == "NOT_FOUND"


def test_duplicate_variable_and_instance_already_exist(client: GeocubeClient, variable: Variable) -> None:
    with pytest.raises(GeocubeAlreadyExistsError):
        client.create_variable(name=variable.name, bands=["VV"], dformat=DataFormat.parse("f4,NaN,0,1"))
    with pytest.raises(GeocubeAlreadyExistsError):
        client.instantiate_variable(variable.id, "VV")
    with pytest.raises(GeocubeNotFoundError):
        client.instantiate_variable(str(uuid.uuid4()), "VV")


def test_list_variables_by_pattern_and_page(client: GeocubeClient) -> None:
    prefix = f"Pat{uuid.uuid4().hex[:6]}"
    for suffix in ("b", "a", "c"):
        client.create_variable(name=f"{prefix}_{suffix}", bands=["x"], dformat=DataFormat.parse("u1,0,0,255"))
    assert [v.name for v in client.list_variables(name_pattern=f"{prefix}_*")] == [
        f"{prefix}_a", f"{prefix}_b", f"{prefix}_c"
    ]  # fmt: skip
    assert [v.name for v in client.list_variables(name_pattern=f"{prefix}_?", limit=2, page=1)] == [
        f"{prefix}_c"
    ]


def variable_pb(**overrides: object) -> pb.Variable:
    fields: dict[str, object] = {
        "name": f"Raw-{uuid.uuid4().hex[:8]}",
        "bands": ["b"],
        "resampling_alg": pb.NEAR,
        "dformat": pb.DataFormat(dtype=pb.DataFormat.UInt8, no_data=0, min_value=0, max_value=255),
    }
    return pb.Variable(**(fields | overrides))


@pytest.mark.parametrize(
    ("overrides", "code", "text"),
    [
        ({"resampling_alg": pb.UNDEFINED}, "INVALID_ARGUMENT", "resampling_alg is UNDEFINED"),
        ({"bands": []}, "INVALID_ARGUMENT", "at least one band name"),
        ({"dformat": pb.DataFormat(dtype=pb.DataFormat.UNDEFINED, max_value=1)}, "UNKNOWN", "UNDEFINED"),
        ({"dformat": pb.DataFormat(dtype=pb.DataFormat.UInt8, min_value=0, max_value=300)},
         "INVALID_ARGUMENT", "out of bounds"),
        ({"dformat": pb.DataFormat(dtype=pb.DataFormat.UInt8, min_value=5, max_value=5)},
         "INVALID_ARGUMENT", "min must be strictly lower than max"),
    ],
)  # fmt: skip
def test_server_refuses_invalid_variables(
    stub: pb_grpc.GeocubeStub,
    failure_of: Callable[..., RpcFailure],
    overrides: dict[str, object],
    code: str,
    text: str,
) -> None:
    failure = failure_of(
        lambda: stub.CreateVariable(pb.CreateVariableRequest(variable=variable_pb(**overrides)))
    )
    assert failure.code == code
    assert text in failure.details
