"""The original ingester's scenes/tiles GeoJSON interchange format, read and written.

The original (airbusgeo/geocube-ingester, ``catalog/entities/entities.go``, pinned by its
``entities_test.go``) answers ``/catalog/scenes`` and ``/catalog/tiles`` with this document, accepts it
back as input, and its notebooks save it as ``scenes.json``/``tiles.json``. Same shape here, so either
ingester reads the other's plans:

- a ``FeatureCollection`` plus an optional top-level ``properties`` map of strings (``next``...);
- one feature per scene: ``id`` (its index), ``geometry`` (the scene polygon, or a MultiPolygon of the
  scene polygon then every tile polygon when it has tiles), ``properties`` (the scene object);
- the scene object mixes ``common.Scene`` (``id``, ``source_id``, ``aoi``, ``data``) with the Go struct
  ``entities.Scene``, which has no JSON tags, hence ``GeometryWKT``, ``Tags``, ``Tiles``... Tiles are
  ``{SourceID, SceneID, Date, ID, Data, AnxTime, GeometryWKT, Previous, Reference, Ingested}``;
- keys inside ``properties`` are sorted (Go round-trips the struct through a map); times are Go's
  RFC 3339 with the fraction's trailing zeros dropped (``2022-01-11T17:01:24.37Z``).

Unknown keys are ignored, as Go does: later originals add ``is_retriable``, ``storage_uri`` and
``data.metadata``; the latter is read into ``Scene.metadata``, and written when it holds more than the
``uuid``. Lost on a round trip (the format has no place for them): ``Scene.catalogue``,
``Tile.burst_id``, ``Ingested``/``OwnRecord`` (written false), ``instances_id`` (written null),
per-tile graph names (one ``tile_graph_name`` per document), time digits beyond the microsecond.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import shapely
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError
from shapely.geometry import MultiPolygon, Polygon, mapping

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, Scene, Tile, TileLink, parse_constellation
from catalogue.naming import constellation_from_product_id, product_name_key

log = logging.getLogger(__name__)


def format_go_time(value: datetime) -> str:
    """``value`` as Go's ``time.RFC3339Nano`` in UTC: ``2022-01-11T17:01:24.37Z``, no trailing zeros."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    # Not strftime: glibc's %Y does not pad year 1, Go's zero time (0001-01-01T00:00:00Z).
    text = f"{value.year:04d}-{value:%m-%dT%H:%M:%S}"
    fraction = f"{value.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def parse_go_time(value: Any) -> datetime:
    """An RFC 3339 time as Go writes it (any number of fraction digits, ``Z`` or an offset), in UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and "T" in value:
        # fromisoformat (3.11) takes 1 to 9 fraction digits; beyond microseconds they are truncated.
        parsed = datetime.fromisoformat(value)
    else:
        raise ValueError(f"{value!r} is not an RFC 3339 time such as 2022-01-11T17:01:24.37Z")
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; expected Z or an offset such as +02:00")
    return parsed.astimezone(UTC)


GoTime = Annotated[datetime, BeforeValidator(parse_go_time), PlainSerializer(format_go_time)]


class _GoObject(BaseModel):
    # Go's encoding/json ignores unknown keys; newer originals add fields older ones lack. Capitalised
    # aliases are the exported names of Go structs without JSON tags; the writer builds with them.
    model_config = ConfigDict(extra="ignore")


_GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


class _TileLite(_GoObject):
    source_id: str = Field(default="", alias="SourceID")
    scene_id: str = Field(default="", alias="SceneID")
    date: GoTime = Field(default=_GO_ZERO_TIME, alias="Date")


class _TileAttrs(_GoObject):
    swath_id: str = ""
    tile_nr: int = 0
    graph_name: str = ""


class _TileMapping(_GoObject):
    swath_id: str = ""
    tile_nr: int = 0


class _GoTile(_TileLite):
    id: int = Field(default=0, alias="ID")
    data: _TileAttrs = Field(default_factory=_TileAttrs, alias="Data")
    anx_time: int = Field(default=0, alias="AnxTime")
    geometry_wkt: str = Field(default="", alias="GeometryWKT")
    previous: _TileLite | None = Field(default=None, alias="Previous")
    reference: _TileLite | None = Field(default=None, alias="Reference")
    ingested: bool = Field(default=False, alias="Ingested")


class _SceneAttrs(_GoObject):
    uuid: str = ""
    date: GoTime = _GO_ZERO_TIME
    tiles: dict[str, _TileMapping] | None = None
    graph_name: str = ""
    graph_config: dict[str, str] | None = None
    record_id: str = ""
    instances_id: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None


class _GoScene(_GoObject):
    id: int = 0
    source_id: str = ""
    aoi: str = ""
    data: _SceneAttrs = Field(default_factory=_SceneAttrs)
    product_name: str = Field(default="", alias="ProductName")
    tags: dict[str, str] | None = Field(default=None, alias="Tags")
    geometry_wkt: str = Field(default="", alias="GeometryWKT")
    tiles: list[_GoTile] | None = Field(default=None, alias="Tiles")
    ingested: bool = Field(default=False, alias="Ingested")
    own_record: bool = Field(default=False, alias="OwnRecord")


class InterchangeDocument(BaseModel):
    """What an interchange file holds, in our models, plus the plan-wide fields the scenes repeat."""

    scenes: list[Scene]
    tiles: list[Tile]
    properties: dict[str, str] = Field(default_factory=dict, description="Top-level properties map")
    aoi: str = Field(default="", description="AOI name of the first scene")
    graph_name: str = Field(default="", description="Scene graph of the first scene")
    tile_graph_name: str = Field(default="", description="Graph of the first tile")
    graph_config: dict[str, str] = Field(default_factory=dict, description="Graph config of the first scene")


def _load(source: str | Path | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogueError(f"interchange file {path}: cannot read it as JSON ({exc})") from exc
    if not isinstance(loaded, Mapping):
        raise CatalogueError(f"interchange file {path}: expected a JSON object (a FeatureCollection)")
    return loaded


def _validation_message(where: str, exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
    got = repr(first.get("input"))
    got = got if len(got) <= 80 else got[:77] + "..."
    return f"{where}{loc}: {first['msg']} (got {got})"


def _constellation(scene: _GoScene, where: str) -> Constellation:
    found = constellation_from_product_id(scene.source_id)
    tag = (scene.tags or {}).get("constellation", "")
    found = found or parse_constellation(tag)
    if found is None:
        raise CatalogueError(
            f"{where}: cannot tell the constellation of {scene.source_id!r} (tag constellation="
            f"{tag!r}); expected an S1/S2/Landsat/DS_PHR/DS_SPOT name or a constellation tag"
        )
    return found


def _as_polygon(wkt: str) -> Polygon | None:
    """The polygon of ``wkt`` (a one-polygon MultiPolygon counts), else None."""
    geometry = shapely.from_wkt(wkt)
    if isinstance(geometry, MultiPolygon) and len(geometry.geoms) == 1:
        geometry = geometry.geoms[0]
    return geometry if isinstance(geometry, Polygon) else None


def _footprint(wkt: str, geometry: Any, index: int | None, where: str) -> str:
    """The WKT or, in files without it, the feature's GeoJSON geometry: whole (``index`` None) or
    its polygon ``index`` (0 the scene, then one per tile)."""
    if wkt:
        return wkt
    try:
        shape = shapely.geometry.shape(geometry)
    except (AttributeError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
        raise CatalogueError(f"{where}: no GeometryWKT and no usable geometry ({exc})") from exc
    if index is None:
        return str(shape.wkt)
    parts = list(shape.geoms) if isinstance(shape, MultiPolygon) else [shape]
    if index >= len(parts):
        raise CatalogueError(f"{where}: no GeometryWKT and no polygon {index} in the feature's geometry")
    return str(parts[index].wkt)


def _link(lite: _TileLite | None) -> TileLink | None:
    if lite is None:
        return None
    return TileLink(source_id=lite.source_id, scene_id=lite.scene_id, date=lite.date)


def _to_scene(go: _GoScene, geometry: Any, where: str) -> Scene:
    metadata: dict[str, Any] = dict(go.data.metadata or {})
    if go.data.uuid:
        metadata["uuid"] = go.data.uuid
    return Scene(
        source_id=go.source_id,
        date=go.data.date,
        constellation=_constellation(go, where),
        footprint_wkt=_footprint(go.geometry_wkt, geometry, 0 if go.tiles else None, where),
        tags=dict(go.tags or {}),
        metadata=metadata,
        record_id=go.data.record_id,
    )


def _to_tile(go: _GoTile, scene: _GoScene, geometry: Any, index: int, where: str) -> Tile:
    mapped = (scene.data.tiles or {}).get(go.source_id)
    return Tile(
        source_id=go.source_id,
        scene_id=go.scene_id or scene.source_id,
        date=go.date,
        footprint_wkt=_footprint(go.geometry_wkt, geometry, index + 1, where),
        swath_id=go.data.swath_id or (mapped.swath_id if mapped else ""),
        tile_nr=go.data.tile_nr or (mapped.tile_nr if mapped else 0),
        anx_time=go.anx_time,
        previous=_link(go.previous),
        reference=_link(go.reference),
    )


def _string_properties(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    # Go declares map[string]string; a number or flag written by another tool is kept as its JSON text.
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


def read_interchange(source: str | Path | Mapping[str, Any]) -> InterchangeDocument:
    """Read a scenes or tiles document of the original ingester (or ours) into our models.

    Args:
        source: a path to the JSON file, or the already parsed document.

    Raises:
        CatalogueError: not a FeatureCollection, or a feature is malformed (its index and field
            are named).
    """
    document = _load(source)
    if document.get("type") != "FeatureCollection" or not isinstance(document.get("features"), list):
        raise CatalogueError(
            f"interchange document: type is {document.get('type')!r}, expected a 'FeatureCollection' "
            "with a 'features' list (the output of /catalog/scenes or /catalog/tiles)"
        )
    result = InterchangeDocument(
        scenes=[], tiles=[], properties=_string_properties(document.get("properties"))
    )
    for i, feature in enumerate(document["features"]):
        where = f"features[{i}].properties"
        if not isinstance(feature, Mapping) or not isinstance(feature.get("properties"), Mapping):
            raise CatalogueError(f"{where}: missing; every feature must carry its scene as properties")
        try:
            go = _GoScene.model_validate(feature["properties"])
        except ValidationError as exc:
            raise CatalogueError(_validation_message(where, exc)) from exc
        geometry = feature.get("geometry")
        result.scenes.append(_to_scene(go, geometry, where))
        for j, go_tile in enumerate(go.tiles or []):
            result.tiles.append(_to_tile(go_tile, go, geometry, j, f"{where}.Tiles[{j}]"))
        if i == 0:
            result.aoi, result.graph_name = go.aoi, go.data.graph_name
            result.graph_config = dict(go.data.graph_config or {})
            result.tile_graph_name = go.tiles[0].data.graph_name if go.tiles else ""
    log.debug("read %d scene(s), %d tile(s)", len(result.scenes), len(result.tiles))
    return result


def _tidy_number(value: Any) -> Any:
    """Coordinates as Go writes them: 9 rather than 9.0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list | tuple):
        return [_tidy_number(v) for v in value]
    return value


def _feature_geometry(scene: Scene, tiles: Sequence[Tile]) -> dict[str, Any]:
    """As the original's toFeature: a one-polygon MultiPolygon becomes a Polygon, then tiles append."""
    try:
        geometry = _as_polygon(scene.footprint_wkt) or shapely.from_wkt(scene.footprint_wkt)
        if isinstance(geometry, Polygon) and tiles:
            # The original appends the tiles that are polygons and silently skips the others.
            tile_polygons = (_as_polygon(t.footprint_wkt) for t in tiles)
            geometry = MultiPolygon([geometry, *(p for p in tile_polygons if p is not None)])
    except shapely.errors.GEOSException as exc:
        raise CatalogueError(f"scene {scene.source_id}: footprint_wkt is not valid WKT ({exc})") from exc
    shape = mapping(geometry)
    return {"type": shape["type"], "coordinates": _tidy_number(shape["coordinates"])}


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


def _go_link(link: TileLink | None) -> _TileLite | None:
    return None if link is None else _TileLite(SourceID=link.source_id, SceneID=link.scene_id, Date=link.date)


def _go_tile(tile: Tile, graph_name: str) -> _GoTile:
    return _GoTile(
        SourceID=tile.source_id,
        SceneID=tile.scene_id,
        Date=tile.date,
        Data=_TileAttrs(swath_id=tile.swath_id, tile_nr=tile.tile_nr, graph_name=graph_name),
        AnxTime=tile.anx_time,
        GeometryWKT=tile.footprint_wkt,
        Previous=_go_link(tile.previous),
        Reference=_go_link(tile.reference),
    )


def _go_scene(
    scene: Scene,
    tiles: Sequence[Tile],
    *,
    aoi: str,
    graph_name: str,
    tile_graph_name: str,
    config: dict[str, str] | None,
) -> dict[str, Any]:
    extra = {k: v for k, v in scene.metadata.items() if k != "uuid"}
    go = _GoScene(
        source_id=scene.source_id,
        aoi=aoi,
        data=_SceneAttrs(
            uuid=str(scene.metadata.get("uuid", "")),
            date=scene.date,
            tiles={t.source_id: _TileMapping(swath_id=t.swath_id, tile_nr=t.tile_nr) for t in tiles},
            graph_name=graph_name,
            graph_config=config,
            record_id=scene.record_id,
            metadata=dict(scene.metadata) if extra else None,
        ),
        ProductName=product_name_key(scene),
        Tags=dict(scene.tags),
        GeometryWKT=scene.footprint_wkt,
        Tiles=[_go_tile(t, tile_graph_name) for t in tiles] or None,
    )
    properties: dict[str, Any] = _sorted_keys(go.model_dump(mode="json", by_alias=True))
    if properties["data"]["metadata"] is None:
        del properties["data"]["metadata"]
    return properties


def write_interchange(
    scenes: Sequence[Scene],
    tiles: Sequence[Tile],
    *,
    aoi: str,
    properties: Mapping[str, str] | None = None,
    graph_name: str = "",
    tile_graph_name: str = "",
    graph_config: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The interchange document of ``scenes`` and their ``tiles``, as the original ingester writes it.

    Each tile is nested in the scene named by its ``scene_id``, in the order given. ``json.dumps``
    of the result is the file.

    Raises:
        CatalogueError: a tile belongs to none of ``scenes``, or a footprint is not valid WKT.
    """
    by_scene: dict[str, list[Tile]] = {s.source_id: [] for s in scenes}
    for i, tile in enumerate(tiles):
        if tile.scene_id not in by_scene:
            raise CatalogueError(
                f"tiles[{i}].scene_id: {tile.scene_id!r} (tile {tile.source_id}) is none of the "
                f"{len(scenes)} scene(s) given; pass its scene too"
            )
        by_scene[tile.scene_id].append(tile)
    config = dict(graph_config) if graph_config else None
    features = []
    for i, scene in enumerate(scenes):
        own = by_scene[scene.source_id]
        scene_properties = _go_scene(
            scene, own, aoi=aoi, graph_name=graph_name, tile_graph_name=tile_graph_name, config=config
        )
        features.append(
            {
                "type": "Feature",
                "id": i,
                "geometry": _feature_geometry(scene, own),
                "properties": scene_properties,
            }
        )
    document: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if properties:
        document["properties"] = dict(properties)
    return document
