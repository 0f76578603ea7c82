"""Decoding the original's scene objects, in both shapes it has written, as Go's ``encoding/json`` does.

The original (airbusgeo/geocube-ingester) keeps a scene in ``catalog/entities/entities.go``
(``entities.Scene`` embedding ``common.Scene``, ``common/payload.go``). Two shapes of the same struct:

- **legacy** (before its commit 3f3113d7, March 2025; its ``Jupyter/data/*.json``): the fields of
  ``entities.Scene`` and ``entities.Tile`` had no JSON tags, so they went out under their Go names:
  ``GeometryWKT``, ``Tags``, ``Tiles``, ``ProductName``, ``Ingested``, ``OwnRecord``; tiles as
  ``{SourceID, SceneID, Date, ID, Data, AnxTime, GeometryWKT, Previous, Reference, Ingested}``;
- **current** (3f3113d7 and later, pinned by its ``entities_test.go``): ``{id, source_id, aoi,
  data{...}, tags, wkt, tiles}`` (``tiles`` omitted when empty; ``ProductName``, ``Ingested`` and
  ``OwnRecord`` are ``json:"-"``), tiles as ``{SourceID, SceneID, Date, id, data, anx_time, wkt,
  previous, reference}`` (``TileLite`` is embedded untagged, so its three keys stay capitalised);
  ``data`` gains ``metadata``, ``is_retriable`` and ``storage_uri``, and omits empty ``tiles`` and
  ``instances_id``.

Go matches an object's keys to a struct's fields exactly or, failing that, case-insensitively
(``Tags`` fills ``tags``), ignores unknown keys, and leaves a field at its zero value when its key is
missing or null. So does this decoder, with both shapes' names for the fields they renamed: one
reader for both. Where Go would fail (a string where an int is due, a float for an int) or where two
keys name one field with different values, it raises a :class:`CatalogueError` naming the key path
as written in the file (``features[2].properties.Tiles[1].Date``), never another exception.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from catalogue.errors import CatalogueError

GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


class InterchangeShape(StrEnum):
    """The two shapes of the original's scenes/tiles documents (see the module docstring)."""

    CURRENT = "current"
    LEGACY = "legacy"


def shown(value: Any) -> str:
    """``repr(value)``, cut to 80 characters: values in messages come from files."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_go_time(value: Any) -> datetime:
    """An RFC 3339 time as Go writes it (any number of fraction digits, ``Z`` or an offset), in UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and "T" in value:
        # fromisoformat (3.11) takes 1 to 9 fraction digits; beyond microseconds they are truncated.
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{shown(value)} is not an RFC 3339 time such as 2022-01-11T17:01:24.37Z"
            ) from None
    else:
        raise ValueError(f"{shown(value)} is not an RFC 3339 time such as 2022-01-11T17:01:24.37Z")
    if parsed.tzinfo is None:
        raise ValueError(f"{shown(value)} has no time zone; expected Z or an offset such as +02:00")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{shown(value)} is out of range in UTC (years 1 to 9999)") from None


@dataclass(frozen=True)
class GoTileLite:
    """``entities.TileLite``: a previous or reference tile."""

    source_id: str = ""
    scene_id: str = ""
    date: datetime = GO_ZERO_TIME


@dataclass(frozen=True)
class GoTileMapping:
    """``common.TileMapping``: one entry of a scene's ``data.tiles``."""

    swath_id: str = ""
    tile_nr: int = 0


@dataclass(frozen=True)
class GoTileAttrs:
    """``common.TileAttrs``: a tile's ``data``."""

    swath_id: str = ""
    tile_nr: int = 0
    graph_name: str = ""
    is_retriable: bool = False
    burst_id: int | None = None  # ours (Tile.burst_id), in the current shape


@dataclass(frozen=True)
class GoTile:
    """``entities.Tile``."""

    lite: GoTileLite
    id: int = 0
    data: GoTileAttrs = field(default_factory=GoTileAttrs)
    anx_time: int = 0
    wkt: str = ""
    previous: GoTileLite | None = None
    reference: GoTileLite | None = None
    burst_id: int | None = None  # ours (Tile.burst_id), in the legacy shape
    keys: dict[str, str] = field(default_factory=dict, compare=False)  # field -> key, for messages


@dataclass(frozen=True)
class GoSceneAttrs:
    """``common.SceneAttrs``: a scene's ``data``. None is Go's nil map (missing or null, written back
    as null), unlike an empty object."""

    uuid: str = ""
    date: datetime = GO_ZERO_TIME
    tiles: dict[str, GoTileMapping] | None = None
    graph_name: str = ""
    graph_config: dict[str, str] | None = None
    record_id: str = ""
    instances_id: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None
    is_retriable: bool = False
    storage_uri: str = ""
    catalogue: str = ""  # ours (Scene.catalogue), in the current shape


@dataclass(frozen=True)
class GoScene:
    """``entities.Scene``, with the shape its keys were written in."""

    shape: InterchangeShape
    id: int = 0
    source_id: str = ""
    aoi: str = ""
    data: GoSceneAttrs = field(default_factory=GoSceneAttrs)
    tags: dict[str, str] | None = None
    wkt: str = ""
    tiles: list[GoTile] | None = None
    catalogue: str = ""  # ours (Scene.catalogue), in the legacy shape
    keys: dict[str, str] = field(default_factory=dict, compare=False)  # field -> key, for messages


# Keys that only the legacy shape writes (exactly so: case-insensitively, Tags/Tiles are also current).
_LEGACY_SCENE_KEYS = frozenset({"GeometryWKT", "Tags", "Tiles", "ProductName", "Ingested", "OwnRecord"})

T = TypeVar("T")


def _fail(where: str, expected: str, value: Any) -> CatalogueError:
    return CatalogueError(f"{where}: expected {expected} (got {shown(value)})")


def _fields(raw: Any, names: Mapping[str, tuple[str, ...]], where: str) -> dict[str, tuple[str, Any]]:
    """The object's values by field: ``{field: (key as written, value)}``, Go's way (exact name first,
    then any case), null values left out (Go leaves the zero value). Two keys naming one field must
    agree."""
    if not isinstance(raw, Mapping):
        raise _fail(where, "a JSON object", raw)
    lookup = {name.casefold(): f for f, aliases in names.items() for name in aliases}
    found: dict[str, tuple[str, Any]] = {}
    for key, value in raw.items():
        name = lookup.get(str(key).casefold())
        if name is None or value is None:
            continue
        if name in found and found[name][1] != value:
            raise CatalogueError(
                f"{where}: {found[name][0]!r} and {key!r} both give its {names[name][0]!r} and they differ;"
                " keep one"
            )
        found.setdefault(name, (str(key), value))
    return found


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _fail(where, "a string", value)
    return value


def _int(value: Any, where: str) -> int:
    # Go refuses 1.0 or "1" for an int; bool is an int in Python, not in JSON.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(where, "an integer", value)
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, "true or false", value)
    return value


def _time(value: Any, where: str) -> datetime:
    try:
        return parse_go_time(value)
    except ValueError as exc:
        raise CatalogueError(f"{where}: {exc}") from None


def _str_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _fail(where, "an object of strings", value)
    return {str(k): "" if v is None else _str(v, f"{where}.{str(k)[:40]}") for k, v in value.items()}


def _any_map(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, "a JSON object", value)
    return {str(k): v for k, v in value.items()}


def _objects(value: Any, where: str, decode: Callable[[Any, str], T]) -> list[T]:
    if not isinstance(value, list):
        raise _fail(where, "a list", value)
    return [decode(item, f"{where}[{i}]") for i, item in enumerate(value)]


class _Object:
    """The fields of one JSON object, read with the path of each key as written."""

    def __init__(self, raw: Any, names: Mapping[str, tuple[str, ...]], where: str) -> None:
        self.found = _fields(raw, names, where)
        self.where = where

    def get(self, name: str, decode: Callable[[Any, str], T], default: T) -> T:
        if name not in self.found:
            return default
        key, value = self.found[name]
        return decode(value, f"{self.where}.{key}")

    def key(self, name: str, shape: InterchangeShape) -> str:
        """The key ``name`` was given under, or the shape's own name for it (for messages)."""
        if name in self.found:
            return self.found[name][0]
        return _SHAPE_KEYS[shape].get(name, name)


# The key of a field in each shape, where the two differ (for messages about a missing one).
_SHAPE_KEYS = {
    InterchangeShape.CURRENT: {"wkt": "wkt", "tiles": "tiles", "scene_id": "SceneID"},
    InterchangeShape.LEGACY: {"wkt": "GeometryWKT", "tiles": "Tiles", "scene_id": "SceneID"},
}

_LITE_NAMES = {"source_id": ("SourceID",), "scene_id": ("SceneID",), "date": ("Date",)}


def decode_tile_lite(raw: Any, where: str) -> GoTileLite:
    obj = _Object(raw, _LITE_NAMES, where)
    return GoTileLite(
        source_id=obj.get("source_id", _str, ""),
        scene_id=obj.get("scene_id", _str, ""),
        date=obj.get("date", _time, GO_ZERO_TIME),
    )


def _decode_mapping(raw: Any, where: str) -> GoTileMapping:
    obj = _Object(raw, {"swath_id": ("swath_id",), "tile_nr": ("tile_nr",)}, where)
    return GoTileMapping(swath_id=obj.get("swath_id", _str, ""), tile_nr=obj.get("tile_nr", _int, 0))


def _mappings(value: Any, where: str) -> dict[str, GoTileMapping]:
    if not isinstance(value, Mapping):
        raise _fail(where, "an object of {swath_id, tile_nr}", value)
    return {str(k): _decode_mapping(v, f"{where}.{str(k)[:40]}") for k, v in value.items()}


_TILE_ATTRS_NAMES = {
    "swath_id": ("swath_id",),
    "tile_nr": ("tile_nr",),
    "graph_name": ("graph_name",),
    "is_retriable": ("is_retriable",),
    "burst_id": ("burst_id",),
}


def _decode_tile_attrs(raw: Any, where: str) -> GoTileAttrs:
    obj = _Object(raw, _TILE_ATTRS_NAMES, where)
    return GoTileAttrs(
        swath_id=obj.get("swath_id", _str, ""),
        tile_nr=obj.get("tile_nr", _int, 0),
        graph_name=obj.get("graph_name", _str, ""),
        is_retriable=obj.get("is_retriable", _bool, False),
        burst_id=obj.get("burst_id", _int, None),
    )


_TILE_NAMES = {
    **_LITE_NAMES,
    "id": ("id", "ID"),
    "data": ("data", "Data"),
    "anx_time": ("anx_time", "AnxTime"),
    "wkt": ("wkt", "GeometryWKT"),
    "previous": ("previous", "Previous"),
    "reference": ("reference", "Reference"),
    "burst_id": ("BurstID",),
}


def decode_tile(raw: Any, where: str, shape: InterchangeShape = InterchangeShape.CURRENT) -> GoTile:
    obj = _Object(raw, _TILE_NAMES, where)
    return GoTile(
        keys={name: obj.key(name, shape) for name in ("wkt", "scene_id")},
        lite=decode_tile_lite(raw, where),
        id=obj.get("id", _int, 0),
        data=obj.get("data", _decode_tile_attrs, GoTileAttrs()),
        anx_time=obj.get("anx_time", _int, 0),
        wkt=obj.get("wkt", _str, ""),
        previous=obj.get("previous", decode_tile_lite, None),
        reference=obj.get("reference", decode_tile_lite, None),
        burst_id=obj.get("burst_id", _int, None),
    )


_SCENE_ATTRS_NAMES = {
    name: (name,)
    for name in (
        "uuid",
        "date",
        "tiles",
        "graph_name",
        "graph_config",
        "record_id",
        "instances_id",
        "metadata",
        "is_retriable",
        "storage_uri",
        "catalogue",
    )
}


def _decode_scene_attrs(raw: Any, where: str) -> GoSceneAttrs:
    obj = _Object(raw, _SCENE_ATTRS_NAMES, where)
    return GoSceneAttrs(
        uuid=obj.get("uuid", _str, ""),
        date=obj.get("date", _time, GO_ZERO_TIME),
        tiles=obj.get("tiles", _mappings, None),
        graph_name=obj.get("graph_name", _str, ""),
        graph_config=obj.get("graph_config", _str_map, None),
        record_id=obj.get("record_id", _str, ""),
        instances_id=obj.get("instances_id", _str_map, None),
        metadata=obj.get("metadata", _any_map, None),
        is_retriable=obj.get("is_retriable", _bool, False),
        storage_uri=obj.get("storage_uri", _str, ""),
        catalogue=obj.get("catalogue", _str, ""),
    )


_SCENE_NAMES = {
    "id": ("id",),
    "source_id": ("source_id",),
    "aoi": ("aoi",),
    "data": ("data",),
    "tags": ("tags", "Tags"),
    "wkt": ("wkt", "GeometryWKT"),
    "tiles": ("tiles", "Tiles"),
    "catalogue": ("Catalogue",),
}


def decode_scene(raw: Any, where: str) -> GoScene:
    """A feature's ``properties`` as the original's scene, in either shape.

    Raises:
        CatalogueError: a value of the wrong type, or two keys for one field that differ (the key
            path is named).
    """
    obj = _Object(raw, _SCENE_NAMES, where)
    legacy = any(key in _LEGACY_SCENE_KEYS for key in raw) and not {"wkt", "tags", "tiles"} & raw.keys()
    shape = InterchangeShape.LEGACY if legacy else InterchangeShape.CURRENT
    return GoScene(
        shape=shape,
        keys={name: obj.key(name, shape) for name in ("wkt", "tiles")},
        id=obj.get("id", _int, 0),
        source_id=obj.get("source_id", _str, ""),
        aoi=obj.get("aoi", _str, ""),
        data=obj.get("data", _decode_scene_attrs, GoSceneAttrs()),
        tags=obj.get("tags", _str_map, None),
        wkt=obj.get("wkt", _str, ""),
        tiles=obj.get("tiles", lambda v, w: _objects(v, w, lambda t, at: decode_tile(t, at, shape)), None),
        catalogue=obj.get("catalogue", _str, ""),
    )
