"""AOI geometry: the normal form the client sends, and the conversions both ends share.

A Geocube (v1.0.3) identifies an AOI by its exact float32 coordinate sequence, not by spatial
equality, and it does not close rings (an unclosed ring is a PostGIS error, answered UNKNOWN). So
that a re-run reuses the AOI of the first run, the client sends every geometry in one normal form:

- coordinates rounded to float32, consecutive duplicates (created by the rounding) dropped;
- exterior rings counter-clockwise, holes clockwise;
- each ring starts at its lexicographically smallest (lon, lat) vertex and is closed;
- holes, then polygons, sorted by their coordinate sequence.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from geocube_client.errors import GeocubeInvalidArgumentError

Point = tuple[float, float]
Ring = tuple[Point, ...]  # closed: first point == last point
PolygonRings = tuple[Ring, ...]  # exterior first, then holes


def _signed_area(points: list[Point]) -> float:
    """Shoelace area of an open ring: > 0 when counter-clockwise."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return total / 2.0


def _smallest_rotation(points: list[Point]) -> list[Point]:
    """The rotation starting at the smallest vertex; ties (a vertex visited twice) by the whole sequence."""
    start = min(points)
    candidates = [points[i:] + points[:i] for i, p in enumerate(points) if p == start]
    return min(candidates)


def normalize_ring(coords: np.ndarray, *, counter_clockwise: bool, where: str) -> Ring:
    """Round a ring to float32, drop repeated points, orient it, rotate it, and close it."""
    rounded = [(float(np.float32(x)), float(np.float32(y))) for x, y in coords[:, :2]]
    points: list[Point] = []
    for p in rounded:
        if not points or p != points[-1]:
            points.append(p)
    while len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if len(points) < 3:
        raise GeocubeInvalidArgumentError(
            f"{where}: ring has {len(points)} distinct vertices after rounding to float32; "
            "a ring needs at least 3: drop degenerate polygons before creating the AOI"
        )
    area = _signed_area(points)
    if (area < 0 and counter_clockwise) or (area > 0 and not counter_clockwise):
        points.reverse()
    points = _smallest_rotation(points)
    return (*points, points[0])


def normalize_polygon(polygon: Polygon, *, where: str) -> PolygonRings:
    """One polygon in normal form: exterior CCW, holes CW and sorted."""
    exterior = normalize_ring(
        shapely.get_coordinates(polygon.exterior), counter_clockwise=True, where=f"{where} exterior"
    )
    holes = sorted(
        normalize_ring(shapely.get_coordinates(ring), counter_clockwise=False, where=f"{where} hole {i}")
        for i, ring in enumerate(polygon.interiors)
    )
    return (exterior, *holes)


def normalize_aoi_wkt(geometry_wkt: str, *, field_name: str = "geometry_wkt") -> tuple[PolygonRings, ...]:
    """Parse a POLYGON or MULTIPOLYGON WKT and return its polygons in normal form (module docstring).

    Raises:
        GeocubeInvalidArgumentError: not WKT, another geometry type, empty, or a ring that collapses.
    """
    try:
        geometry = shapely.from_wkt(geometry_wkt)
    except (shapely.errors.ShapelyError, TypeError) as exc:
        raise GeocubeInvalidArgumentError(
            f"{field_name}: not valid WKT ({exc}); pass a POLYGON or MULTIPOLYGON in lon/lat"
        ) from None
    if isinstance(geometry, Polygon):
        polygons = [geometry]
    elif isinstance(geometry, MultiPolygon):
        polygons = list(geometry.geoms)
    else:
        raise GeocubeInvalidArgumentError(
            f"{field_name}: a {geometry.geom_type} cannot be an AOI; pass a POLYGON or MULTIPOLYGON"
        )
    if geometry.is_empty:
        raise GeocubeInvalidArgumentError(f"{field_name}: the geometry is empty; pass a non-empty polygon")
    return tuple(
        sorted(normalize_polygon(p, where=f"{field_name} polygon {i}") for i, p in enumerate(polygons))
    )


def polygons_to_shape(polygons: tuple[PolygonRings, ...] | list[list[list[Point]]]) -> MultiPolygon:
    """A shapely MultiPolygon from rings of (lon, lat) points (exterior first in each polygon)."""
    return MultiPolygon([Polygon(rings[0], list(rings[1:])) for rings in polygons])


def polygons_to_wkt(polygons: tuple[PolygonRings, ...] | list[list[list[Point]]]) -> str:
    """WKT of the polygons, at full precision so that float32 coordinates survive a round trip."""
    return str(shapely.to_wkt(polygons_to_shape(polygons), rounding_precision=-1))
