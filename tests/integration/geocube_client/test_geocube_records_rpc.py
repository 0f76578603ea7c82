"""AOIs and records over a real socket: identity, atomic batches, ListRecords semantics (geocube-api.md)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest

from common.dataformat import DataFormat
from geocube_client import (
    GeocubeAlreadyExistsError,
    GeocubeClient,
    GeocubeFailedPreconditionError,
    Instance,
    NewRecord,
)
from geocube_client.errors import RpcFailure
from geocube_client.pb import geocube_pb2 as pb
from geocube_client.pb import geocube_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration

T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
NEAR = "POLYGON ((5 45, 6 45, 6 46, 5 46, 5 45))"
FAR = "POLYGON ((100 10, 101 10, 101 11, 100 11, 100 10))"


def square_pb(corners: list[tuple[float, float]]) -> pb.AOI:
    ring = [pb.Coord(lon=x, lat=y) for x, y in [*corners, corners[0]]]
    return pb.AOI(polygons=[pb.Polygon(linearrings=[pb.LinearRing(points=ring)])])


# ------------------------------------------------------------------ AOIs


def test_create_aoi_reuses_the_id_whatever_the_start_vertex_orientation_or_float64_noise(
    client: GeocubeClient,
) -> None:
    first = client.create_aoi("POLYGON ((7 47, 8 47, 8 48, 7 48, 7 47))")
    assert client.create_aoi("POLYGON ((8 48, 7 48, 7 47, 8 47, 8 48))") == first  # other start vertex
    assert client.create_aoi("POLYGON ((7 47, 7 48, 8 48, 8 47, 7 47))") == first  # clockwise
    assert client.create_aoi("POLYGON ((7.0000000001 47, 8 47, 8 48, 7 48, 7.0000000001 47))") == first
    assert client.create_aoi("MULTIPOLYGON (((7 47, 8 47, 8 48, 7 48, 7 47)))") == first
    assert client.create_aoi("POLYGON ((7 47, 8.5 47, 8 48, 7 48, 7 47))") != first


def test_server_identifies_aois_by_exact_sequence_and_names_the_existing_id(
    stub: pb_grpc.GeocubeStub, failure_of: Callable[..., RpcFailure]
) -> None:
    corners = [(9.0, 49.0), (10.0, 49.0), (10.0, 50.0), (9.0, 50.0)]
    first = stub.CreateAOI(pb.CreateAOIRequest(aoi=square_pb(corners))).id
    again = failure_of(lambda: stub.CreateAOI(pb.CreateAOIRequest(aoi=square_pb(corners))))
    assert (again.code, again.resource_name) == ("ALREADY_EXISTS", first)
    rotated = stub.CreateAOI(pb.CreateAOIRequest(aoi=square_pb(corners[1:] + corners[:1]))).id
    assert rotated != first  # why the client normalises before sending


def test_unclosed_ring_is_unknown_as_on_a_real_geocube(
    stub: pb_grpc.GeocubeStub, failure_of: Callable[..., RpcFailure]
) -> None:
    ring = [pb.Coord(lon=x, lat=y) for x, y in [(0, 0), (1, 0), (1, 1), (0, 1)]]
    aoi = pb.AOI(polygons=[pb.Polygon(linearrings=[pb.LinearRing(points=ring)])])
    failure = failure_of(lambda: stub.CreateAOI(pb.CreateAOIRequest(aoi=aoi)))
    assert failure.code == "UNKNOWN"
    assert "non-closed rings" in failure.details


# ------------------------------------------------------------------ CreateRecords


def test_create_records_returns_ids_in_request_order(client: GeocubeClient, aoi_id: str) -> None:
    run = uuid.uuid4().hex
    names = [f"S2B_MSIL1C_{i}" for i in (3, 1, 2)]
    ids = client.create_records([NewRecord(n, T0, {"run": run}, aoi_id) for n in names])
    assert len(set(ids)) == 3
    by_id = {r.id: r.name for r in client.list_records(tags={"run": run})}
    assert [by_id[i] for i in ids] == names


def test_a_batch_with_one_duplicate_creates_nothing(client: GeocubeClient, aoi_id: str) -> None:
    run = uuid.uuid4().hex
    (existing,) = client.create_records([NewRecord("S1A_dup", T0, {"run": run}, aoi_id)])
    batch = [
        NewRecord("S1A_new", T0, {"run": run}, aoi_id),
        NewRecord("S1A_dup", T0, {"run": run}, aoi_id),
    ]
    with pytest.raises(GeocubeAlreadyExistsError) as info:
        client.create_records(batch)
    assert "S1A_dup" in info.value.resource_name  # details carry name/tags/time as text, not the id
    assert [r.id for r in client.list_records(tags={"run": run})] == [existing]


def test_same_name_with_other_tags_or_time_is_another_record(client: GeocubeClient, aoi_id: str) -> None:
    run = uuid.uuid4().hex
    ids = client.create_records(
        [
            NewRecord("S1A_same", T0, {"run": run}, aoi_id),
            NewRecord("S1A_same", T0, {"run": run, "x": "1"}, aoi_id),
            NewRecord("S1A_same", T0 + timedelta(microseconds=1), {"run": run}, aoi_id),
        ]
    )
    assert len(set(ids)) == 3


def test_concurrent_creates_are_all_kept(client: GeocubeClient, aoi_id: str) -> None:
    run = uuid.uuid4().hex

    def create(i: int) -> str:
        return client.create_records([NewRecord(f"S1B_{i}", T0, {"run": run}, aoi_id)])[0]

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(create, range(24)))
    assert len(set(ids)) == 24
    assert len(client.list_records(tags={"run": run})) == 24


# ------------------------------------------------------------------ ListRecords


@pytest.fixture
def scenes(client: GeocubeClient) -> tuple[str, list[str]]:
    """Four records of one run, created out of time order: (run tag, ids in time order)."""
    run = uuid.uuid4().hex
    near, far = client.create_aoi(NEAR), client.create_aoi(FAR)
    specs = [  # (name, hours after T0, aoi, extra tags)
        ("S1A_IW_SLC_C", 2, near, {"orbit": "R051", "constellation": "SENTINEL1"}),
        ("S1A_IW_SLC_A", 0, near, {"orbit": "R051", "constellation": "SENTINEL1"}),
        ("S2A_MSIL1C_D", 3, far, {"constellation": "Sentinel2"}),
        ("S1B_IW_SLC_B", 1, far, {"orbit": "R124", "constellation": "SENTINEL1"}),
    ]
    ids = client.create_records(
        [NewRecord(n, T0 + timedelta(hours=h), {"run": run, **tags}, aoi) for n, h, aoi, tags in specs]
    )
    by_hour = sorted(zip([s[1] for s in specs], ids, strict=True))
    return run, [i for _, i in by_hour]


def ids_of(client: GeocubeClient, **kwargs: object) -> list[str]:
    return [r.id for r in client.list_records(**kwargs)]  # type: ignore[arg-type]


def test_records_come_ordered_by_time(client: GeocubeClient, scenes: tuple[str, list[str]]) -> None:
    run, ids = scenes
    assert ids_of(client, tags={"run": run}) == ids


def test_time_bounds_are_inclusive(client: GeocubeClient, scenes: tuple[str, list[str]]) -> None:
    run, ids = scenes
    window = {"from_time": T0 + timedelta(hours=1), "to_time": T0 + timedelta(hours=2)}
    assert ids_of(client, tags={"run": run}, **window) == ids[1:3]
    assert ids_of(client, tags={"run": run}, from_time=T0 + timedelta(hours=3)) == ids[3:]
    assert ids_of(client, tags={"run": run}, to_time=T0 - timedelta(microseconds=1)) == []


def test_aoi_matches_by_intersection(client: GeocubeClient, scenes: tuple[str, list[str]]) -> None:
    run, ids = scenes
    overlapping_near = "POLYGON ((5.5 45.5, 7 45.5, 7 47, 5.5 47, 5.5 45.5))"
    assert ids_of(client, tags={"run": run}, aoi_wkt=overlapping_near) == [ids[0], ids[2]]
    nowhere = "POLYGON ((-50 -50, -49 -50, -49 -49, -50 -50))"
    assert ids_of(client, tags={"run": run}, aoi_wkt=nowhere) == []


def test_empty_tag_value_means_key_exists(client: GeocubeClient, scenes: tuple[str, list[str]]) -> None:
    run, ids = scenes
    assert ids_of(client, tags={"run": run, "orbit": ""}) == ids[:3]


@pytest.mark.parametrize(
    ("tags", "positions"),
    [
        ({"constellation": "SENTINEL?"}, [0, 1, 2]),
        ({"constellation": "Sentinel*"}, [3]),  # LIKE is case-sensitive
        ({"constellation": "sentinel*(?i)"}, [0, 1, 2, 3]),  # (?i): ILIKE
        ({"orbit": "R05?"}, [0, 2]),
        ({"orbit": "R051"}, [0, 2]),
        ({"orbit": "R05"}, []),  # no wildcard: equality
    ],
)
def test_tag_values_with_wildcards_are_patterns(
    client: GeocubeClient, scenes: tuple[str, list[str]], tags: dict[str, str], positions: list[int]
) -> None:
    run, ids = scenes
    assert ids_of(client, tags={"run": run, **tags}) == [ids[p] for p in positions]


def test_name_filter_and_pages(client: GeocubeClient, scenes: tuple[str, list[str]]) -> None:
    run, ids = scenes
    assert ids_of(client, tags={"run": run}, name="S1?_IW_SLC_*") == ids[:3]
    assert ids_of(client, tags={"run": run}, limit=3, page=0) == ids[:3]
    assert ids_of(client, tags={"run": run}, limit=3, page=1) == ids[3:]
    assert ids_of(client, tags={"run": run}, limit=3, page=2) == []


def test_with_aoi_returns_the_geometry(client: GeocubeClient, scenes: tuple[str, list[str]]) -> None:
    run, _ = scenes
    records = client.list_records(tags={"run": run}, with_aoi=True)
    assert records[0].aoi_wkt == "MULTIPOLYGON (((5 45, 6 45, 6 46, 5 46, 5 45)))"
    assert client.list_records(tags={"run": run})[0].aoi_wkt is None


def test_times_come_back_utc_to_the_microsecond(client: GeocubeClient, aoi_id: str) -> None:
    run = uuid.uuid4().hex
    paris = timezone(timedelta(hours=1))
    sent = datetime(2023, 12, 31, 23, 59, 59, 999_999, tzinfo=paris)
    client.create_records([NewRecord("S2A_T", sent, {"run": run}, aoi_id)])
    (record,) = client.list_records(tags={"run": run})
    assert record.time == sent
    assert record.time.utcoffset() == timedelta(0)
    assert record.time.microsecond == 999_999


# ------------------------------------------------------------------ AddRecordsTags, DeleteRecords


def test_add_records_tags_merges_and_counts_known_records(client: GeocubeClient, aoi_id: str) -> None:
    run = uuid.uuid4().hex
    ids = client.create_records(
        [NewRecord(f"S1A_t{i}", T0, {"run": run, "k": "old"}, aoi_id) for i in range(2)]
    )
    assert (
        client.add_records_tags([*ids, str(uuid.uuid4())], {"k": "new", "processingDate": "2024-01-01"}) == 2
    )
    assert [r.tags for r in client.list_records(tags={"run": run})] == [
        {"run": run, "k": "new", "processingDate": "2024-01-01"}
    ] * 2
    assert client.add_records_tags([str(uuid.uuid4())], {"k": "v"}) == 0


def test_delete_records_fails_on_records_with_datasets_unless_no_fail(
    client: GeocubeClient, aoi_id: str, instance: Instance, make_raster: Callable[..., str]
) -> None:
    run = uuid.uuid4().hex
    busy, free = client.create_records(
        [NewRecord(f"S1A_{n}", T0, {"run": run}, aoi_id) for n in ("busy", "free")]
    )
    client.index_dataset(
        uri=make_raster(dtype="float32"),
        record_id=busy,
        instance_id=instance.id,
        bands=[1],
        dformat=DataFormat.parse("float32,NaN,0,1"),
        real_min_value=0,
        real_max_value=1,
    )
    with pytest.raises(GeocubeFailedPreconditionError, match=busy):
        client.delete_records([free, busy])
    assert {r.id for r in client.list_records(tags={"run": run})} == {busy, free}  # whole batch rolled back
    assert client.delete_records([free, busy], no_fail=True) == 1
    assert [r.id for r in client.list_records(tags={"run": run})] == [busy]
    assert client.delete_records([str(uuid.uuid4())]) == 0
