"""The ingestion payload ("AreaToIngest" of the original ingester) and its validation.

The payload is a GeoJSON object (a Feature, a FeatureCollection or a bare geometry) that also carries
the ingestion fields at its top level (original-ingester.md §1.2, §1.3). Like the original, keys are
matched case-insensitively; unlike it, an unknown key is an error (a typo must not be ignored) and the
values are checked before anything is downloaded. Every problem is reported at once, each naming its
field and the fix.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from catalogue.models import Constellation, SceneQuery, parse_constellation
from catalogue.plan import PlanRequest
from common.errors import FieldProblem, ValidationFailedError

WHOLE_PRODUCT_GRAPH = "CopyProductToStorage"
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9\-:_]+$")

# GeoJSON members that may sit beside the ingestion fields.
_GEOJSON_KEYS = {"type", "geometry", "features", "coordinates", "geometries", "properties", "bbox", "id"}
_GEOMETRY_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}


def _string_values(value: Any) -> Any:
    """A JSON object's values as strings (non-strings JSON-encoded), as the original's maps are."""
    if isinstance(value, dict):
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
    return value


class SceneType(BaseModel):
    model_config = ConfigDict(extra="forbid")

    constellation: str = Field(
        description="sentinel1|sentinel-1|sentinel2|sentinel-2|landsat89|phr|pleiades|spot"
    )
    parameters: dict[str, str] = Field(default_factory=dict, description="Catalogue filters")

    _stringify = field_validator("parameters", mode="before")(_string_values)


class LayerSpec(BaseModel):
    """Maps an output layer of the tile graph to a Geocube variable instance."""

    model_config = ConfigDict(extra="forbid")

    variable: str = ""
    instance: str = ""
    instance_id: str = ""


class Payload(BaseModel):
    """A validated ingestion request. Build it with :func:`parse_payload`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="AOI id: letters, digits, '-', ':' and '_'")
    geometry: dict[str, Any] = Field(description="The AOI as a GeoJSON geometry, EPSG:4326")
    start_time: datetime
    end_time: datetime
    scene_type: SceneType
    scene_graph_name: str = Field(default=WHOLE_PRODUCT_GRAPH)
    tile_graph_name: str = Field(default="")
    graph_config: dict[str, str] = Field(default_factory=dict)
    layers: dict[str, LayerSpec] = Field(default_factory=dict)
    record_tags: dict[str, str] = Field(default_factory=dict)
    annotations_urls: list[str] = Field(default_factory=list)
    is_retriable: bool = False
    retry_count: int = Field(default=0, ge=0, le=100)
    page: int = Field(default=0, ge=0)
    limit: int = Field(default=0, ge=0)
    storage_uri: str = ""

    @field_validator("start_time", "end_time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    _config_strings = field_validator("graph_config", mode="before")(_string_values)

    @property
    def constellation(self) -> Constellation:
        found = parse_constellation(self.scene_type.constellation)
        if found is None:  # parse_payload has rejected this already
            raise ValueError(self.scene_type.constellation)
        return found

    @property
    def aoi(self) -> BaseGeometry:
        return shape(self.geometry)

    @property
    def aoi_wkt(self) -> str:
        return str(self.aoi.wkt)

    def plan_request(self) -> PlanRequest:
        """What planning needs of this payload (``catalogue.plan``)."""
        return PlanRequest(
            aoi=self.name,
            query=SceneQuery(
                aoi_wkt=self.aoi_wkt,
                start=self.start_time,
                end=self.end_time,
                constellation=self.constellation,
                parameters=self.scene_type.parameters,
                page=self.page,
                limit=self.limit,
            ),
            record_tags=self.record_tags,
            # CopyProductToStorage stores whole S1 products: one tile per scene, no burst to read.
            split_bursts=self.constellation is Constellation.SENTINEL1
            and self.scene_graph_name != WHOLE_PRODUCT_GRAPH,
            annotations_urls=self.annotations_urls,
        )

    def to_original_json(self) -> dict[str, Any]:
        """The payload as the original ingester would accept it (a GeoJSON Feature)."""
        body = self.model_dump(mode="json", exclude={"geometry"})
        return {"type": "Feature", "geometry": self.geometry, **body}


_FIELD_NAMES = {name.lower(): name for name in Payload.model_fields} | {"type": "type"}
_FIX = {
    "name": "use letters, digits, '-', ':' and '_' only, e.g. \"DenmarkDemo\"",
    "start_time": 'use an RFC 3339 time such as "2022-01-01T00:00:00Z"',
    "end_time": 'use an RFC 3339 time such as "2022-01-12T00:00:00Z"',
    "scene_type": 'give {"constellation": "sentinel2", "parameters": {...}}',
}


def _geometry_of(raw: dict[str, Any], problems: list[FieldProblem]) -> dict[str, Any] | None:
    kind = raw.get("type")
    if kind is None:
        problems.append(
            FieldProblem(
                "type",
                "missing: the payload must be a GeoJSON Feature, "
                'FeatureCollection or geometry (add "type": "Feature" and "geometry")',
            )
        )
        return None
    try:
        if kind == "Feature":
            if not isinstance(raw.get("geometry"), dict):
                problems.append(
                    FieldProblem("geometry", "missing: a Feature payload needs a GeoJSON geometry")
                )
                return None
            geom = shape(raw["geometry"])
        elif kind == "FeatureCollection":
            polygons: list[Polygon] = []
            for feature in raw.get("features") or []:
                polygons.extend(_polygons(shape(feature["geometry"])))
            if not polygons:
                problems.append(FieldProblem("features", "no Polygon or MultiPolygon geometry found"))
                return None
            geom = MultiPolygon(polygons)
        elif kind in _GEOMETRY_TYPES:
            geom = shape(raw)
        else:
            problems.append(
                FieldProblem(
                    "type",
                    f"unknown GeoJSON type {kind!r}; use Feature, "
                    "FeatureCollection or a geometry type such as MultiPolygon",
                )
            )
            return None
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.ShapelyError) as exc:
        problems.append(FieldProblem("geometry", f"not a valid GeoJSON geometry ({exc})"))
        return None
    if geom.is_empty:
        problems.append(FieldProblem("geometry", "is empty; give the area to ingest"))
        return None
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        problems.append(
            FieldProblem(
                "geometry",
                f"is not valid ({reason}); fix the rings (e.g. with "
                "shapely.make_valid or a GIS 'fix geometries' tool)",
            )
        )
        return None
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        problems.append(
            FieldProblem(
                "geometry",
                f"coordinates out of EPSG:4326 bounds {geom.bounds}; give longitude, latitude in degrees",
            )
        )
        return None
    return dict(mapping(geom))


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in _polygons(g)]
    return []


def parse_payload(raw: dict[str, Any] | str | Path) -> Payload:
    """Parse and check a payload; raise ValidationFailedError listing every problem.

    Checks made here need nothing but the payload itself. Checks against the Geocube (layers) and the
    graph library are made by :func:`jobs.validation.validate_payload`.
    """
    if isinstance(raw, Path):
        raw = raw.read_text()
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValidationFailedError(
                "payload", [FieldProblem("(json)", f"not valid JSON: {exc}")]
            ) from None
    if not isinstance(raw, dict):
        raise ValidationFailedError("payload", [FieldProblem("(json)", "must be a JSON object")])

    problems: list[FieldProblem] = []
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        canonical = _FIELD_NAMES.get(key.lower())
        if key.lower() == "aoi" and "name" not in {k.lower() for k in raw}:
            problems.append(FieldProblem("aoi", 'is the legacy spelling of "name"; rename the key to "name"'))
        elif canonical is not None and canonical != "type":
            if canonical != "geometry":
                fields[canonical] = value
        elif key not in _GEOJSON_KEYS:
            problems.append(
                FieldProblem(key, "unknown field; known fields: " + ", ".join(sorted(Payload.model_fields)))
            )

    geometry = _geometry_of(raw, problems)
    fields["geometry"] = geometry or {"type": "Point", "coordinates": [0, 0]}
    model: Payload | None = None
    try:
        model = Payload.model_validate(fields)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            fix = _FIX.get(str(err["loc"][0]), "")
            msg = err["msg"] + (f"; {fix}" if fix else "")
            if err["type"] == "missing":
                msg = "missing; " + (fix or "this field is required")
            problems.append(FieldProblem(where, msg))
    if model is not None:
        problems.extend(_check_values(model))
    if problems:
        raise ValidationFailedError("payload", problems)
    assert model is not None
    return model


def _check_values(p: Payload) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if not NAME_PATTERN.match(p.name):
        problems.append(FieldProblem("name", f"wrong format {p.name!r}; {_FIX['name']}"))
    if parse_constellation(p.scene_type.constellation) is None:
        problems.append(
            FieldProblem(
                "scene_type.constellation",
                f"unknown constellation {p.scene_type.constellation!r}; use one of sentinel1, sentinel2, "
                "landsat89, phr, spot",
            )
        )
    if p.start_time >= p.end_time:
        problems.append(
            FieldProblem(
                "end_time",
                f"{p.end_time.isoformat()} is not after start_time "
                f"{p.start_time.isoformat()}; swap them or widen the interval",
            )
        )
    if not p.tile_graph_name:
        problems.append(
            FieldProblem(
                "tile_graph_name", "missing; name a built-in graph (e.g. ExtractS2Bands) or a graph JSON file"
            )
        )
    for layer, spec in p.layers.items():
        if not spec.instance_id and not (spec.variable and spec.instance):
            problems.append(
                FieldProblem(f"layers.{layer}", "give either instance_id, or variable and instance")
            )
    if p.storage_uri and not (p.storage_uri.startswith(("/", "file://", "s3://", "gs://"))):
        problems.append(
            FieldProblem(
                "storage_uri",
                f"{p.storage_uri!r} is not absolute; use /abs/path, "
                "file:///abs/path, s3://bucket/prefix or gs://bucket/prefix",
            )
        )
    return problems
