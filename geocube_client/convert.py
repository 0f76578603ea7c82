"""Conversions between the protobuf messages of ``geocube_client.pb`` and ``geocube_client.models``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from common.dataformat import DataFormat
from geocube_client.errors import GeocubeError, GeocubeInvalidArgumentError
from geocube_client.geometry import PolygonRings, polygons_to_wkt
from geocube_client.models import (
    DTYPE_TO_PROTO_NAME,
    PROTO_NAME_TO_DTYPE,
    Container,
    Dataset,
    DeletedDataset,
    Instance,
    Record,
    Variable,
)
from geocube_client.pb import geocube_pb2 as pb

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp_from_datetime(value: datetime, *, field_name: str) -> Timestamp:
    """A Timestamp from an aware datetime, exact to the microsecond."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise GeocubeInvalidArgumentError(
            f"{field_name}: naive datetime {value.isoformat()}; "
            "pass an aware datetime (e.g. tzinfo=datetime.UTC)"
        )
    delta = value - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    seconds, micro = divmod(micros, 1_000_000)
    return Timestamp(seconds=seconds, nanos=micro * 1000)


def datetime_from_timestamp(ts: Timestamp) -> datetime:
    """An aware UTC datetime, rounded to the microsecond (what the Geocube keeps)."""
    micros = ts.seconds * 1_000_000 + round(ts.nanos / 1000)
    return _EPOCH + timedelta(microseconds=micros)


def dformat_to_pb(dformat: DataFormat) -> pb.DataFormat:
    return pb.DataFormat(
        dtype=pb.DataFormat.Dtype.Value(DTYPE_TO_PROTO_NAME[dformat.dtype]),
        no_data=dformat.no_data,
        min_value=dformat.min_value,
        max_value=dformat.max_value,
    )


def dformat_from_pb(message: pb.DataFormat, *, where: str) -> DataFormat:
    name = pb.DataFormat.Dtype.Name(message.dtype)
    if name not in PROTO_NAME_TO_DTYPE:
        raise GeocubeError(f"{where}: the Geocube returned a data format with dtype {name}", code="UNKNOWN")
    return DataFormat(PROTO_NAME_TO_DTYPE[name], message.no_data, message.min_value, message.max_value)


def aoi_to_pb(polygons: Iterable[PolygonRings]) -> pb.AOI:
    return pb.AOI(
        polygons=[
            pb.Polygon(
                linearrings=[
                    pb.LinearRing(points=[pb.Coord(lon=x, lat=y) for x, y in ring]) for ring in rings
                ]
            )
            for rings in polygons
        ]
    )


def aoi_points(aoi: pb.AOI) -> list[list[list[tuple[float, float]]]]:
    """The AOI as nested lists: polygons → rings → (lon, lat), exactly as received."""
    return [[[(c.lon, c.lat) for c in ring.points] for ring in poly.linearrings] for poly in aoi.polygons]


def instance_from_pb(message: pb.Instance) -> Instance:
    return Instance(id=message.id, name=message.name, metadata=dict(message.metadata))


def variable_from_pb(message: pb.Variable) -> Variable:
    return Variable(
        id=message.id,
        name=message.name,
        unit=message.unit,
        description=message.description,
        bands=list(message.bands),
        dformat=dformat_from_pb(message.dformat, where=f"variable {message.name!r}"),
        resampling=pb.Resampling.Name(message.resampling_alg),
        instances=[instance_from_pb(i) for i in message.instances],
    )


def record_from_pb(message: pb.Record, *, with_aoi: bool) -> Record:
    aoi_wkt = polygons_to_wkt(aoi_points(message.aoi)) if with_aoi and message.aoi.polygons else None
    return Record(
        id=message.id,
        name=message.name,
        time=datetime_from_timestamp(message.time),
        tags=dict(message.tags),
        aoi_id=message.aoi_id,
        aoi_wkt=aoi_wkt,
    )


def dataset_from_pb(message: pb.Dataset, *, uri: str) -> Dataset:
    return Dataset(
        record_id=message.record_id,
        instance_id=message.instance_id,
        container_subdir=message.container_subdir,
        bands=list(message.bands),
        dformat=dformat_from_pb(message.dformat, where=f"dataset of {uri}"),
        real_min_value=message.real_min_value,
        real_max_value=message.real_max_value,
        exponent=message.exponent,
    )


def dataset_to_pb(d: Dataset) -> pb.Dataset:
    return pb.Dataset(
        record_id=d.record_id,
        instance_id=d.instance_id,
        container_subdir=d.container_subdir,
        bands=d.bands,
        dformat=dformat_to_pb(d.dformat),
        real_min_value=d.real_min_value,
        real_max_value=d.real_max_value,
        exponent=d.exponent,
    )


def container_from_pb(message: pb.Container) -> Container:
    return Container(
        uri=message.uri,
        managed=message.managed,
        datasets=[dataset_from_pb(d, uri=message.uri) for d in message.datasets],
    )


# Upstream internal/svc/admin.go writes each line with Go's
# fmt.Sprintf("%s[%v] %s (record:%s, instance:%s)", GDALOpenName, Bands, ID, RecordID, InstanceID); %v of
# an []int64 is "[1 2]", hence the double brackets.
_DELETED_LINE = re.compile(
    r"^(?P<container>.*)\[\[(?P<bands>[0-9 ]*)\]\] (?P<id>\S+) "
    r"\(record:(?P<record>[^,]*), instance:(?P<instance>[^)]*)\)$"
)


def deleted_dataset_from_line(line: str) -> DeletedDataset | None:
    """A DeleteDatasets result line read, or None when it is not in upstream's format."""
    match = _DELETED_LINE.match(line)
    if match is None:
        return None
    return DeletedDataset(
        id=match["id"],
        container=match["container"],
        bands=[int(b) for b in match["bands"].split()],
        record_id=match["record"],
        instance_id=match["instance"],
    )
