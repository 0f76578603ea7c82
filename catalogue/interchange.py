"""The original ingester's scenes/tiles GeoJSON interchange format, read and written in both its shapes.

The original (airbusgeo/geocube-ingester, ``catalog/entities/entities.go``, pinned by its
``entities_test.go``) answers ``/catalog/scenes`` and ``/catalog/tiles`` with this document, accepts it
back as input, and its notebooks save it as ``scenes.json``/``tiles.json``. Same document here, so
either ingester reads the other's plans:

- a ``FeatureCollection`` plus an optional top-level ``properties`` map of strings (``next``...);
- one feature per scene: ``id`` (its index), ``geometry`` (the scene polygon, or a MultiPolygon of the
  scene polygon then every tile polygon when it has tiles), ``properties`` (the scene object);
- the scene object in one of two shapes (read by ``catalogue.interchange_decode``, written by
  ``catalogue.interchange_encode``): *current* (the original since its commit 3f3113d7, March 2025:
  ``{id, source_id, aoi, data, tags, wkt, tiles}``, tiles ``{SourceID, SceneID, Date, id, data,
  anx_time, wkt, previous, reference}``) or *legacy* (before: ``GeometryWKT``, ``Tags``, ``Tiles``...,
  tiles ``{..., AnxTime, GeometryWKT, Previous, ...}``);
- keys inside ``properties`` are sorted (Go round-trips the struct through a map); times are Go's
  RFC 3339 with the fraction's trailing zeros dropped (``2022-01-11T17:01:24.37Z``).

Both shapes are read (a Go-like reader: any key case, unknown keys ignored, missing keys are zero
values; wrong types are a :class:`CatalogueError` naming the key path). The current shape is written
by default, because the current original reads a legacy file without its footprints and burst times
(its tags ``wkt``/``anx_time`` match neither ``GeometryWKT`` nor ``AnxTime``), and the legacy one on
request, for originals older than 3f3113d7 (they read a current file without them, the other way round).

What our models have no field for (each scene's ``id``, ``aoi``, graphs, ``graph_config``,
``instances_id``, ``is_retriable``, ``storage_uri``, where its ``uuid`` was written, each tile's ``id``
and graph) is kept in :attr:`InterchangeDocument.originals`: a document read and written back in its
shape is the document read (modulo key order). ``Scene.catalogue`` and ``Tile.burst_id`` are keys of
ours, written only when known (``data.catalogue``/``data.burst_id`` in the current shape, ``Catalogue``
/``BurstID`` in the legacy one; the original ignores unknown keys). Still lost:
``Ingested``/``OwnRecord`` (written false in the legacy shape, ``json:"-"`` in the current one), a null
``tags`` (written ``{}``), time digits beyond the microsecond.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import shapely
from pydantic import BaseModel, Field
from shapely.geometry import MultiPolygon

from catalogue.errors import CatalogueError
from catalogue.interchange_decode import (
    GoScene,
    GoTile,
    GoTileLite,
    InterchangeShape,
    decode_scene,
    parse_go_time,
    shown,
)
from catalogue.interchange_encode import OriginalScene, OriginalTile, format_go_time, write_interchange
from catalogue.models import Constellation, Scene, Tile, TileLink, parse_constellation
from catalogue.naming import constellation_from_product_id

__all__ = [
    "InterchangeDocument",
    "InterchangeShape",
    "OriginalScene",
    "OriginalTile",
    "format_go_time",
    "parse_go_time",
    "read_interchange",
    "write_document",
    "write_interchange",
]

log = logging.getLogger(__name__)


class InterchangeDocument(BaseModel):
    """What an interchange file holds, in our models, plus the plan-wide fields the scenes repeat
    (taken from the first scene) and each scene's own (``originals``, by scene ``source_id``)."""

    scenes: list[Scene]
    tiles: list[Tile]
    properties: dict[str, str] = Field(default_factory=dict, description="Top-level properties map")
    aoi: str = Field(default="", description="AOI name of the first scene")
    graph_name: str = Field(default="", description="Scene graph of the first scene")
    tile_graph_name: str = Field(default="", description="Graph of the first tile")
    graph_config: dict[str, str] = Field(default_factory=dict, description="Graph config of the first scene")
    is_retriable: bool = Field(default=False, description="data.is_retriable of the first scene")
    storage_uri: str = Field(default="", description="data.storage_uri of the first scene")
    instances_id: dict[str, str] = Field(default_factory=dict, description="Layers' instances (first scene)")
    shape: InterchangeShape = Field(default=InterchangeShape.CURRENT, description="Shape of the first scene")
    originals: dict[str, OriginalScene] = Field(default_factory=dict, description="Per scene source_id")


def _load(source: str | Path | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogueError(f"interchange file {path}: cannot read it as JSON ({exc})") from exc
    if not isinstance(loaded, Mapping):
        raise CatalogueError(f"interchange file {path}: expected a JSON object (a FeatureCollection)")
    return loaded


def _constellation(scene: GoScene, where: str) -> Constellation:
    found = constellation_from_product_id(scene.source_id)
    tag = (scene.tags or {}).get("constellation", "")
    found = found or parse_constellation(tag)
    if found is None:
        raise CatalogueError(
            f"{where}: cannot tell the constellation of {shown(scene.source_id)} (tag constellation="
            f"{shown(tag)}); expected an S1/S2/Landsat/DS_PHR/DS_SPOT name or a constellation tag"
        )
    return found


_GEOMETRY_ERRORS = (AttributeError, TypeError, ValueError, KeyError, IndexError, shapely.errors.ShapelyError)


def _footprint(wkt: str, geometry: Any, index: int | None, where: str, key: str) -> str:
    """The WKT (checked) or, in files without it, the feature's GeoJSON geometry: whole (``index``
    None) or its polygon ``index`` (0 the scene, then one per tile)."""
    if wkt:
        try:
            shapely.from_wkt(wkt)
        except _GEOMETRY_ERRORS as exc:
            raise CatalogueError(
                f"{where}.{key}: not valid WKT ({str(exc)[:100]}; got {shown(wkt)})"
            ) from None
        return wkt
    try:
        shape = shapely.geometry.shape(geometry)
        parts = list(shape.geoms) if isinstance(shape, MultiPolygon) else [shape]
        text = str(shape.wkt) if index is None else str(parts[index].wkt) if index < len(parts) else ""
    except _GEOMETRY_ERRORS as exc:
        raise CatalogueError(f"{where}: no {key} and no usable geometry ({shown(exc)})") from None
    if not text:
        raise CatalogueError(f"{where}: no {key} and no polygon {index} in the feature's geometry")
    return text


def _link(lite: GoTileLite | None) -> TileLink | None:
    if lite is None:
        return None
    return TileLink(source_id=lite.source_id, scene_id=lite.scene_id, date=lite.date)


def _metadata(go: GoScene, where: str) -> dict[str, Any]:
    metadata: dict[str, Any] = dict(go.data.metadata or {})
    given = metadata.get("uuid")
    if go.data.uuid and given is not None and given != go.data.uuid:
        raise CatalogueError(
            f"{where}.data.metadata.uuid: {shown(given)} differs from data.uuid {shown(go.data.uuid)};"
            " keep one"
        )
    if go.data.uuid:
        metadata["uuid"] = go.data.uuid
    return metadata


def _to_scene(go: GoScene, geometry: Any, where: str) -> Scene:
    key = go.keys["wkt"]
    return Scene(
        source_id=go.source_id,
        date=go.data.date,
        constellation=_constellation(go, where),
        footprint_wkt=_footprint(go.wkt, geometry, 0 if go.tiles else None, where, key),
        tags=dict(go.tags or {}),
        metadata=_metadata(go, where),
        catalogue=go.data.catalogue or go.catalogue,
        record_id=go.data.record_id,
    )


def _to_tile(go: GoTile, scene: GoScene, geometry: Any, index: int, where: str) -> Tile:
    mapped = (scene.data.tiles or {}).get(go.lite.source_id)
    key = go.keys["wkt"]
    if go.lite.scene_id not in ("", scene.source_id):
        raise CatalogueError(
            f"{where}.{go.keys['scene_id']}: {shown(go.lite.scene_id)} is not the id of the scene "
            f"holding the tile ({shown(scene.source_id)}); a tile is listed in its own scene"
        )
    return Tile(
        source_id=go.lite.source_id,
        scene_id=go.lite.scene_id or scene.source_id,
        date=go.lite.date,
        footprint_wkt=_footprint(go.wkt, geometry, index + 1, where, key),
        swath_id=go.data.swath_id or (mapped.swath_id if mapped else ""),
        tile_nr=go.data.tile_nr or (mapped.tile_nr if mapped else 0),
        anx_time=go.anx_time,
        burst_id=go.data.burst_id if go.data.burst_id is not None else go.burst_id,
        previous=_link(go.previous),
        reference=_link(go.reference),
    )


def _original(go: GoScene) -> OriginalScene:
    metadata = go.data.metadata
    return OriginalScene(
        id=go.id,
        aoi=go.aoi,
        graph_name=go.data.graph_name,
        graph_config=go.data.graph_config,
        instances_id=go.data.instances_id,
        is_retriable=go.data.is_retriable,
        storage_uri=go.data.storage_uri,
        uuid_in_data=bool(go.data.uuid) or not (metadata and metadata.get("uuid")),
        uuid_in_metadata=bool(metadata and metadata.get("uuid")),
        metadata_null=metadata is None,
        tile_mappings=None
        if go.data.tiles is None
        else {k: (m.swath_id, m.tile_nr) for k, m in go.data.tiles.items()},
        tiles={
            t.lite.source_id: OriginalTile(
                id=t.id, graph_name=t.data.graph_name, is_retriable=t.data.is_retriable
            )
            for t in go.tiles or []
        },
    )


def _string_properties(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"properties: expected an object of strings (got {type(raw).__name__})")
    # Go declares map[string]string; a number or flag written by another tool is kept as its JSON text.
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


def read_interchange(source: str | Path | Mapping[str, Any]) -> InterchangeDocument:
    """Read a scenes or tiles document of the original ingester (either shape) or ours into our models.

    Args:
        source: a path to the JSON file, or the already parsed document.

    Raises:
        CatalogueError: not a FeatureCollection, or a feature is malformed (its key path is named).
    """
    document = _load(source)
    if document.get("type") != "FeatureCollection" or not isinstance(document.get("features"), list):
        raise CatalogueError(
            f"interchange document: type is {shown(document.get('type'))}, expected a 'FeatureCollection' "
            "with a 'features' list (the output of /catalog/scenes or /catalog/tiles)"
        )
    result = InterchangeDocument(
        scenes=[], tiles=[], properties=_string_properties(document.get("properties"))
    )
    for i, feature in enumerate(document["features"]):
        where = f"features[{i}].properties"
        if not isinstance(feature, Mapping) or not isinstance(feature.get("properties"), Mapping):
            raise CatalogueError(f"{where}: missing; every feature must carry its scene as properties")
        go = decode_scene(feature["properties"], where)
        geometry = feature.get("geometry")
        scene = _to_scene(go, geometry, where)
        if scene.source_id in result.originals:
            first = next(k for k, s in enumerate(result.scenes) if s.source_id == scene.source_id)
            raise CatalogueError(
                f"{where}.source_id: {shown(scene.source_id)} is features[{first}] already;"
                " one feature per scene"
            )
        result.scenes.append(scene)
        for j, go_tile in enumerate(go.tiles or []):
            result.tiles.append(_to_tile(go_tile, go, geometry, j, f"{where}.{go.keys['tiles']}[{j}]"))
        result.originals[scene.source_id] = _original(go)
        if i == 0:
            result.aoi, result.graph_name, result.shape = go.aoi, go.data.graph_name, go.shape
            result.graph_config = dict(go.data.graph_config or {})
            result.instances_id = dict(go.data.instances_id or {})
            result.is_retriable, result.storage_uri = go.data.is_retriable, go.data.storage_uri
            result.tile_graph_name = go.tiles[0].data.graph_name if go.tiles else ""
    log.debug("read %d scene(s), %d tile(s) (%s shape)", len(result.scenes), len(result.tiles), result.shape)
    return result


def write_document(document: InterchangeDocument, *, shape: InterchangeShape | None = None) -> dict[str, Any]:
    """``document`` written back: in the shape it was read in unless ``shape`` says otherwise, each
    scene with its own fields (``originals``)."""
    return write_interchange(
        document.scenes,
        document.tiles,
        aoi=document.aoi,
        properties=document.properties,
        graph_name=document.graph_name,
        tile_graph_name=document.tile_graph_name,
        graph_config=document.graph_config,
        is_retriable=document.is_retriable,
        storage_uri=document.storage_uri,
        instances_id=document.instances_id,
        shape=document.shape if shape is None else shape,
        originals=document.originals,
    )
