"""DataFormat parsing and dtype aliases (original-ingester.md §5.9), NewRecord checks."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from common.errors import PermanentError
from geocube_client.errors import GeocubeInvalidArgumentError
from geocube_client.models import DTYPE_ALIASES, DTYPE_TO_PROTO_NAME, DataFormat, NewRecord
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


def test_the_public_alias_table_is_exactly_the_original_ingesters() -> None:
    """graphs reads dtypes through this table too, so it must hold every alias and no other."""
    assert {alias: canonical for alias, (canonical, _) in ALIASES.items()} == DTYPE_ALIASES


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_every_alias_of_the_original_ingester_maps_to_its_proto_dtype(alias: str) -> None:
    canonical, wire_value = ALIASES[alias]
    for spelling in (alias, alias.upper(), alias.capitalize()):
        dformat = DataFormat(spelling, 0, 0, 1)
        assert dformat.dtype == canonical
        assert pb.DataFormat.Dtype.Value(DTYPE_TO_PROTO_NAME[dformat.dtype]) == wire_value


def test_parse_reads_nan_nodata_and_floats() -> None:
    dformat = DataFormat.parse(" UInt16 , NaN , 0 , 32767 ")
    assert dformat.dtype == "uint16"
    assert math.isnan(dformat.no_data)
    assert (dformat.min_value, dformat.max_value) == (0.0, 32767.0)
    assert str(dformat) == "uint16,NaN,0,32767"
    assert DataFormat.parse(str(dformat)) == dformat


@pytest.mark.parametrize(
    ("text", "expected_in_message"),
    [
        ("uint16,NaN,0", "expected 4 comma-separated fields dtype,nodata,min,max"),
        ("uint16,NaN,0,1,2", "got 5"),
        ("int64,0,0,1", "unknown data type 'int64'"),
        ("uint8,none,0,1", "nodata: expected a number"),
        ("uint8,0,zero,1", "min: expected a number"),
    ],
)
def test_parse_errors_name_the_field_and_are_permanent(text: str, expected_in_message: str) -> None:
    with pytest.raises(GeocubeInvalidArgumentError, match=expected_in_message) as info:
        DataFormat.parse(text)
    assert isinstance(info.value, PermanentError)
    assert not isinstance(info.value, ValueError)
    assert info.value.code == "INVALID_ARGUMENT"


def test_unknown_dtype_lists_the_accepted_aliases() -> None:
    with pytest.raises(GeocubeInvalidArgumentError, match="use one of uint8, byte, u1"):
        DataFormat("bool", 0, 0, 1)


def test_equality_treats_nan_nodata_as_equal_but_not_other_values() -> None:
    assert DataFormat("f4", math.nan, 0, 1) == DataFormat("float32", math.nan, 0, 1)
    assert hash(DataFormat("f4", math.nan, 0, 1)) == hash(DataFormat("float32", math.nan, 0, 1))
    assert DataFormat("f4", math.nan, 0, 1) != DataFormat("float32", 0, 0, 1)
    assert DataFormat("f4", 0, 0, 1) != DataFormat("float32", 0, 0, 2)
    assert DataFormat("u1", 0, 0, 1) != DataFormat("u2", 0, 0, 1)


def test_new_record_refuses_naive_time_and_missing_aoi() -> None:
    with pytest.raises(GeocubeInvalidArgumentError, match=r"NewRecord\(name='S1A_X'\)\.time: naive"):
        NewRecord("S1A_X", datetime(2024, 1, 1), {}, "aoi")  # noqa: DTZ001 - the point of the test
    with pytest.raises(GeocubeInvalidArgumentError, match="aoi_id: empty; create the AOI first"):
        NewRecord("S1A_X", datetime(2024, 1, 1, tzinfo=UTC), {})
