"""Writing the original's scenes/tiles documents, in its current or legacy shape (``catalogue.interchange``).

The current shape follows the JSON tags of ``catalog/entities/entities.go`` and ``common/payload.go``
at the original's commit 3f3113d7 (``omitempty`` on ``data.tiles``, ``data.instances_id`` and
``tiles``); the legacy one, their Go field names before it (its ``Jupyter/data/*.json``, reproduced
byte for byte). Keys are sorted as the original's ``toFeature`` leaves them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import shapely
from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import MultiPolygon, Polygon, mapping

from catalogue.errors import CatalogueError
from catalogue.interchange_decode import InterchangeShape
from catalogue.models import Scene, Tile, TileLink
from catalogue.naming import product_name_key


def format_go_time(value: datetime) -> str:
    """``value`` as Go's ``time.RFC3339Nano`` in UTC: ``2022-01-11T17:01:24.37Z``, no trailing zeros."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    # Not strftime: glibc's %Y does not pad year 1, Go's zero time (0001-01-01T00:00:00Z).
    text = f"{value.year:04d}-{value:%m-%dT%H:%M:%S}"
    fraction = f"{value.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


class OriginalTile(BaseModel):
    """A tile's fields that ``Tile`` has no place for, as read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int = 0
    graph_name: str = ""
    is_retriable: bool = False


class OriginalScene(BaseModel):
    """A scene's fields that ``Scene`` has no place for, as read: what writes it back unchanged.

    ``graph_config``/``instances_id``/``tile_mappings`` None is Go's nil map (null, or omitted where
    the original omits empty ones). ``uuid_in_data``/``uuid_in_metadata``: where the scene's ``uuid``
    (``Scene.metadata["uuid"]``) was written: ``data.uuid`` (its catalogues of CDSE, ASF...),
    ``data.metadata.uuid`` (its OneAtlas catalogue; its CDSE downloader reads it there), or both.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int = 0
    aoi: str = ""
    graph_name: str = ""
    graph_config: dict[str, str] | None = None
    instances_id: dict[str, str] | None = None
    is_retriable: bool = False
    storage_uri: str = ""
    uuid_in_data: bool = True
    uuid_in_metadata: bool = False
    metadata_null: bool = True
    tile_mappings: dict[str, tuple[str, int]] | None = None
    tiles: dict[str, OriginalTile] = Field(default_factory=dict)


def _as_polygon(wkt: str) -> Polygon | None:
    """The polygon of ``wkt`` (a one-polygon MultiPolygon counts), else None."""
    geometry = shapely.from_wkt(wkt)
    if isinstance(geometry, MultiPolygon) and len(geometry.geoms) == 1:
        geometry = geometry.geoms[0]
    return geometry if isinstance(geometry, Polygon) else None


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
    except shapely.errors.ShapelyError as exc:
        raise CatalogueError(f"scene {scene.source_id}: footprint_wkt is not valid WKT ({exc})") from exc
    shape = mapping(geometry)
    return {"type": shape["type"], "coordinates": _tidy_number(shape["coordinates"])}


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


class _Plan(BaseModel):
    """The plan-wide values ``write_interchange`` was given: each scene's unless it has an original."""

    aoi: str
    graph_name: str
    tile_graph_name: str
    graph_config: dict[str, str] | None
    instances_id: dict[str, str] | None
    is_retriable: bool
    storage_uri: str


def _lite(link: TileLink | None) -> dict[str, Any] | None:
    if link is None:
        return None
    return {"Date": format_go_time(link.date), "SceneID": link.scene_id, "SourceID": link.source_id}


def _tile_object(tile: Tile, extra: OriginalTile, shape: InterchangeShape) -> dict[str, Any]:
    data: dict[str, Any] = {
        "graph_name": extra.graph_name,
        "swath_id": tile.swath_id,
        "tile_nr": tile.tile_nr,
    }
    common: dict[str, Any] = {
        "Date": format_go_time(tile.date),
        "SceneID": tile.scene_id,
        "SourceID": tile.source_id,
    }
    # Tile.burst_id, a key of ours (only when known): the original's readers ignore unknown keys.
    if shape is InterchangeShape.LEGACY:
        if extra.is_retriable:
            data["is_retriable"] = True
        if tile.burst_id is not None:
            common["BurstID"] = tile.burst_id
        return common | {
            "AnxTime": tile.anx_time,
            "Data": data,
            "GeometryWKT": tile.footprint_wkt,
            "ID": extra.id,
            "Ingested": False,
            "Previous": _lite(tile.previous),
            "Reference": _lite(tile.reference),
        }
    if tile.burst_id is not None:
        data["burst_id"] = tile.burst_id
    return common | {
        "anx_time": tile.anx_time,
        "data": data | {"is_retriable": extra.is_retriable},
        "id": extra.id,
        "previous": _lite(tile.previous),
        "reference": _lite(tile.reference),
        "wkt": tile.footprint_wkt,
    }


def _uuid_and_metadata(
    scene: Scene, original: OriginalScene | None, shape: InterchangeShape
) -> tuple[str, dict[str, Any] | None]:
    uuid = str(scene.metadata.get("uuid", ""))
    rest = {k: v for k, v in scene.metadata.items() if k != "uuid"}
    if original is not None:
        in_data = original.uuid_in_data or not original.uuid_in_metadata
        metadata = rest | ({"uuid": uuid} if original.uuid_in_metadata and uuid else {})
        return (uuid if in_data else ""), (None if not metadata and original.metadata_null else metadata)
    if shape is InterchangeShape.LEGACY:
        return uuid, dict(scene.metadata) if rest else None
    # The current original's CDSE and OneAtlas downloaders read data.metadata.uuid, its catalogues
    # data.uuid: a scene written for it carries both.
    return uuid, dict(scene.metadata) or None


def _scene_object(
    scene: Scene, tiles: Sequence[Tile], original: OriginalScene | None, plan: _Plan, shape: InterchangeShape
) -> dict[str, Any]:
    uuid, metadata = _uuid_and_metadata(scene, original, shape)
    own = original or OriginalScene(
        aoi=plan.aoi,
        graph_name=plan.graph_name,
        graph_config=plan.graph_config,
        instances_id=plan.instances_id,
        is_retriable=plan.is_retriable,
        storage_uri=plan.storage_uri,
    )
    default_tile = OriginalTile(graph_name=plan.tile_graph_name, is_retriable=plan.is_retriable)
    mappings = {t.source_id: (t.swath_id, t.tile_nr) for t in tiles} or own.tile_mappings or {}
    data: dict[str, Any] = {
        "date": format_go_time(scene.date),
        "graph_config": own.graph_config,
        "graph_name": own.graph_name,
        "record_id": scene.record_id,
        "tiles": {k: {"swath_id": s, "tile_nr": n} for k, (s, n) in mappings.items()},
        "uuid": uuid,
    }
    objects = [_tile_object(t, own.tiles.get(t.source_id, default_tile), shape) for t in tiles]
    if shape is InterchangeShape.LEGACY:
        data["instances_id"] = own.instances_id
        # keys the legacy original did not have, so only when they say something
        extras = {"is_retriable": own.is_retriable, "storage_uri": own.storage_uri}
        data |= {k: v for k, v in extras.items() if v} | ({} if metadata is None else {"metadata": metadata})
        properties: dict[str, Any] = {
            "GeometryWKT": scene.footprint_wkt,
            "Ingested": False,
            "OwnRecord": False,
            "ProductName": product_name_key(scene),
            "Tags": dict(scene.tags),
            "Tiles": objects or None,
        }
        # Scene.catalogue, a key of ours (only when known): the original's readers ignore unknown keys.
        if scene.catalogue:
            properties["Catalogue"] = scene.catalogue
    else:
        # omitempty on data.tiles, data.instances_id and tiles (common/payload.go, entities.go)
        if not mappings:
            del data["tiles"]
        if own.instances_id:
            data["instances_id"] = own.instances_id
        data |= {"is_retriable": own.is_retriable, "metadata": metadata, "storage_uri": own.storage_uri}
        # Scene.catalogue, a key of ours (only when known): the original's readers ignore unknown keys.
        if scene.catalogue:
            data["catalogue"] = scene.catalogue
        properties = {"tags": dict(scene.tags), "wkt": scene.footprint_wkt}
        if objects:
            properties["tiles"] = objects
    properties |= {"aoi": own.aoi, "data": data, "id": own.id, "source_id": scene.source_id}
    result: dict[str, Any] = _sorted_keys(properties)
    return result


def write_interchange(
    scenes: Sequence[Scene],
    tiles: Sequence[Tile],
    *,
    aoi: str,
    properties: Mapping[str, str] | None = None,
    graph_name: str = "",
    tile_graph_name: str = "",
    graph_config: Mapping[str, str] | None = None,
    is_retriable: bool = False,
    storage_uri: str = "",
    instances_id: Mapping[str, str] | None = None,
    shape: InterchangeShape = InterchangeShape.CURRENT,
    originals: Mapping[str, OriginalScene] | None = None,
) -> dict[str, Any]:
    """The interchange document of ``scenes`` and their ``tiles``, as the original ingester writes it.

    Each tile is nested in the scene named by its ``scene_id``, in the order given. ``json.dumps``
    of the result is the file.

    Args:
        shape: ``current`` (the original since March 2025), or ``legacy`` for older originals.
        originals: per scene ``source_id``, its fields as read (``InterchangeDocument.originals``);
            they take the place of the plan-wide ``aoi``, graphs, ``graph_config``... for that scene.

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
    plan = _Plan(
        aoi=aoi,
        graph_name=graph_name,
        tile_graph_name=tile_graph_name,
        graph_config=dict(graph_config) if graph_config else None,
        instances_id=dict(instances_id) if instances_id else None,
        is_retriable=is_retriable,
        storage_uri=storage_uri,
    )
    shape = InterchangeShape(shape)
    features = []
    for i, scene in enumerate(scenes):
        own = by_scene[scene.source_id]
        original = (originals or {}).get(scene.source_id)
        features.append(
            {
                "type": "Feature",
                "id": i,
                "geometry": _feature_geometry(scene, own),
                "properties": _scene_object(scene, own, original, plan, shape),
            }
        )
    document: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if properties:
        document["properties"] = dict(properties)
    return document
