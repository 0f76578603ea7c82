"""Values the client returns and takes: small frozen dataclasses, never protobuf objects.

Words are the Geocube's (record, variable, instance, container, dataset), field names those of the
Geocube protos (shared/docs/geocube-api.md). Pydantic serialises these dataclasses as they are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from common.dataformat import DataFormat
from geocube_client.errors import GeocubeInvalidArgumentError

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


@dataclass(frozen=True, slots=True)
class DeletedDataset:
    """One line of a DeleteDatasets answer, read: the dataset, its container as the server opens it
    (``<subdir>:<uri>`` with a subdir), its bands, record and instance."""

    id: str
    container: str
    bands: list[int]
    record_id: str
    instance_id: str


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
