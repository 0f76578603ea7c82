"""The original ingester's graph JSON schema (original-ingester.md §5.3), as pydantic v2 models.

Graph files of the original load unchanged, read as leniently as the original reads them where that
is harmless (``graphs.lenient``: keys in any case, unknown datatypes, ``nbands: 0``, out-files without
layer).

Differences, all on the side of failing early:

- unknown engines, conditions, actions, arg types, tile keys and dtypes are rejected at load, each
  message naming the JSON path and the valid names (the original panics or fails at run time);
- a step without ``condition`` means ``pass`` (the original panics, §5.3);
- more than 3 ``in_files`` or ``out_files`` arrays are rejected (the original panics in ``Process``);
- ``dformat_out`` must be a ``fixed`` or ``config`` arg.

Dtype aliases and the ``dtype,nodata,min,max`` format (§5.9) belong to ``common.dataformat``
(``canonical_dtype``, ``DataFormat``), not to this module; so ``int8``/``i1``, which the Geocube proto has,
are accepted here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from common.dataformat import DTYPE_ALIASES, DataFormatError, canonical_dtype
from graphs.lenient import fold_keys, read_out_file
from storage.layout import PRODUCT_LAYER

__all__ = [
    "ERROR_CONDITIONS",
    "FILE_CONDITIONS",
    "PRODUCT_LAYER",
    "TILE_CONDITIONS",
    "TILE_KEYS",
    "Action",
    "Arg",
    "ArgType",
    "Condition",
    "Engine",
    "Graph",
    "InFile",
    "OutFile",
    "ProcessingStep",
]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TILE_COUNT = 3  # T0 (this tile), T1 (previous), T2 (reference)
_T = TypeVar("_T")


class Engine(StrEnum):
    PYTHON = "python"
    CMD = "cmd"
    SNAP = "snap"
    DOCKER = "docker"


class Condition(StrEnum):
    PASS = "pass"  # noqa: S105 (a condition name, not a password)
    DIFFERENT_T0_T1 = "different_T0_T1"
    DIFFERENT_T0_T2 = "different_T0_T2"
    DIFFERENT_T1_T2 = "different_T1_T2"
    EQUAL_T0_T1 = "equal_T0_T1"
    EQUAL_T0_T2 = "equal_T0_T2"
    EQUAL_T1_T2 = "equal_T1_T2"
    FILE_EXISTS = "file_exists"
    FILE_NOT_EXIST = "file_not_exist"
    ON_FAILURE = "on_failure"
    ON_FATAL_FAILURE = "on_fatal_failure"


TILE_CONDITIONS = frozenset(
    {
        Condition.PASS,
        Condition.DIFFERENT_T0_T1,
        Condition.DIFFERENT_T0_T2,
        Condition.DIFFERENT_T1_T2,
        Condition.EQUAL_T0_T1,
        Condition.EQUAL_T0_T2,
        Condition.EQUAL_T1_T2,
    }
)
FILE_CONDITIONS = frozenset({Condition.FILE_EXISTS, Condition.FILE_NOT_EXIST})
ERROR_CONDITIONS = frozenset({Condition.ON_FAILURE, Condition.ON_FATAL_FAILURE})


class ArgType(StrEnum):
    FIXED = "fixed"
    CONFIG = "config"
    TILE = "tile"
    IN = "in"
    OUT = "out"


# Keys of a `tile` arg (§5.5).
TILE_KEYS = ("swath", "number", "scene", "date", "cohdate", "constellation")


class Action(StrEnum):
    TO_IGNORE = "to_ignore"
    TO_CREATE = "to_create"
    TO_INDEX = "to_index"
    TO_DELETE = "to_delete"


def _check_name(kind: str, value: Any, known: Iterable[str]) -> str:
    names = list(known)
    if not isinstance(value, str) or value not in names:
        # Values are case-sensitive in the original (Go string compares): only keys are not.
        same = [str(n) for n in names if isinstance(value, str) and n.casefold() == value.casefold()]
        hint = f" (names are case-sensitive: {same[0]!r})" if same else ""
        raise ValueError(f"unknown {kind} {value!r}{hint}; known: {', '.join(names)}")
    return value


def _condition(
    value: Any, *, allowed: Iterable[Condition] = tuple(Condition), what: str = "condition"
) -> Any:
    if value is None or value == "":
        return Condition.PASS
    allowed = [c for c in Condition if c in set(allowed)]
    if isinstance(value, str) and value in set(Condition) and Condition(value) not in allowed:
        raise ValueError(
            f"{what} {value!r} is not allowed here (only tile conditions are); known: {', '.join(allowed)}"
        )
    return _check_name(what, value, allowed)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _any_case_keys(cls, data: Any) -> Any:
        return cls._read_leniently(fold_keys(data, cls.model_fields))

    @classmethod
    def _read_leniently(cls, data: Any) -> Any:
        """The decoded object (keys already folded), with the original's harmless leniencies applied."""
        return data


class Arg(_Model):
    """One argument of a step, or the ``dformat_out`` of an out-file."""

    type: ArgType
    value: str = ""
    tile_index: int = Field(default=0, description="in: which tile (0: T0, 1: T1 previous, 2: T2 reference)")
    layer: str = ""
    extension: str = ""

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        return _check_name("arg type", value, ArgType)

    @field_validator("value")
    @classmethod
    def _known_tile_key(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("type") == ArgType.TILE:
            _check_name("tile key", value, TILE_KEYS)
        return value

    @field_validator("tile_index")
    @classmethod
    def _tile_index_in_range(cls, value: int) -> int:
        if not 0 <= value < TILE_COUNT:
            raise ValueError(f"{value} is out of range; use 0 (T0), 1 (T1, previous) or 2 (T2, reference)")
        return value

    @model_validator(mode="after")
    def _required_keys(self) -> Arg:
        if self.type in (ArgType.IN, ArgType.OUT) and not self.layer:
            raise ValueError(f"an {self.type.value!r} arg needs 'layer' (and 'extension')")
        if self.type == ArgType.CONFIG and not self.value:
            raise ValueError("a 'config' arg needs 'value', the config key")
        return self


class ProcessingStep(_Model):
    engine: Engine
    command: str = Field(min_length=1)
    args: dict[str, Arg] = Field(default_factory=dict)
    condition: Condition = Field(default=Condition.PASS, description="a tile condition; omitted means pass")

    @field_validator("engine", mode="before")
    @classmethod
    def _known_engine(cls, value: Any) -> Any:
        return _check_name("engine", value, Engine)

    @field_validator("args", mode="before")
    @classmethod
    def _null_args(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("condition", mode="before")
    @classmethod
    def _tile_condition(cls, value: Any) -> Any:
        return _condition(value, allowed=TILE_CONDITIONS)


class InFile(_Model):
    """A layer imported from storage before the steps run; only tile conditions are honoured (§5.3)."""

    layer: str = Field(min_length=1)
    extension: str = ""
    condition: Condition = Condition.PASS

    @field_validator("condition", mode="before")
    @classmethod
    def _known_condition(cls, value: Any) -> Any:
        return _condition(value)


class OutFile(_Model):
    layer: str = Field(default="", description="required unless the action is to_ignore (then dropped)")
    extension: str = ""
    action: Action = Action.TO_IGNORE
    condition: Condition = Condition.PASS
    error_condition: Condition | None = Field(default=None, description="unset behaves like pass (§5.8)")
    dformat_out: Arg | None = Field(default=None, description="a fixed or config arg: 'dtype,nodata,min,max'")
    datatype: str | None = Field(
        default=None, description="canonical dtype (any alias of §5.9 at load, e.g. 'Byte' -> 'uint8')"
    )
    nodata: float = 0.0
    min_value: float = 0.0
    max_value: float = 0.0
    ext_min_value: float = 0.0
    ext_max_value: float = 0.0
    exponent: float = 1.0
    ext_from_file: bool = Field(
        default=False,
        description=(
            "ours, not the original's: the real range comes from the written file's GDAL band scale and "
            "offset (real = v * scale + offset over dformat_out's [min, max]), e.g. a Sentinel-2 product's "
            "radiometric offset; ext_min_value/ext_max_value apply when the file has none"
        ),
    )
    nbands: int = Field(default=1, ge=1, description="0 or null read as 1 (see the module docstring)")

    @classmethod
    def _read_leniently(cls, data: Any) -> Any:
        return read_out_file(data)

    @model_validator(mode="after")
    def _layer_unless_ignored(self) -> OutFile:
        if not self.layer and self.action != Action.TO_IGNORE:
            raise ValueError(
                f"layer: missing; an out-file with action {self.action.value!r} needs its layer (the "
                "original would name its file '<date>_<tile>_.<ext>'); only a to_ignore one may omit it"
            )
        return self

    @field_validator("action", mode="before")
    @classmethod
    def _known_action(cls, value: Any) -> Any:
        return Action.TO_IGNORE if value is None else _check_name("action", value, Action)

    @field_validator("condition", mode="before")
    @classmethod
    def _known_condition(cls, value: Any) -> Any:
        return _condition(value)

    @field_validator("error_condition", mode="before")
    @classmethod
    def _known_error_condition(cls, value: Any) -> Any:
        return None if value in (None, "") else _condition(value, what="error_condition")

    @field_validator("datatype", mode="before")
    @classmethod
    def _known_dtype(cls, value: Any) -> Any:
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a dtype name; use a string, e.g. 'float32'")
        try:
            return canonical_dtype(value)
        except DataFormatError:
            # pydantic reports ValueError only; the loader prefixes the JSON path.
            raise ValueError(
                f"unknown dtype {value!r}; known: {', '.join(DTYPE_ALIASES)} (any case). The original reads "
                "it as undefined, which cannot be indexed: give a known dtype, or a dformat_out"
            ) from None

    @field_validator("dformat_out")
    @classmethod
    def _fixed_or_config(cls, value: Arg | None) -> Arg | None:
        if value is not None and value.type not in (ArgType.FIXED, ArgType.CONFIG):
            raise ValueError(f"must be a 'fixed' or 'config' arg, got {value.type.value!r}")
        return value


def _per_tile(kind: type[_T]) -> list[list[_T]]:
    """One empty list of ``kind`` per tile (T0, T1, T2)."""
    return [[] for _ in range(TILE_COUNT)]


class Graph(_Model):
    """A processing graph: default config, steps, in-files per tile and out-files per tile."""

    config: dict[str, str] = Field(default_factory=dict, description="default config; null means {}")
    envs: list[str] = Field(default_factory=list, description="KEY=VALUE for docker steps (graph-level)")
    processing_steps: list[ProcessingStep] = Field(default_factory=list)
    in_files: list[list[InFile]] = Field(default_factory=lambda: _per_tile(InFile))
    out_files: list[list[OutFile]] = Field(default_factory=lambda: _per_tile(OutFile))
    unavailable_layers: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "ours, not the original's: layers this graph names but cannot make here, each with the reason "
            "and the fix (the no-SNAP variant of S1BackscatterCoherence cannot make coh_VV/coh_VH); "
            "validation warns about a payload layer listed here"
        ),
    )

    _source: str = PrivateAttr(default="<memory>")
    _command_roots: tuple[Path, ...] = PrivateAttr(default=())

    @field_validator("config", "envs", "processing_steps", "unavailable_layers", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return {} if info.field_name in ("config", "unavailable_layers") else []
        return value

    @field_validator("envs")
    @classmethod
    def _key_value(cls, value: list[str]) -> list[str]:
        for index, entry in enumerate(value):
            name, equals, _ = entry.partition("=")
            if not equals or not _ENV_NAME.match(name):
                raise ValueError(f"[{index}] {entry!r} is not NAME=VALUE (e.g. 'GDAL_CACHEMAX=512')")
        return value

    @field_validator("in_files", "out_files", mode="before")
    @classmethod
    def _three_tiles(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return [[], [], []]
        if isinstance(value, list):
            if len(value) > TILE_COUNT:
                raise ValueError(
                    f"{len(value)} arrays given; at most {TILE_COUNT} (one per tile: T0, T1 previous, "
                    f"T2 reference)"
                )
            return [[] if v is None else v for v in value] + [[] for _ in range(TILE_COUNT - len(value))]
        return value

    @model_validator(mode="after")
    def _drop_ignored_out_files_without_layer(self) -> Graph:
        if all(o.layer for files in self.out_files for o in files):
            return self
        kept = [[o for o in files if o.layer] for files in self.out_files]
        return self.model_copy(update={"out_files": kept})

    @property
    def source(self) -> str:
        """Where the graph came from (built-in name or file path), for messages."""
        return self._source

    @property
    def command_roots(self) -> tuple[Path, ...]:
        """Folders where relative step commands are looked for, before the graphs package folder."""
        return self._command_roots

    def with_origin(self, source: str, command_roots: Iterable[Path] = ()) -> Graph:
        """This graph, remembering where it came from and where its commands are."""
        self._source = source
        self._command_roots = tuple(command_roots)
        return self
