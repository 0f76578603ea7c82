"""The data format of a layer: dtype aliases and ``dtype,nodata,min,max`` (original-ingester.md §5.9)."""

from __future__ import annotations

import math

import pytest

from common.dataformat import DTYPE_ALIASES, DataFormat, DataFormatError
from common.errors import PermanentError

# canonical dtype -> its other names, the original ingester's DTypeFromString (+ int8, in the Geocube proto)
OTHER_NAMES = {
    "uint8": ["byte", "u1"], "uint16": ["u2"], "uint32": ["u4"], "int8": ["i1"], "int16": ["i2"],
    "int32": ["i4"], "float32": ["f4"], "float64": ["f8"], "complex64": ["c4"],
}  # fmt: skip
ALIASES = {name: dtype for dtype, names in OTHER_NAMES.items() for name in [dtype, *names]}


def test_the_public_alias_table_is_exactly_the_original_ingesters() -> None:
    """graphs and the Geocube client read dtypes through this table, so it holds every alias, no other."""
    assert ALIASES == DTYPE_ALIASES


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
    with pytest.raises(DataFormatError, match=expected_in_message) as info:
        DataFormat.parse(text)
    assert isinstance(info.value, PermanentError)
    assert not isinstance(info.value, ValueError)


def test_unknown_dtype_lists_the_accepted_aliases() -> None:
    with pytest.raises(DataFormatError, match="use one of uint8, byte, u1"):
        DataFormat("bool", 0, 0, 1)


def test_equality_treats_nan_nodata_as_equal_but_not_other_values() -> None:
    assert DataFormat("f4", math.nan, 0, 1) == DataFormat("float32", math.nan, 0, 1)
    assert hash(DataFormat("f4", math.nan, 0, 1)) == hash(DataFormat("float32", math.nan, 0, 1))
    assert DataFormat("f4", math.nan, 0, 1) != DataFormat("float32", 0, 0, 1)
    assert DataFormat("f4", 0, 0, 1) != DataFormat("float32", 0, 0, 2)
    assert DataFormat("u1", 0, 0, 1) != DataFormat("u2", 0, 0, 1)
