"""The ingestion payload ("AreaToIngest" of the original ingester) and its validation.

The payload is a GeoJSON object (a Feature, a FeatureCollection or a bare geometry) that also carries
the ingestion fields at its top level (original-ingester.md §1.2, §1.3). Like the original, keys are
matched case-insensitively, nested ones too (``scene_type.Parameters``, ``layers.B04.Variable``), and a
constellation may be given as a product id prefix (``S2A``, ``S1B``, ``LC08``: original-ingester.md §1.5).
Unlike it, an unknown key is an error (a typo must not be ignored), and the values are checked before
anything is downloaded: every problem is reported at once, each naming its field and the fix.

Never a traceback, never a wrong acceptance: text is read by ``common.jsonload`` (UTF-8 only, a key given
twice refused, nesting bounded); times are RFC 3339 texts with a time zone, within ``TIME_RANGE``;
geometries are read by ``catalogue.geojson`` (positions, rings, antimeridian, self-intersections);
``scene_type.parameters`` by ``catalogue.parameters.check_parameters``; a name must fit in a path
component once the ingester adds its suffixes (``MAX_NAME_LENGTH``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from shapely.geometry.base import BaseGeometry

from catalogue.annotations import pattern_problems
from catalogue.geojson import build_geometry, read_geojson, search_boxes
from catalogue.models import Constellation, SceneQuery, parse_constellation
from catalogue.naming import constellation_from_product_id
from catalogue.parameters import check_parameters
from catalogue.plan import PlanRequest
from common.errors import FieldProblem, ValidationFailedError
from common.jsonload import check_depth, load_json

WHOLE_PRODUCT_GRAPH = "CopyProductToStorage"
NAME_PATTERN = re.compile(r"[a-zA-Z0-9\-:_]+")  # matched whole (fullmatch): "X\n" is refused
# The name is a path component (<storage>/<name>/..., the quicklooks' <name>_<YYYY-MM-DD>.png): NAME_MAX
# (255 bytes on ext4, XFS, APFS...) less the longest suffix the ingester adds, "_YYYY-MM-DD.png" (15).
MAX_NAME_LENGTH = 255 - len("_2022-01-01.png")
# Times outside are typos (year 1 and 9999 also overflow once converted to UTC).
TIME_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_NAIVE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")

# GeoJSON members that may sit beside the ingestion fields.
_GEOJSON_KEYS = {"type", "geometry", "features", "coordinates", "geometries", "properties", "bbox", "id"}


def parse_time(value: Any) -> datetime:
    """An RFC 3339 time (a text with a time zone, or an aware datetime) within ``TIME_RANGE``, in UTC.

    Raises:
        ValueError: anything else (a number, null, a list, a time without zone, year 1...), saying why.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("has no time zone; give it in UTC")
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if not _RFC3339.fullmatch(text):
            if _NAIVE_TIME.fullmatch(text):
                raise ValueError(f"{value!r} has no time zone; add Z (UTC) or an offset such as +01:00")
            raise ValueError(f"{value!r} is not an RFC 3339 time")
        try:
            moment = datetime.fromisoformat(text.upper())
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid time ({exc})") from None
    else:
        raise ValueError(f"must be a text, not {type(value).__name__} (epoch numbers are not read)")
    low, high = TIME_RANGE
    if not low.year <= moment.year < high.year:
        raise ValueError(f"{value!s} is out of range; give a time from {low:%Y} to {high.year - 1}")
    return moment.astimezone(UTC)


def resolve_constellation(value: str) -> Constellation | None:
    """The constellation named by ``value``: an alias (``sentinel-2``, any case), else, as the original's
    ``GetConstellationFromProductId``, a product id prefix (``S2A``, ``S1B``, ``LC08``, ``DS_PHR1A``)."""
    return parse_constellation(value) or constellation_from_product_id(value.strip().upper())


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
    # Bounded: beyond, a catalogue's offset (page x limit) overflows its integers (CDSE caps $skip at 10 000).
    page: int = Field(default=0, ge=0, le=1_000_000)
    limit: int = Field(default=0, ge=0, le=1_000_000)
    storage_uri: str = ""

    _times = field_validator("start_time", "end_time", mode="before")(parse_time)

    _config_strings = field_validator("graph_config", mode="before")(_string_values)

    @property
    def constellation(self) -> Constellation:
        found = resolve_constellation(self.scene_type.constellation)
        if found is None:  # parse_payload has rejected this already
            raise ValueError(self.scene_type.constellation)
        return found

    @property
    def aoi(self) -> BaseGeometry:
        return build_geometry(self.geometry)

    @property
    def aoi_wkt(self) -> str:
        return str(self.aoi.wkt)

    @property
    def search_boxes_wkt(self) -> list[str]:
        """The boxes to search (``catalogue.geojson.search_boxes``): two for an AOI cut at ±180°."""
        return [str(b.wkt) for b in search_boxes(self.aoi)]

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


def _lower_keys(value: Any, where: str, problems: list[FieldProblem]) -> Any:
    """A JSON object with lower-case keys, as the original's Go decoding matches them; a key given twice
    in two cases is a problem. Anything else is returned as it is (the model reports it)."""
    if not isinstance(value, dict):
        return value
    lowered: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            problems.append(FieldProblem(f"{where}.{key!r}", "a key must be a text"))
            continue
        name = key.lower()
        if name in spelled:
            problems.append(
                FieldProblem(
                    f"{where}.{key}", f"the same key as {spelled[name]!r} (keys are read in any case)"
                )
            )
            continue
        spelled[name] = key
        lowered[name] = item
    return lowered


def _read_raw(raw: dict[str, Any] | str | bytes | Path) -> dict[str, Any]:
    """The payload as a JSON object: text and bytes read strictly (``common.jsonload``)."""
    if isinstance(raw, Path):
        path = raw
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ValidationFailedError(
                "payload", [FieldProblem("(file)", f"{path} cannot be read ({exc.strerror}); check the path")]
            ) from None
    if isinstance(raw, str | bytes):
        raw = load_json(raw, what="payload")
    else:
        check_depth(raw, what="payload")
    if not isinstance(raw, dict):
        raise ValidationFailedError("payload", [FieldProblem("(json)", "must be a JSON object")])
    return raw


def parse_payload(raw: dict[str, Any] | str | bytes | Path) -> Payload:
    """Parse and check a payload; raise ValidationFailedError listing every problem.

    Checks made here need nothing but the payload itself. Checks against the Geocube (layers) and the
    graph library are made by :func:`jobs.validation.validate_payload`.
    """
    raw = _read_raw(raw)
    problems: list[FieldProblem] = []
    fields: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    lower_keys = {k.lower() for k in raw if isinstance(k, str)}
    for key, value in raw.items():
        if not isinstance(key, str):
            problems.append(FieldProblem(repr(key), "a key must be a text"))
            continue
        canonical = _FIELD_NAMES.get(key.lower())
        if canonical is not None and canonical in spelled:
            problems.append(
                FieldProblem(
                    key, f"the same field as {spelled[canonical]!r} (keys are read in any case); keep one"
                )
            )
        elif key.lower() == "aoi" and "name" not in lower_keys:
            problems.append(FieldProblem("aoi", 'is the legacy spelling of "name"; rename the key to "name"'))
        elif canonical is not None and canonical != "type":
            spelled[canonical] = key
            if canonical == "scene_type":
                fields[canonical] = _lower_keys(value, canonical, problems)
            elif canonical == "layers" and isinstance(value, dict):
                fields[canonical] = {
                    layer: _lower_keys(spec, f"layers.{layer}", problems) for layer, spec in value.items()
                }
            elif canonical != "geometry":
                fields[canonical] = value
        elif canonical == "type":
            spelled[canonical] = key
        elif key not in _GEOJSON_KEYS:
            problems.append(
                FieldProblem(key, "unknown field; known fields: " + ", ".join(sorted(Payload.model_fields)))
            )

    geometry = read_geojson(raw, problems)
    fields["geometry"] = geometry or {"type": "Point", "coordinates": [0, 0]}
    model: Payload | None = None
    try:
        model = Payload.model_validate(fields)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            fix = _FIX.get(str(err["loc"][0]), "")
            msg = str(err["msg"]).removeprefix("Value error, ")
            msg += f"; {fix}" if fix else ""
            if err["type"] == "missing":
                msg = "missing; " + (fix or "this field is required")
            problems.append(FieldProblem(where, msg))
    if model is not None:
        problems.extend(_check_values(model))
    if problems:
        raise ValidationFailedError("payload", problems)
    assert model is not None
    return model


def _check_name(name: str) -> list[FieldProblem]:
    if not NAME_PATTERN.fullmatch(name):
        return [FieldProblem("name", f"wrong format {name!r}; {_FIX['name']}")]
    if len(name) > MAX_NAME_LENGTH:
        return [
            FieldProblem(
                "name",
                f"is {len(name)} characters long; at most {MAX_NAME_LENGTH} fit in a file name once the "
                "ingester adds its suffixes (255 bytes less '_YYYY-MM-DD.png'): shorten it",
            )
        ]
    return []


def _check_values(p: Payload) -> list[FieldProblem]:
    problems = _check_name(p.name)
    constellation = resolve_constellation(p.scene_type.constellation)
    if constellation is None:
        problems.append(
            FieldProblem(
                "scene_type.constellation",
                f"unknown constellation {p.scene_type.constellation!r}; use one of sentinel1, sentinel2, "
                "landsat89, phr, spot (or a product id prefix such as S2A)",
            )
        )
    else:
        problems.extend(check_parameters(p.scene_type.parameters, constellation))
        for index, pattern in enumerate(p.annotations_urls):
            problem = pattern_problems(pattern, constellation)
            if problem is not None:
                problems.append(FieldProblem(f"annotations_urls[{index}]", problem))
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
