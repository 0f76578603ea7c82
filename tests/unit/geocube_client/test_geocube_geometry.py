"""AOI normal form: the same geometry must always give the same float32 coordinate sequence."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geocube_client.errors import GeocubeInvalidArgumentError
from geocube_client.geometry import normalize_aoi_wkt, polygons_to_wkt

SQUARE = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0))


def ring_wkt(points: list[tuple[float, float]]) -> str:
    closed = [*points, points[0]]
    return "(" + ", ".join(f"{x!r} {y!r}" for x, y in closed) + ")"


def test_rotated_start_vertex_and_reversed_orientation_give_the_same_sequence() -> None:
    corners = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    variants = []
    for start in range(4):
        rotated = corners[start:] + corners[:start]
        variants.append(normalize_aoi_wkt(f"POLYGON {'(' + ring_wkt(rotated) + ')'}"))
        variants.append(normalize_aoi_wkt(f"POLYGON {'(' + ring_wkt(rotated[::-1]) + ')'}"))
    assert all(v == ((SQUARE,),) for v in variants)


def test_exterior_is_counter_clockwise_holes_clockwise_and_rings_closed() -> None:
    ((exterior, hole),) = normalize_aoi_wkt(
        "POLYGON ((0 0, 0 10, 10 10, 10 0, 0 0), (2 2, 4 2, 4 4, 2 4, 2 2))"
    )
    assert exterior[0] == exterior[-1] and hole[0] == hole[-1]
    assert shapely.LinearRing(exterior).is_ccw
    assert not shapely.LinearRing(hole).is_ccw
    assert exterior[0] == (0.0, 0.0) and hole[0] == (2.0, 2.0)


def test_coordinates_are_rounded_to_float32() -> None:
    ((ring,),) = normalize_aoi_wkt("POLYGON ((0.1 0.1, 1.1 0.1, 1.1 1.1, 0.1 0.1))")
    assert ring[0] == (float(np.float32(0.1)), float(np.float32(0.1)))
    assert ring[0][0] != 0.1  # the float64 value would be another AOI on the server


def test_multipolygon_order_does_not_matter() -> None:
    a = "((10 10, 11 10, 11 11, 10 10))"
    b = "((0 0, 1 0, 1 1, 0 0))"
    assert normalize_aoi_wkt(f"MULTIPOLYGON ({a}, {b})") == normalize_aoi_wkt(f"MULTIPOLYGON ({b}, {a})")


def test_wkt_round_trip_keeps_float32_coordinates() -> None:
    polygons = normalize_aoi_wkt("POLYGON ((0.1 0.2, 1.3 0.2, 1.3 1.7, 0.1 0.2))")
    assert normalize_aoi_wkt(polygons_to_wkt(polygons)) == polygons


@pytest.mark.parametrize(
    ("wkt", "message"),
    [
        ("POINT (1 2)", "a Point cannot be an AOI"),
        ("POLYGON EMPTY", "the geometry is empty"),
        ("not wkt", "not valid WKT"),
        (
            "POLYGON ((100 0, 100.000001 0, 100.000001 0.000001, 100 0))",
            "distinct vertices after rounding to float32",
        ),
    ],
)
def test_invalid_geometries_are_refused_with_the_fix(wkt: str, message: str) -> None:
    with pytest.raises(GeocubeInvalidArgumentError, match=message):
        normalize_aoi_wkt(wkt)


@settings(max_examples=60, deadline=None)
@given(
    angles=st.lists(st.floats(0, 6.28), min_size=3, max_size=8, unique=True),
    cx=st.floats(-170, 170),
    cy=st.floats(-80, 80),
    start=st.integers(0, 7),
    reverse=st.booleans(),
)
def test_any_start_vertex_and_orientation_normalise_identically(
    angles: list[float], cx: float, cy: float, start: int, reverse: bool
) -> None:
    angles = sorted(angles)
    points = [(cx + 5 * float(np.cos(a)), cy + 5 * float(np.sin(a))) for a in angles]
    polygon = shapely.Polygon(points)
    if not polygon.is_valid or polygon.area < 1e-3:
        return
    reference = normalize_aoi_wkt(polygon.wkt)
    start %= len(points)
    variant = points[start:] + points[:start]
    if reverse:
        variant = variant[::-1]
    assert normalize_aoi_wkt(f"POLYGON ({ring_wkt(variant)})") == reference
