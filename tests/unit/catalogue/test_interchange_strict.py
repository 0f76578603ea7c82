"""Wrong shapes in an interchange document end in a CatalogueError naming the key path, never a traceback.

Base documents: the original's own ``Jupyter/data/tiles.json`` (legacy shape) and our current-shape
rewrite of it. Hypothesis then breaks one place at a time: a value replaced by any JSON (with WKT
and RFC 3339 look-alikes among them), a key removed, or a key renamed to another case.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalogue.errors import CatalogueError
from catalogue.interchange import InterchangeShape, read_interchange, write_document
from catalogue.interchange_decode import parse_go_time

TRICKY_TEXT = [
    "",
    "POINT (1 2)",
    "POLYGON EMPTY",
    "MULTIPOLYGON EMPTY",
    "GEOMETRYCOLLECTION EMPTY",
    "LINESTRING (0 0, 1 1)",
    "POLYGON ((0 0, 1 0, 1 1, 0 0))",
    "POLYGON ((0 0, 1 0",
    "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
    "2022-01-11T17:01:24.37Z",
    "2022-13-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2022-01-11T17:01:24.1234567891Z",
    "2022-01-11T17:01:24",
    "S1A_IW_SLC__1SDV_20220111T170124_20220111T170151_041416_04ECAD_F4D7",
    "uuid",
]

GEOJSON_LIKE = st.fixed_dictionaries(
    {"type": st.sampled_from(["Polygon", "MultiPolygon", "Point", "Nonsense"])},
    optional={"coordinates": st.recursive(st.floats(-200, 200) | st.integers(), st.lists, max_leaves=12)},
)

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(TRICKY_TEXT)
    | GEOJSON_LIKE,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in the document, the root excluded."""
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        found.append((*prefix, key))
        found.extend(paths(child, (*prefix, key)))
    return found


@pytest.fixture(scope="module")
def base_documents(shared_fixtures: Path) -> list[dict[str, Any]]:
    legacy = json.loads(
        (shared_fixtures / "original-ingester/interchange/tiles.json").read_text(encoding="utf-8")
    )
    current = write_document(read_interchange(legacy), shape=InterchangeShape.CURRENT)
    return [legacy, current]


# A message starts with where the problem is: a key path, the document, or its top-level properties.
WHERE = re.compile(r"^(features\[\d+\]\.properties|interchange document|properties)")


def check_reads_or_names_the_path(document: dict[str, Any]) -> None:
    try:
        read = read_interchange(document)
    except CatalogueError as exc:
        message = str(exc)
        assert WHERE.match(message), message
        assert len(message) < 400, message
        return
    for shape in InterchangeShape:
        try:
            written = write_document(read, shape=shape)
        except CatalogueError as exc:  # a footprint the writer cannot draw: named, typed
            assert "footprint_wkt" in str(exc), str(exc)
            continue
        json.dumps(written)


@pytest.mark.slow  # about 10 s of CPU: 1000 documents read and written twice
@settings(
    max_examples=1000,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_one_broken_place_is_a_typed_error_naming_its_path(
    base_documents: list[dict[str, Any]], data: Any
) -> None:
    document = copy.deepcopy(data.draw(st.sampled_from(base_documents)))
    path = data.draw(st.sampled_from(paths(document)))
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    operation = data.draw(st.sampled_from(["replace", "delete", "recase"]))
    if operation == "replace" or not isinstance(parent, dict):
        parent[last] = data.draw(JSON_VALUES)
    elif operation == "delete":
        del parent[last]
    else:
        parent[data.draw(st.sampled_from([last.upper(), last.lower(), last.swapcase()]))] = parent.pop(last)
    check_reads_or_names_the_path(document)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(document=st.dictionaries(st.sampled_from(["type", "features", "properties"]), JSON_VALUES))
def test_any_top_level_object_is_read_or_refused_by_name(document: dict[str, Any]) -> None:
    check_reads_or_names_the_path(document | {"type": "FeatureCollection"})
    check_reads_or_names_the_path(document)


def test_two_keys_for_one_field_must_agree(base_documents: list[dict[str, Any]]) -> None:
    document = copy.deepcopy(base_documents[1])
    scene = document["features"][1]["properties"]
    scene["GeometryWKT"] = scene["wkt"]
    assert read_interchange(document).scenes[1].footprint_wkt == scene["wkt"], "equal: fine"
    scene["Tags"] = {"relativeOrbit": "45"}
    with pytest.raises(CatalogueError, match=r"^features\[1\]\.properties: 'tags' and 'Tags' .* differ"):
        read_interchange(document)


@pytest.mark.parametrize(
    ("place", "value", "message"),
    [
        (
            ("tiles", 0, "anx_time"),
            8951.0,
            r"features\[0\]\.properties\.tiles\[0\]\.anx_time: expected an integer",
        ),
        (
            ("tiles", 0, "anx_time"),
            "8951",
            r"features\[0\]\.properties\.tiles\[0\]\.anx_time: expected an integer",
        ),
        (("tiles", 1, "data", "tile_nr"), True, r"\.tiles\[1\]\.data\.tile_nr: expected an integer"),
        (("tiles", 2, "previous", "Date"), "2022-01-23", r"\.tiles\[2\]\.previous\.Date: .* not an RFC 3339"),
        (("data", "date"), "0001-01-01T00:00:00+01:00", r"\.data\.date: .* out of range"),
        (
            ("data", "graph_config"),
            {"projection": 32632},
            r"\.data\.graph_config\.projection: expected a string",
        ),
        (("tags",), ["relativeOrbit"], r"features\[0\]\.properties\.tags: expected an object of strings"),
        (("wkt",), "POLYGON ((9 54, 13", r"features\[0\]\.properties\.wkt: not valid WKT"),
        (("tiles",), {"A44_IW1_8951": {}}, r"features\[0\]\.properties\.tiles: expected a list"),
        (("tiles", 0, "SceneID"), "another", r"\.tiles\[0\]\.SceneID: 'another' is not the id of the scene"),
        (
            ("data", "metadata", "uuid"),
            "another",
            r"\.data\.metadata\.uuid: 'another' differs from data\.uuid",
        ),
    ],
)
def test_each_wrong_type_names_its_key_path(
    base_documents: list[dict[str, Any]], place: tuple[Any, ...], value: Any, message: str
) -> None:
    document = copy.deepcopy(base_documents[1])
    parent = document["features"][0]["properties"]
    for key in place[:-1]:
        if isinstance(parent, dict) and parent.get(key) is None:
            parent[key] = {}
        parent = parent[key]
    parent[place[-1]] = value
    with pytest.raises(CatalogueError, match=message):
        read_interchange(document)


def test_times_out_of_go_range_are_refused_as_values() -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_go_time("0001-01-01T00:00:00+01:00")


def test_a_scene_listed_twice_is_refused(base_documents: list[dict[str, Any]]) -> None:
    document = copy.deepcopy(base_documents[1])
    document["features"].append(copy.deepcopy(document["features"][0]))
    with pytest.raises(
        CatalogueError, match=r"^features\[3\]\.properties\.source_id: .* is features\[0\] already"
    ):
        read_interchange(document)
