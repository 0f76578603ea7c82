"""Admin.DeleteDatasets through our client and the local Geocube, over a real socket.

The contract is upstream's Admin service (api/v1/pb/admin.proto: simulate=1, records_id=2,
instances_id=3 -> results=1; internal/svc/admin.go: records x instances, an empty list being no filter,
one line per dataset "<container>[<bands>] <id> (record:<id>, instance:<id>)"); shared/docs/geocube-api.md
does not describe it. Served on the same port as geocube.Geocube (upstream cmd/server/main.go).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
import rasterio
from google.protobuf.descriptor import FieldDescriptor
from pydantic import SecretStr

from common.dataformat import DataFormat
from geocube_client import GeocubeAuthError, GeocubeClient, GeocubeInvalidArgumentError, NewRecord
from geocube_client.convert import deleted_dataset_from_line
from geocube_client.errors import RpcFailure
from geocube_client.models import Instance, Variable
from geocube_client.pb import geocube_pb2 as pb
from geocube_client.pb import geocube_pb2_grpc as pb_grpc
from geocube_client.server import LocalGeocube, start_local_server
from tests.integration.geocube_client.conftest import unique

pytestmark = pytest.mark.integration

SOURCE = DataFormat.parse("uint16,0,0,10000")


def new_record(client: GeocubeClient, aoi_id: str) -> str:
    time = datetime(2024, 1, 2, 5, 49, 30, tzinfo=UTC)
    (rid,) = client.create_records([NewRecord(unique("S1A_IW_GRDH"), time, {"test": "delete"}, aoi_id)])
    return rid


def index(client: GeocubeClient, uri: str, record_id: str, instance_id: str) -> None:
    client.index_dataset(uri=uri, record_id=record_id, instance_id=instance_id, bands=[1], dformat=SOURCE,
                         real_min_value=0, real_max_value=1)  # fmt: skip


def grid_of(path: str) -> dict[str, object]:
    with rasterio.open(path) as ds:
        return {"crs_wkt": ds.crs.to_wkt(), "transform": ds.transform.to_gdal(), "width": ds.width,
                "height": ds.height}  # fmt: skip


def datasets_of(client: GeocubeClient, uri: str) -> list[tuple[str, str]]:
    return [(d.record_id, d.instance_id) for c in client.get_containers([uri]) for d in c.datasets]


def test_the_messages_and_the_service_are_upstreams() -> None:
    t = FieldDescriptor
    request = pb.DeleteDatasetsRequest.DESCRIPTOR.fields_by_name
    assert {n: (f.number, f.type, f.is_repeated) for n, f in request.items()} == {
        "simulate": (1, t.TYPE_BOOL, False),
        "records_id": (2, t.TYPE_STRING, True),
        "instances_id": (3, t.TYPE_STRING, True),
    }
    (results,) = pb.DeleteDatasetsResponse.DESCRIPTOR.fields
    assert (results.name, results.number, results.type, results.is_repeated) == (
        "results", 1, t.TYPE_STRING, True
    )  # fmt: skip
    service = pb.DESCRIPTOR.services_by_name["Admin"]
    assert service.full_name == "geocube.Admin"
    assert [m.name for m in service.methods] == ["DeleteDatasets"]


def test_simulate_reports_then_delete_removes_only_those_records_x_instances(
    client: GeocubeClient,
    aoi_id: str,
    variable: Variable,
    instance: Instance,
    make_raster: Callable[..., str],
) -> None:
    other = client.instantiate_variable(variable.id, "VH")
    mine, kept = new_record(client, aoi_id), new_record(client, aoi_id)
    a, b, c = make_raster("a.tif"), make_raster("b.tif"), make_raster("c.tif")
    index(client, a, mine, instance.id)
    index(client, b, mine, other.id)  # same record, another instance: not asked for
    index(client, c, kept, instance.id)  # same instance, another record: not asked for

    simulated = client.delete_datasets([mine], [instance.id], simulate=True)
    (line,) = simulated
    read = deleted_dataset_from_line(line)
    assert read is not None and (read.container, read.bands, read.record_id, read.instance_id) == (
        a, [1], mine, instance.id
    )  # fmt: skip
    assert line == f"{a}[[1]] {read.id} (record:{mine}, instance:{instance.id})"
    assert datasets_of(client, a) == [(mine, instance.id)], "a simulation deletes nothing"

    assert client.delete_datasets([mine], [instance.id]) == simulated
    assert datasets_of(client, a) == [], "the container stays, without datasets"
    assert datasets_of(client, b) == [(mine, other.id)] and datasets_of(client, c) == [(kept, instance.id)]
    assert client.get_cube(instance_id=instance.id, record_ids=[mine], **grid_of(a)) == []  # type: ignore[arg-type]
    assert Path(a).is_file(), "the file is the caller's to delete"

    assert client.delete_datasets([mine], [instance.id]) == [], "a second call finds nothing"
    assert client.delete_records([mine], no_fail=True) == 0, "its VH dataset still holds it"
    client.delete_datasets([mine], [other.id])
    assert client.delete_records([mine]) == 1, "free once its datasets are gone"


def test_unknown_ids_match_nothing_and_several_records_go_in_one_call(
    client: GeocubeClient, aoi_id: str, instance: Instance, make_raster: Callable[..., str]
) -> None:
    records = [new_record(client, aoi_id) for _ in range(3)]
    uris = [make_raster(f"r{i}.tif") for i in range(3)]
    for uri, rid in zip(uris, records, strict=True):
        index(client, uri, rid, instance.id)
    unknown = "0b7e8a52-2f5c-4d1e-9a41-7f3d2c1b0a99"
    assert client.delete_datasets([unknown], [instance.id]) == []
    lines = client.delete_datasets([*records[:2], unknown], [instance.id, unknown])
    assert sorted(d.record_id for d in map(deleted_dataset_from_line, lines) if d) == sorted(records[:2])
    assert datasets_of(client, uris[2]) == [(records[2], instance.id)]


@pytest.mark.parametrize(
    ("records", "instances", "message"),
    [
        ([], ["0b7e8a52-2f5c-4d1e-9a41-7f3d2c1b0a99"], "record_ids is empty"),
        (["0b7e8a52-2f5c-4d1e-9a41-7f3d2c1b0a99"], [], "instance_ids is empty"),
        (["not-a-uuid"], ["0b7e8a52-2f5c-4d1e-9a41-7f3d2c1b0a99"], "are not UUIDs"),
    ],
)
def test_the_client_refuses_an_empty_list_which_the_server_reads_as_all(
    client: GeocubeClient, records: list[str], instances: list[str], message: str
) -> None:
    with pytest.raises(GeocubeInvalidArgumentError, match=message):
        client.delete_datasets(records, instances)


def test_the_server_reads_empty_lists_as_no_filter_and_refuses_malformed_ids(
    tmp_path: Path, make_raster: Callable[..., str], failure_of: Callable[[Callable[[], object]], RpcFailure]
) -> None:
    """What the client guards against, sent raw to a fresh server: both lists empty is every dataset."""
    with (
        start_local_server(db_path=tmp_path / "g.sqlite") as server,
        GeocubeClient(server.address, insecure=True) as client,
        grpc.insecure_channel(server.address) as channel,
    ):
        variable_id = client.create_variable(name=unique("S2_B04"), bands=["r"], dformat=SOURCE)
        instance = client.instantiate_variable(variable_id, "raw")
        aoi_id = client.create_aoi("POLYGON ((2 43, 3 43, 3 44, 2 44, 2 43))")
        uris = [make_raster(f"all{i}.tif") for i in range(2)]
        for uri in uris:
            index(client, uri, new_record(client, aoi_id), instance.id)
        admin = pb_grpc.AdminStub(channel)
        bad = failure_of(lambda: admin.DeleteDatasets(pb.DeleteDatasetsRequest(records_id=["x"])))
        assert (bad.code, bad.details) == ("INVALID_ARGUMENT", "Invalid uuid: invalid UUID length: 1")
        simulated = admin.DeleteDatasets(pb.DeleteDatasetsRequest(simulate=True))
        assert len(simulated.results) == 2
        assert len(admin.DeleteDatasets(pb.DeleteDatasetsRequest()).results) == 2
        assert [datasets_of(client, u) for u in uris] == [[], []]


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[LocalGeocube]:
    with start_local_server(db_path=tmp_path / "k.sqlite", api_key=SecretStr("admin-key-123")) as server:
        yield server


def test_the_admin_service_needs_the_key_and_never_shows_it(guarded: LocalGeocube) -> None:
    ids = (["0b7e8a52-2f5c-4d1e-9a41-7f3d2c1b0a99"], ["1c7e8a52-2f5c-4d1e-9a41-7f3d2c1b0a99"])
    with GeocubeClient(guarded.address, insecure=True, api_key="wrong-key-456") as client:
        with pytest.raises(GeocubeAuthError) as caught:
            client.delete_datasets(*ids)
        assert "wrong-key-456" not in str(caught.value) and "admin-key-123" not in str(caught.value)
    with GeocubeClient(guarded.address, insecure=True, api_key=SecretStr("admin-key-123")) as client:
        assert client.delete_datasets(*ids) == []


def test_result_lines_are_read_as_upstream_writes_them_and_others_are_not() -> None:
    rid, iid = "0b7e8a52-2f5c-4d1e-9a41-7f3d2c1b0a99", "1c7e8a52-2f5c-4d1e-9a41-7f3d2c1b0a99"
    read = deleted_dataset_from_line(f"GTIFF_DIR:2:/data/x.tif[[1 2]] d-1 (record:{rid}, instance:{iid})")
    assert read is not None
    assert (read.container, read.bands, read.id, read.record_id, read.instance_id) == (
        "GTIFF_DIR:2:/data/x.tif", [1, 2], "d-1", rid, iid
    )  # fmt: skip
    assert deleted_dataset_from_line("3 datasets deleted") is None
