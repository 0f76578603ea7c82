"""Generated malformed payloads (issue 12, item 1): each ends in a Payload that is right, or in the project's
typed error naming its fields; never another exception, never a wrong acceptance.

The seed is the original ingester's own DenmarkDemoS2.json (../shared/fixtures/original-ingester/payloads).
Hypothesis mutates it at every level: a field replaced by any JSON value (NaN, huge integers, control
characters, deep lists included), removed, or given twice in two cases; times of any shape and year;
geometries of any nesting and content; and the JSON text itself, byte by byte. An accepted payload is then
checked against what validation promises (``assert_right``).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
import shapely.affinity
import shapely.geometry
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from catalogue.geojson import polygons_of
from common.errors import ValidationFailedError
from jobs.payload import (
    MAX_NAME_LENGTH,
    NAME_PATTERN,
    TIME_RANGE,
    Payload,
    parse_payload,
    resolve_constellation,
)

FUZZ = settings(
    max_examples=1000,
    deadline=None,  # other processes share the machine
    database=None,
    derandomize=True,  # the same examples on every run: a CI failure is reproduced locally
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
SEED_PATH = Path("original-ingester") / "payloads" / "DenmarkDemoS2.json"

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**310)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        ["", " ", "X\n", "\x00", "../..", "S2A", "sentinel-2", "[0 TO 30]", "2022-01-01T00:00:00Z"]
    )
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-400, max_value=400)
coordinates = st.recursive(
    st.lists(numbers | _scalars, max_size=4),
    lambda inner: st.lists(inner, max_size=6),
    max_leaves=40,
)
geometries = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                "Point",
                "MultiPoint",
                "LineString",
                "MultiLineString",
                "Polygon",
                "MultiPolygon",
                "polygon",
                "Box",
            ]
        ),
        "coordinates": coordinates,
    }
) | st.fixed_dictionaries(
    {"type": st.just("GeometryCollection"), "geometries": st.lists(json_values, max_size=3)}
)
# hypothesis wants naive bounds; the zone is drawn apart (none: a time without zone).
_LOW, _HIGH = datetime(1, 1, 2), datetime(9999, 12, 30)  # noqa: DTZ001
zones: st.SearchStrategy[tzinfo] = st.just(UTC) | st.builds(
    timezone, st.timedeltas(timedelta(hours=-23), timedelta(hours=23))
)
times = (
    json_values
    | st.datetimes(min_value=_LOW, max_value=_HIGH, timezones=zones).map(datetime.isoformat)
    | st.datetimes(min_value=_LOW, max_value=_HIGH).map(datetime.isoformat)
    | st.text(alphabet="0123456789-:TZz+. ", max_size=30)
)


@pytest.fixture(scope="module")
def seed(shared_fixtures: Path) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((shared_fixtures / SEED_PATH).read_text())
    return raw


def _edges_jump(geom: Any) -> bool:
    for polygon in polygons_of(geom):
        for ring in (polygon.exterior, *polygon.interiors):
            lons = np.asarray(ring.coords)[:, 0]
            if lons.size and (np.abs(np.diff(lons)) > 180).any():
                return True
    return False


def assert_right(payload: Payload) -> None:
    """What an accepted payload must satisfy (the wrong acceptances issue 12 found, and the rest)."""
    assert NAME_PATTERN.fullmatch(payload.name) and len(payload.name) <= MAX_NAME_LENGTH
    for moment in (payload.start_time, payload.end_time):
        assert moment.utcoffset() == timedelta(0) and TIME_RANGE[0] <= moment < TIME_RANGE[1]
    assert payload.start_time < payload.end_time
    assert resolve_constellation(payload.scene_type.constellation) is not None
    aoi = payload.aoi
    assert not aoi.is_empty and aoi.is_valid
    minx, miny, maxx, maxy = aoi.bounds
    assert -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90
    assert all(math.isfinite(v) for v in aoi.bounds)
    assert not _edges_jump(aoi), "an edge jumping over the antimeridian was accepted"
    for spec in payload.layers.values():
        assert spec.instance_id or (spec.variable and spec.instance)
    json.dumps(payload.to_original_json(), allow_nan=False)  # it serialises (a flow parameter, the ledger)


def outcome(raw: Any) -> str:
    """'accepted' (and right) or 'refused' (a ValidationFailedError whose problems all name a field)."""
    try:
        payload = parse_payload(raw)
    except ValidationFailedError as exc:
        assert exc.problems, "an error without problems"
        assert all(p.field and p.message for p in exc.problems), exc.problems
        return "refused"
    assert_right(payload)
    return "accepted"


def _set(document: dict[str, Any], path: list[str], value: Any) -> None:
    node: Any = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


FIELD_PATHS = [
    ["name"],
    ["type"],
    ["geometry"],
    ["start_time"],
    ["end_time"],
    ["scene_type"],
    ["scene_type", "constellation"],
    ["scene_type", "parameters"],
    ["scene_type", "parameters", "cloudcoverpercentage"],
    ["scene_type", "parameters", "producttype"],
    ["scene_graph_name"],
    ["tile_graph_name"],
    ["graph_config"],
    ["layers"],
    ["layers", "B04"],
    ["record_tags"],
    ["annotations_urls"],
    ["is_retriable"],
    ["retry_count"],
    ["page"],
    ["limit"],
    ["storage_uri"],
]


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_a_field_replaced_by_any_json_value(seed: dict[str, Any], data: st.DataObject) -> None:
    raw = json.loads(json.dumps(seed))
    raw.setdefault("layers", {})["B04"] = {"variable": "S2_B04", "instance": "raw"}
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(FIELD_PATHS), label="path")
        action = data.draw(st.sampled_from(["replace", "delete", "recase"]), label="action")
        try:
            if action == "replace":
                _set(raw, path, data.draw(json_values, label="value"))
            else:
                node: Any = raw
                for key in path[:-1]:
                    node = node[key]
                value = node.pop(path[-1])
                if action == "recase":  # the same key in another case, or twice in two cases
                    node[path[-1].upper()] = value
                    if data.draw(st.booleans(), label="twice"):
                        node[path[-1]] = value
        except (KeyError, TypeError, AttributeError):
            continue  # an earlier mutation made the path vanish
    outcome(raw)


@pytest.mark.slow
@FUZZ
@given(start=times, end=times)
def test_times_of_any_shape(seed: dict[str, Any], start: Any, end: Any) -> None:
    outcome(seed | {"start_time": start, "end_time": end})


minute_zones = st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@pytest.mark.slow
@FUZZ
@given(
    start=st.datetimes(
        min_value=datetime(1970, 1, 2),  # noqa: DTZ001
        max_value=datetime(2099, 12, 30),  # noqa: DTZ001
        timezones=minute_zones,
    ),
    duration=st.timedeltas(timedelta(microseconds=1), timedelta(days=3650)),
    separator=st.sampled_from(["T", " ", "t"]),
)
def test_right_times_are_accepted_in_utc(
    seed: dict[str, Any], start: datetime, duration: timedelta, separator: str
) -> None:
    """No wrong refusal: any RFC 3339 time with a zone, in range, is read as the same instant in UTC."""
    end = start + duration
    assume(end.replace(tzinfo=None) < datetime(2099, 12, 31))  # noqa: DTZ001
    raw = seed | {"start_time": start.isoformat(separator), "end_time": end.isoformat(separator)}
    assert outcome(raw) == "accepted"
    payload = parse_payload(raw)
    assert (payload.start_time, payload.end_time) == (start, end)


@pytest.mark.slow
@FUZZ
@given(geometry=geometries | json_values, feature_collection=st.booleans())
def test_geometries_of_any_shape(seed: dict[str, Any], geometry: Any, feature_collection: bool) -> None:
    if feature_collection:
        raw = {k: v for k, v in seed.items() if k != "geometry"} | {"type": "FeatureCollection"}
        raw["features"] = [{"type": "Feature", "geometry": geometry}]
    else:
        raw = seed | {"geometry": geometry}
    outcome(raw)


@pytest.mark.slow
@FUZZ
@given(lon=st.floats(-180, 180), lat=st.floats(-89, 89), width=st.floats(0.001, 359), start=st.integers(0, 3))
def test_boxes_near_and_across_the_antimeridian(
    seed: dict[str, Any], lon: float, lat: float, width: float, start: int
) -> None:
    """A box of any width at any longitude, its vertices wrapped into [-180, 180] (as a GIS exports them):
    accepted only when no edge jumps over the antimeridian."""
    east = lon + width
    wrapped = east - 360 if east > 180 else east
    corners = [[lon, lat], [wrapped, lat], [wrapped, lat + 1], [lon, lat + 1]]
    ring = [*corners[start:], *corners[:start]]
    geometry = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    jumps = abs(wrapped - lon) > 180
    assert outcome(seed | {"geometry": geometry}) == ("refused" if jumps else "accepted")


@pytest.mark.slow
@FUZZ
@given(
    # Longitudes within 170°: no edge jumps over the antimeridian (those are refused, see above).
    points=st.lists(st.tuples(st.floats(-85, 85), st.floats(-89, 89)), min_size=3, max_size=40),
    hole_scale=st.none() | st.floats(0.1, 0.9),
    multi=st.booleans(),
)
def test_right_polygons_are_accepted_with_their_area(
    seed: dict[str, Any], points: list[tuple[float, float]], hole_scale: float | None, multi: bool
) -> None:
    """No wrong refusal: any valid polygon (a hull of random points, maybe with a hole) is accepted as is."""
    hull = shapely.MultiPoint(points).convex_hull
    assume(isinstance(hull, shapely.Polygon) and hull.area > 1e-6)
    if hole_scale is not None:
        hull = hull.difference(shapely.affinity.scale(hull, hole_scale, hole_scale))
        assume(isinstance(hull, shapely.Polygon) and hull.is_valid)
    geometry = shapely.MultiPolygon([hull]) if multi else hull
    payload = parse_payload(seed | {"geometry": shapely.geometry.mapping(geometry)})
    assert_right(payload)
    assert payload.aoi.area == pytest.approx(geometry.area)


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_the_json_text_mutated_byte_by_byte(seed: dict[str, Any], data: st.DataObject) -> None:
    text = bytearray(json.dumps(seed).encode())
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        at = data.draw(st.integers(0, len(text) - 1), label="at")
        kind = data.draw(st.sampled_from(["flip", "delete", "insert", "nest"]), label="kind")
        if kind == "flip":
            text[at] = data.draw(st.integers(0, 255), label="byte")
        elif kind == "delete":
            del text[at]
        elif kind == "insert":
            text[at:at] = data.draw(st.binary(min_size=1, max_size=4), label="bytes")
        else:
            depth = data.draw(st.integers(1, 5000), label="depth")
            text[at:at] = b"[" * depth + b"1" + b"]" * depth
    outcome(bytes(text))
