"""The data format of a layer or a variable: dtype, nodata and the range the stored values span.

A domain value: graphs declare it (``dformat_out``), payload validation checks it, the Geocube client
puts it on the wire (``geocube_client.convert``). The dtype names are the original ingester's
``DTypeFromString`` aliases (original-ingester.md §5.9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from common.errors import PermanentError


class DataFormatError(PermanentError):
    """A data format that cannot be: the message names the field and the accepted values."""


# Aliases of the original ingester's DTypeFromString (original-ingester.md §5.9), case-insensitive,
# plus int8/i1 which the Geocube proto has (Int8 = 4) although the Go ingester never produced it.
DTYPE_ALIASES: dict[str, str] = {
    "uint8": "uint8", "byte": "uint8", "u1": "uint8",
    "uint16": "uint16", "u2": "uint16",
    "uint32": "uint32", "u4": "uint32",
    "int8": "int8", "i1": "int8",
    "int16": "int16", "i2": "int16",
    "int32": "int32", "i4": "int32",
    "float32": "float32", "f4": "float32",
    "float64": "float64", "f8": "float64",
    "complex64": "complex64", "c4": "complex64",
}  # fmt: skip


def canonical_dtype(value: str, *, field_name: str = "dtype") -> str:
    """The canonical numpy-style name of a dtype alias (``"Byte"`` → ``"uint8"``).

    Raises:
        DataFormatError: unknown alias; the message lists the accepted ones.
    """
    canonical = DTYPE_ALIASES.get(str(value).strip().lower())
    if canonical is None:
        raise DataFormatError(
            f"{field_name}: unknown data type {value!r}; use one of {', '.join(DTYPE_ALIASES)} (any case)"
        )
    return canonical


def _as_float(value: object, field_name: str) -> float:
    if isinstance(value, bool):
        raise DataFormatError(f"{field_name}: expected a number, got {value!r}")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataFormatError(f"{field_name}: expected a number (or NaN), got {value!r}") from None


@dataclass(frozen=True, slots=True, eq=False)
class DataFormat:
    """How values are stored: dtype, nodata and the [min, max] range the stored values span.

    ``dtype`` accepts the original ingester's aliases, case-insensitively, and is kept canonical
    (``"uint8"``, ``"uint16"``, ..., ``"complex64"``). Two formats with NaN nodata are equal.
    """

    dtype: str
    no_data: float
    min_value: float
    max_value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", canonical_dtype(self.dtype, field_name="dformat.dtype"))
        for name in ("no_data", "min_value", "max_value"):
            object.__setattr__(self, name, _as_float(getattr(self, name), f"dformat.{name}"))

    @classmethod
    def parse(cls, text: str) -> DataFormat:
        """Parse the original ingester's ``"dtype,nodata,min,max"`` (e.g. ``"uint16,NaN,0,32767"``).

        Raises:
            DataFormatError: not 4 fields, unknown dtype, or a field that is not a number.
        """
        parts = [p.strip() for p in str(text).split(",")]
        if len(parts) != 4:
            raise DataFormatError(
                f"dformat {text!r}: expected 4 comma-separated fields dtype,nodata,min,max "
                f"(e.g. 'uint16,NaN,0,32767'), got {len(parts)}"
            )
        dtype, no_data, min_value, max_value = parts
        return cls(
            canonical_dtype(dtype, field_name=f"dformat {text!r} dtype"),
            _as_float(no_data, f"dformat {text!r} nodata"),
            _as_float(min_value, f"dformat {text!r} min"),
            _as_float(max_value, f"dformat {text!r} max"),
        )

    def __str__(self) -> str:
        numbers = (self.no_data, self.min_value, self.max_value)
        return ",".join([self.dtype, *(_format_number(v) for v in numbers)])

    def _key(self) -> tuple[str, str | float, float, float]:
        no_data: str | float = "NaN" if math.isnan(self.no_data) else self.no_data
        return (self.dtype, no_data, self.min_value, self.max_value)

    def __eq__(self, other: object) -> bool:
        # NaN nodata ("no nodata") must equal NaN nodata, which float == does not do.
        if not isinstance(other, DataFormat):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def _format_number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return str(int(value)) if value.is_integer() else repr(value)
