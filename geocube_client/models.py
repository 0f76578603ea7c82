"""Values the client returns and takes: small frozen dataclasses, never protobuf objects.

Words are the Geocube's (record, variable, instance, container, dataset), field names those of the
Geocube protos (shared/docs/geocube-api.md). Pydantic serialises these dataclasses as they are.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from geocube_client.errors import GeocubeInvalidArgumentError

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

# Canonical dtype -> name of the value in the proto enum DataFormat.Dtype.
DTYPE_TO_PROTO_NAME: dict[str, str] = {
    "uint8": "UInt8",
    "uint16": "UInt16",
    "uint32": "UInt32",
    "int8": "Int8",
    "int16": "Int16",
    "int32": "Int32",
    "float32": "Float32",
    "float64": "Float64",
    "complex64": "Complex64",
}
PROTO_NAME_TO_DTYPE: dict[str, str] = {v: k for k, v in DTYPE_TO_PROTO_NAME.items()}


def is_uuid(value: str) -> bool:
    """Whether ``value`` is a UUID, as every Geocube id is."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def canonical_dtype(value: str, *, field_name: str = "dtype") -> str:
    """The canonical numpy-style name of a dtype alias (``"Byte"`` → ``"uint8"``).

    Raises:
        GeocubeInvalidArgumentError: unknown alias; the message lists the accepted ones.
    """
    canonical = DTYPE_ALIASES.get(str(value).strip().lower())
    if canonical is None:
        raise GeocubeInvalidArgumentError(
            f"{field_name}: unknown data type {value!r}; use one of {', '.join(DTYPE_ALIASES)} (any case)"
        )
    return canonical


def _as_float(value: object, field_name: str) -> float:
    if isinstance(value, bool):
        raise GeocubeInvalidArgumentError(f"{field_name}: expected a number, got {value!r}")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise GeocubeInvalidArgumentError(
            f"{field_name}: expected a number (or NaN), got {value!r}"
        ) from None


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
            GeocubeInvalidArgumentError: not 4 fields, unknown dtype, or a field that is not a number.
        """
        parts = [p.strip() for p in str(text).split(",")]
        if len(parts) != 4:
            raise GeocubeInvalidArgumentError(
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


@dataclass(frozen=True, slots=True)
class Instance:
    """An instance of a variable (e.g. the "VV" instance of "Sigma0")."""

    id: str
    name: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Variable:
    """A Geocube variable and its instances."""

    id: str
    name: str
    unit: str
    description: str
    bands: list[str]
    dformat: DataFormat
    resampling: str
    instances: list[Instance] = field(default_factory=list)

    def find_instance(self, name: str) -> Instance | None:
        """The instance called ``name``, or None."""
        return next((i for i in self.instances if i.name == name), None)


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A record to create. ``time`` must be timezone-aware; the server keeps microseconds."""

    name: str
    time: datetime
    tags: dict[str, str] = field(default_factory=dict)
    aoi_id: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise GeocubeInvalidArgumentError("NewRecord.name: empty; pass the scene's source id")
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise GeocubeInvalidArgumentError(
                f"NewRecord(name={self.name!r}).time: naive datetime {self.time.isoformat()}; "
                "pass an aware datetime (e.g. tzinfo=datetime.UTC)"
            )
        if not self.aoi_id:
            raise GeocubeInvalidArgumentError(
                f"NewRecord(name={self.name!r}).aoi_id: empty; create the AOI first with create_aoi()"
            )


@dataclass(frozen=True, slots=True)
class Record:
    """A record as the server returns it; ``time`` is UTC, to the microsecond."""

    id: str
    name: str
    time: datetime
    tags: dict[str, str]
    aoi_id: str
    aoi_wkt: str | None = None  # only with list_records(with_aoi=True)


@dataclass(frozen=True, slots=True)
class Dataset:
    """One indexed dataset of a container: which record/instance, which bands, and the value mapping.

    ``real = (real_max_value - real_min_value) * ((v - min) / (max - min)) ** exponent + real_min_value``
    """

    record_id: str
    instance_id: str
    container_subdir: str
    bands: list[int]
    dformat: DataFormat
    real_min_value: float
    real_max_value: float
    exponent: float


@dataclass(frozen=True, slots=True)
class Container:
    """A file known to the Geocube (``uri`` as indexed, compared literally) and its datasets."""

    uri: str
    managed: bool
    datasets: list[Dataset] = field(default_factory=list)


@dataclass(frozen=True, slots=True, eq=False)
class CubeImage:
    """One image of a cube: the records it was made from, and its pixels (or why it has none).

    ``array`` is height x width x bands in the variable's dtype; None when ``error`` is set.
    """

    records: list[Record]
    array: Any
    error: str = ""


class IndexOutcome(StrEnum):
    """What ``index_dataset`` did."""

    INDEXED = "indexed"  # the server accepted the call (an identical re-index is also OK)
    ALREADY_INDEXED = "already_indexed"  # ALREADY_EXISTS, and GetContainers shows it is ours
