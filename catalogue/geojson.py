"""GeoJSON geometries of user input (an AOI), read strictly, and the boxes a catalogue searches.

``shapely.geometry.shape`` takes what it is given: a ``Point`` with a ring as coordinates, ``"1"`` or
``true`` as a coordinate, an unclosed ring (it closes it), any nesting of GeometryCollections (until
``RecursionError``). :func:`read_geometry` checks the shape of every member first (RFC 7946 §3.1), naming
the position that is wrong (``geometry.coordinates[0][3]``), so a malformed AOI is a list of problems, never
a traceback nor a silent repair:

- a position is 2 or 3 finite numbers (no string, boolean, NaN or infinity), longitude in [-180, 180] and
  latitude in [-90, 90] (EPSG:4326 degrees);
- a LineString has 2 positions or more; a linear ring 4 or more, its last equal to its first;
- GeometryCollections nest ``MAX_COLLECTION_DEPTH`` levels at most;
- an edge whose longitude jumps by more than 180° is refused: read as GeoJSON says, it goes the long way
  round the globe, while it was almost always meant to cross the antimeridian. RFC 7946 §3.1.9 says such
  a geometry is cut in two at ±180°: a MultiPolygon, one part ending at 180, the other starting at -180;
- a self-intersection is reported with its location (``shapely.is_valid_reason``, GEOS' explanation).

:func:`search_boxes` gives the boxes to search for an AOI: one, or two for an AOI cut at the antimeridian
(its envelope would otherwise span the whole globe).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape
from shapely.geometry.base import BaseGeometry

from common.errors import FieldProblem

GEOMETRY_TYPES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)
# Nesting of coordinates arrays per type: 0 a position, 1 a list of positions...
_COORDINATE_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}
# RFC 7946 §3.1.8 discourages nested collections; 4 levels leave room for odd exports.
MAX_COLLECTION_DEPTH = 4
# An edge spanning more than this in longitude is taken for an antimeridian crossing.
MAX_EDGE_LONGITUDE_DEG = 180.0
# At most this many problems of one kind are listed (a broken 10⁵-vertex ring is one problem, not 10⁵).
_MAX_LISTED = 5
_LOCATION = re.compile(r"\[\s*(-?[\d.eE+-]+)\s+(-?[\d.eE+-]+)\s*\]")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _position_problem(value: Any) -> str | None:
    if not isinstance(value, list | tuple):
        return f"a position must be [longitude, latitude], not {type(value).__name__}"
    if not 2 <= len(value) <= 3:
        return f"a position has 2 or 3 numbers [longitude, latitude(, height)], not {len(value)}"
    if not all(_is_number(v) for v in value):
        shown = ", ".join(type(v).__name__ for v in value)
        return f'a position holds numbers only, not ({shown}); write 1.5, not "1.5" or true'
    if not all(isinstance(v, int) or math.isfinite(v) for v in value):
        return "a coordinate is NaN or infinite; give finite degrees"
    lon, lat = value[0], value[1]  # compared as they are: an int of 400 digits overflows float()
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return (
            f"[{_shown(lon)}, {_shown(lat)}] is out of EPSG:4326 bounds; give [longitude in -180..180, "
            "latitude in -90..90] (in that order) in degrees"
        )
    return None


def _shown(value: float) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text if len(text) <= 20 else f"{text[:8]}...({len(text)} digits)"


def _are_good_positions(items: list[Any] | tuple[Any, ...]) -> bool:
    """Whether every item is a good position, checked at C speed (numpy): a 10⁵-vertex ring in ~10 ms."""
    if not set(map(type, items)) <= {list, tuple} or len(set(map(len, items))) != 1:
        return False
    if not set(map(type, chain.from_iterable(items))) <= {int, float}:  # bool is not int here
        return False
    try:
        coordinates = np.array(items, dtype=float)
    except OverflowError:  # an int too large for a float: the slow path names it
        return False
    if coordinates.ndim != 2 or not 2 <= coordinates.shape[1] <= 3:
        return False
    lon, lat = coordinates[:, 0], coordinates[:, 1]
    return bool(
        np.isfinite(coordinates).all()
        and ((lon >= -180) & (lon <= 180)).all()
        and ((lat >= -90) & (lat <= 90)).all()
    )


def _check_positions(items: Any, where: str, problems: list[FieldProblem]) -> bool:
    """Check a list of positions; report at most ``_MAX_LISTED`` of its bad ones."""
    if not isinstance(items, list | tuple):
        problems.append(FieldProblem(where, f"must be a list of positions, not {type(items).__name__}"))
        return False
    if _are_good_positions(items):
        return True
    mixed = len({len(p) for p in items if isinstance(p, list | tuple) and 2 <= len(p) <= 3}) > 1
    if mixed:
        problems.append(FieldProblem(where, "mixes positions with and without height; give all alike"))
    bad = 0
    for index, position in enumerate(items):
        problem = _position_problem(position)
        if problem is not None:
            bad += 1
            if bad <= _MAX_LISTED:
                problems.append(FieldProblem(f"{where}[{index}]", problem))
    if bad > _MAX_LISTED:
        problems.append(FieldProblem(where, f"{bad - _MAX_LISTED} more bad position(s) not listed"))
    return bad == 0 and not mixed


def _check_ring(ring: Any, where: str, problems: list[FieldProblem], *, is_ring: bool) -> None:
    if not _check_positions(ring, where, problems):
        return
    least = 4 if is_ring else 2
    if len(ring) < least:
        what = "a linear ring needs 4 positions or more (a triangle and its closing one)"
        problems.append(FieldProblem(where, (what if is_ring else "a LineString needs 2 positions or more")))
        return
    if is_ring and [float(v) for v in ring[0][:2]] != [float(v) for v in ring[-1][:2]]:
        problems.append(
            FieldProblem(
                where,
                f"the ring is not closed: its last position {list(ring[-1])} differs from its first "
                f"{list(ring[0])}; repeat the first position at the end (RFC 7946 §3.1.6)",
            )
        )
        return
    lons = np.fromiter((float(p[0]) for p in ring), dtype=float, count=len(ring))
    jumps = np.flatnonzero(np.abs(np.diff(lons)) > MAX_EDGE_LONGITUDE_DEG)
    if jumps.size:
        i = int(jumps[0])
        problems.append(
            FieldProblem(
                where,
                f"the edge from position {i} to {i + 1} jumps from longitude {lons[i]:g} to {lons[i + 1]:g} "
                f"({jumps.size} such edge(s)): it would go the long way round the globe. If the area "
                "crosses the antimeridian, cut it in two at ±180° and give a MultiPolygon, one polygon "
                "ending at longitude 180 and one starting at -180 (RFC 7946 §3.1.9); if it really spans "
                "that way, add vertices so that no edge spans 180° of longitude or more",
            )
        )


def _nested(value: Any, depth: int, where: str, problems: list[FieldProblem]) -> Iterator[tuple[Any, str]]:
    """The lists ``depth`` levels inside ``value`` (checking that each level is a list), with paths."""
    level: list[tuple[Any, str]] = [(value, where)]
    for _ in range(depth):
        deeper: list[tuple[Any, str]] = []
        for item, path in level:
            if not isinstance(item, list | tuple):
                problems.append(FieldProblem(path, f"must be a list, not {type(item).__name__}"))
                continue
            deeper.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
        level = deeper
    yield from level


def _check_coordinates(kind: str, coordinates: Any, where: str, problems: list[FieldProblem]) -> None:
    if kind == "Point":
        problem = _position_problem(coordinates)
        if problem is not None:
            problems.append(FieldProblem(where, problem))
        return
    # The lists of positions: a MultiPoint's or LineString's own, a Polygon's rings, a MultiPolygon's...
    depth = _COORDINATE_DEPTH[kind] - 1
    for positions, path in _nested(coordinates, depth, where, problems):
        if kind == "MultiPoint":
            _check_positions(positions, path, problems)
        else:
            _check_ring(positions, path, problems, is_ring=kind in ("Polygon", "MultiPolygon"))
    if kind in ("Polygon", "MultiPolygon"):
        for rings, path in _nested(coordinates, depth - 1, where, problems):
            if isinstance(rings, list | tuple) and not rings:
                problems.append(FieldProblem(path, "a polygon needs an outer ring"))


def _member(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def check_geometry(value: Any, where: str = "geometry") -> list[FieldProblem]:
    """The problems of a GeoJSON geometry object's members (none: ``shapely.geometry.shape`` can read it)."""
    problems: list[FieldProblem] = []
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if not isinstance(item, dict):
            problems.append(
                FieldProblem(path, f"must be a GeoJSON geometry object, not {type(item).__name__}")
            )
            continue
        kind = item.get("type")
        if kind not in GEOMETRY_TYPES:
            problems.append(
                FieldProblem(
                    _member(path, "type"),
                    f"{kind!r} is not a GeoJSON geometry type; use one of {', '.join(GEOMETRY_TYPES)}",
                )
            )
            continue
        if kind == "GeometryCollection":
            members = item.get("geometries")
            if not isinstance(members, list):
                problems.append(
                    FieldProblem(
                        _member(path, "geometries"), "a GeometryCollection needs a list of geometries"
                    )
                )
            elif depth >= MAX_COLLECTION_DEPTH:
                problems.append(
                    FieldProblem(
                        path,
                        f"GeometryCollections nest more than {MAX_COLLECTION_DEPTH} levels; flatten them",
                    )
                )
            else:
                stack.extend(
                    (m, f"{_member(path, 'geometries')}[{i}]", depth + 1) for i, m in enumerate(members)
                )
            continue
        if "coordinates" not in item:
            problems.append(
                FieldProblem(_member(path, "coordinates"), f"missing: a {kind} needs its coordinates")
            )
            continue
        _check_coordinates(kind, item["coordinates"], _member(path, "coordinates"), problems)
    return list(dict.fromkeys(problems))


def validity_problem(geom: BaseGeometry) -> str | None:
    """Why ``geom`` is not a valid area (GEOS' reason with its location), or None when it is valid."""
    if geom.is_valid:
        return None
    reason = str(shapely.is_valid_reason(geom))
    match = _LOCATION.search(reason)
    where = f" at longitude {match.group(1)}, latitude {match.group(2)}" if match else ""
    return (
        f"is not valid: {reason.split('[')[0]}{where} ({reason}); fix the rings there (e.g. with "
        "shapely.make_valid or a GIS 'fix geometries' tool)"
    )


def _polygon(rings: list[Any]) -> Polygon:
    shell, *holes = (shapely.linearrings(np.array(ring, dtype=float)) for ring in rings)
    return Polygon(shell, holes)


def build_geometry(value: dict[str, Any]) -> BaseGeometry:
    """The geometry of a checked GeoJSON object; polygons built from numpy arrays (``shape`` builds
    a Python tuple per vertex: 0.2 s for 10⁵ vertices)."""
    if value["type"] == "Polygon":
        return _polygon(value["coordinates"])
    if value["type"] == "MultiPolygon":
        return MultiPolygon([_polygon(rings) for rings in value["coordinates"]])
    return shape(value)


def read_geometry(value: Any, where: str = "geometry") -> tuple[BaseGeometry | None, list[FieldProblem]]:
    """A GeoJSON geometry object as a shapely geometry, or None and every problem found."""
    problems = check_geometry(value, where)
    if problems:
        return None, problems
    try:
        geom = build_geometry(value)
    except (ValueError, TypeError, shapely.errors.ShapelyError) as exc:  # checked above: not expected
        return None, [FieldProblem(where, f"not a valid GeoJSON geometry ({exc})")]
    if geom.is_empty:
        return None, [FieldProblem(where, "is empty; give the area to ingest")]
    problem = validity_problem(geom)
    if problem is not None:
        return None, [FieldProblem(where, problem)]
    return geom, []


def read_geojson(raw: dict[str, Any], problems: list[FieldProblem]) -> dict[str, Any] | None:
    """The area of a GeoJSON object (a Feature, a FeatureCollection whose Polygons and MultiPolygons are
    merged, or a bare geometry: original-ingester.md §1.3) as a GeoJSON geometry; None when it has
    problems, which are added to ``problems``."""
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
    found: list[FieldProblem] = []
    if kind == "Feature":
        if not isinstance(raw.get("geometry"), dict):
            problems.append(FieldProblem("geometry", "missing: a Feature payload needs a GeoJSON geometry"))
            return None
        geom, found = read_geometry(raw["geometry"], "geometry")
    elif kind == "FeatureCollection":
        geom = _merged_features(raw.get("features"), found)
    elif kind in GEOMETRY_TYPES:
        members = {k: raw[k] for k in ("type", "coordinates", "geometries") if k in raw}
        geom, found = read_geometry(members, "")
    else:
        problems.append(
            FieldProblem(
                "type",
                f"unknown GeoJSON type {kind!r}; use Feature, "
                "FeatureCollection or a geometry type such as MultiPolygon",
            )
        )
        return None
    problems.extend(found)
    if geom is None:
        return None
    if kind == "FeatureCollection" or geom.has_z:
        # Heights are not searched, and a WKT "POLYGON Z" confuses catalogues.
        return dict(mapping(shapely.force_2d(geom)))
    # The geometry as given (checked): mapping() would build a tuple per vertex (0.1 s per 10⁵).
    source = raw["geometry"] if kind == "Feature" else raw
    return {k: source[k] for k in ("type", "coordinates", "geometries") if k in source}


def _merged_features(features: Any, problems: list[FieldProblem]) -> BaseGeometry | None:
    """The Polygons and MultiPolygons of a FeatureCollection, merged (others dropped, as the original)."""
    if not isinstance(features, list):
        problems.append(FieldProblem("features", "a FeatureCollection needs a list of Features"))
        return None
    polygons: list[Polygon] = []
    for index, feature in enumerate(features):
        where = f"features[{index}]"
        if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict | None):
            problems.append(FieldProblem(where, 'must be a Feature: {"type": "Feature", "geometry": {...}}'))
            continue
        if feature.get("geometry") is None:
            continue  # an unlocated Feature (RFC 7946 §3.2)
        geom, found = read_geometry(feature["geometry"], f"{where}.geometry")
        problems.extend(found)
        if geom is not None:
            polygons.extend(polygons_of(geom))
    if problems:
        return None
    if not polygons:
        problems.append(FieldProblem("features", "no Polygon or MultiPolygon geometry found"))
        return None
    merged = MultiPolygon(polygons)
    problem = validity_problem(merged)
    if problem is not None:
        problems.append(FieldProblem("features", f"merged into one MultiPolygon, {problem}"))
        return None
    return merged


def polygons_of(geom: BaseGeometry) -> list[Polygon]:
    """The polygons of a geometry, collections flattened (without recursion)."""
    found: list[Polygon] = []
    stack = [geom]
    while stack:
        item = stack.pop()
        if isinstance(item, Polygon):
            found.append(item)
        elif isinstance(item, MultiPolygon):
            found.extend(item.geoms)
        elif hasattr(item, "geoms"):
            stack.extend(reversed(list(item.geoms)))
    return found


def touches_antimeridian(parts: Sequence[BaseGeometry]) -> bool:
    """Whether an AOI's parts are cut at the antimeridian: one ends at 180 and another starts at -180."""
    return any(p.bounds[2] >= 180 for p in parts) and any(p.bounds[0] <= -180 for p in parts)


def search_boxes(geom: BaseGeometry) -> list[Polygon]:
    """The boxes a catalogue searches for an AOI: its envelope, or for an AOI cut at the antimeridian
    (RFC 7946 §3.1.9) the envelope of its eastern parts and that of its western parts."""
    parts = polygons_of(geom) or [geom]
    if len(parts) < 2 or not touches_antimeridian(parts):
        return [box(*geom.bounds)]
    east = [p for p in parts if p.centroid.x >= 0]
    west = [p for p in parts if p.centroid.x < 0]
    return [box(*shapely.GeometryCollection(side).bounds) for side in (east, west) if side]
