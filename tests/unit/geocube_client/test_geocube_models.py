"""Dtype aliases on the wire (original-ingester.md §5.9), NewRecord checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.dataformat import DataFormat
from geocube_client.errors import GeocubeInvalidArgumentError
from geocube_client.models import DTYPE_TO_PROTO_NAME, NewRecord
from geocube_client.pb import geocube_pb2 as pb

# alias → (canonical, value of DataFormat.Dtype on the wire), from original-ingester.md §5.9 (+ int8)
ALIASES = {
    "uint8": ("uint8", 1), "byte": ("uint8", 1), "u1": ("uint8", 1),
    "uint16": ("uint16", 2), "u2": ("uint16", 2),
    "uint32": ("uint32", 3), "u4": ("uint32", 3),
    "int8": ("int8", 4), "i1": ("int8", 4),
    "int16": ("int16", 5), "i2": ("int16", 5),
    "int32": ("int32", 6), "i4": ("int32", 6),
    "float32": ("float32", 7), "f4": ("float32", 7),
    "float64": ("float64", 8), "f8": ("float64", 8),
    "complex64": ("complex64", 9), "c4": ("complex64", 9),
}  # fmt: skip


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_every_alias_of_the_original_ingester_maps_to_its_proto_dtype(alias: str) -> None:
    canonical, wire_value = ALIASES[alias]
    for spelling in (alias, alias.upper(), alias.capitalize()):
        dformat = DataFormat(spelling, 0, 0, 1)
        assert dformat.dtype == canonical
        assert pb.DataFormat.Dtype.Value(DTYPE_TO_PROTO_NAME[dformat.dtype]) == wire_value


def test_new_record_refuses_naive_time_and_missing_aoi() -> None:
    with pytest.raises(GeocubeInvalidArgumentError, match=r"NewRecord\(name='S1A_X'\)\.time: naive"):
        NewRecord("S1A_X", datetime(2024, 1, 1), {}, "aoi")  # noqa: DTZ001 - the point of the test
    with pytest.raises(GeocubeInvalidArgumentError, match="aoi_id: empty; create the AOI first"):
        NewRecord("S1A_X", datetime(2024, 1, 1, tzinfo=UTC), {})
