"""Our interchange documents against a port of the original's own reader and writer.

The port follows Go's ``encoding/json`` on the original's structs, field for field, as they are in
airbusgeo/geocube-ingester's source: ``catalog/entities/entities.go`` and ``common/payload.go``
at commit 1bc2c7ab (the *legacy* shape: no JSON tags on ``entities.Scene``/``entities.Tile``; its
``Jupyter/data/*.json`` are in that shape) and at commit 3f3113d7 (March 2025, the *current* shape,
pinned by its ``entities_test.go``; unchanged at 4edcbe33). What Go does and the port does too:

- decoding: a key fills the field whose JSON name equals it, else the one it equals case-insensitively
  (``strings.EqualFold``); unknown keys and ``json:"-"`` fields are skipped; a missing or null key
  leaves the zero value ("", 0, false, ``0001-01-01T00:00:00Z``, nil);
- encoding: fields in order, embedded structs flattened (``TileLite`` in ``Tile``, ``common.Scene`` in
  ``Scene``), ``omitempty`` drops empty maps and slices, nil maps/pointers/slices are ``null``;
  ``toFeature`` then round-trips the scene through a ``map[string]interface{}``, which sorts the keys;
- the reader (``Scenes.UnmarshalJSON``/``fromFeature``) reads each feature's ``properties`` only: the
  GeoJSON geometry and the top-level ``properties`` are not read back.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from catalogue.interchange import (
    InterchangeShape,
    parse_go_time,
    read_interchange,
    write_document,
    write_interchange,
)

# A field: (Go name, JSON key: None for an untagged field, "-" for a skipped one, kind, omitempty).
# Kinds: "str", "int", "bool", "time", "map" (of strings or of anything: kept as is), ("struct", spec),
# ("embed", spec), ("ptr", spec), ("slice", spec), ("mapof", spec).
Field = tuple[str, str | None, Any, bool]
Spec = list[Field]

GO_ZERO_TIME = "0001-01-01T00:00:00Z"

TILE_LITE: Spec = [
    ("SourceID", None, "str", False),
    ("SceneID", None, "str", False),
    ("Date", None, "time", False),
]
TILE_MAPPING: Spec = [("SwathID", "swath_id", "str", False), ("TileNr", "tile_nr", "int", False)]

LEGACY_TILE_ATTRS: Spec = [
    ("SwathID", "swath_id", "str", False),
    ("TileNr", "tile_nr", "int", False),
    ("GraphName", "graph_name", "str", False),
]
CURRENT_TILE_ATTRS: Spec = [*LEGACY_TILE_ATTRS, ("IsRetriable", "is_retriable", "bool", False)]

LEGACY_SCENE_ATTRS: Spec = [
    ("UUID", "uuid", "str", False),
    ("Date", "date", "time", False),
    ("TileMappings", "tiles", ("mapof", TILE_MAPPING), False),
    ("GraphName", "graph_name", "str", False),
    ("GraphConfig", "graph_config", "map", False),
    ("RecordID", "record_id", "str", False),
    ("InstancesID", "instances_id", "map", False),
]
CURRENT_SCENE_ATTRS: Spec = [
    ("UUID", "uuid", "str", False),
    ("Date", "date", "time", False),
    ("TileMappings", "tiles", ("mapof", TILE_MAPPING), True),
    ("GraphName", "graph_name", "str", False),
    ("GraphConfig", "graph_config", "map", False),
    ("RecordID", "record_id", "str", False),
    ("InstancesID", "instances_id", "map", True),
    ("Metadata", "metadata", "map", False),
    ("IsRetriable", "is_retriable", "bool", False),
    ("StorageURI", "storage_uri", "str", False),
]


def common_scene(attrs: Spec) -> Spec:
    """``common.Scene``; ``data`` is ``omitempty`` on a struct, which Go never omits."""
    return [
        ("ID", "id", "int", False),
        ("SourceID", "source_id", "str", False),
        ("AOI", "aoi", "str", False),
        ("Data", "data", ("struct", attrs), True),
    ]


LEGACY_TILE: Spec = [
    ("TileLite", None, ("embed", TILE_LITE), False),
    ("ID", None, "int", False),
    ("Data", None, ("struct", LEGACY_TILE_ATTRS), False),
    ("AnxTime", None, "int", False),
    ("GeometryWKT", None, "str", False),
    ("Previous", None, ("ptr", TILE_LITE), False),
    ("Reference", None, ("ptr", TILE_LITE), False),
    ("Ingested", None, "bool", False),
]
CURRENT_TILE: Spec = [
    ("TileLite", None, ("embed", TILE_LITE), False),
    ("ID", "id", "int", False),
    ("Data", "data", ("struct", CURRENT_TILE_ATTRS), False),
    ("AnxTime", "anx_time", "int", False),
    ("GeometryWKT", "wkt", "str", False),
    ("Previous", "previous", ("ptr", TILE_LITE), False),
    ("Reference", "reference", ("ptr", TILE_LITE), False),
    ("Ingested", "-", "bool", False),
]
LEGACY_SCENE: Spec = [
    ("Scene", None, ("embed", common_scene(LEGACY_SCENE_ATTRS)), False),
    ("ProductName", None, "str", False),
    ("Tags", None, "map", False),
    ("GeometryWKT", None, "str", False),
    ("Tiles", None, ("slice", LEGACY_TILE), False),
    ("Ingested", None, "bool", False),
    ("OwnRecord", None, "bool", False),
]
CURRENT_SCENE: Spec = [
    ("Scene", None, ("embed", common_scene(CURRENT_SCENE_ATTRS)), False),
    ("ProductName", "-", "str", False),
    ("Tags", "tags", "map", False),
    ("GeometryWKT", "wkt", "str", False),
    ("Tiles", "tiles", ("slice", CURRENT_TILE), True),
    ("Ingested", "-", "bool", False),
    ("OwnRecord", "-", "bool", False),
]


def flat(spec: Spec) -> list[Field]:
    """The fields with embedded structs promoted, as Go's encoding/json sees them."""
    out: list[Field] = []
    for name, key, kind, omitempty in spec:
        if isinstance(kind, tuple) and kind[0] == "embed" and key is None:
            out.extend(flat(kind[1]))
        else:
            out.append((name, key, kind, omitempty))
    return out


def zero(kind: Any) -> Any:
    if isinstance(kind, tuple):
        return go_decode(kind[1], {}) if kind[0] == "struct" else None
    return {"str": "", "int": 0, "bool": False, "time": GO_ZERO_TIME, "map": None}[kind]


def decode_value(kind: Any, value: Any) -> Any:
    if value is None:
        return zero(kind)
    if isinstance(kind, tuple):
        tag, spec = kind
        if tag in {"struct", "ptr"}:
            return go_decode(spec, value)
        if tag == "slice":
            return [go_decode(spec, v) for v in value]
        return {k: go_decode(spec, v) for k, v in value.items()}
    return copy.deepcopy(value)


def go_decode(spec: Spec, raw: dict[str, Any]) -> dict[str, Any]:
    """``json.Unmarshal`` of ``raw`` into the struct ``spec``: {Go field name: value}."""
    fields = [(name, name if key is None else key, kind) for name, key, kind, _ in flat(spec) if key != "-"]
    result = {name: zero(kind) for name, _, kind in fields}
    for key, value in raw.items():
        exact = [f for f in fields if f[1] == key]
        folded = [f for f in fields if f[1].casefold() == key.casefold()]
        for name, _, kind in (exact or folded)[:1]:
            result[name] = decode_value(kind, value)
    return result


def is_empty(value: Any) -> bool:
    return value in (None, "", 0, False) or value == {} or value == []


def encode_value(kind: Any, value: Any) -> Any:
    if value is None or not isinstance(kind, tuple):
        return value
    tag, spec = kind
    if tag in {"struct", "ptr"}:
        return go_encode(spec, value)
    if tag == "slice":
        return [go_encode(spec, v) for v in value]
    return {k: go_encode(spec, v) for k, v in value.items()}


def go_encode(spec: Spec, value: dict[str, Any]) -> dict[str, Any]:
    """``json.Marshal`` of the struct, keys sorted (toFeature's round trip through a map)."""
    out: dict[str, Any] = {}
    for name, key, kind, omitempty in flat(spec):
        is_struct = isinstance(kind, tuple) and kind[0] == "struct"
        if key == "-" or (omitempty and not is_struct and is_empty(value[name])):
            continue
        out[name if key is None else key] = encode_value(kind, value[name])
    return {k: out[k] for k in sorted(out)}


def go_convert(spec: Spec, value: dict[str, Any]) -> dict[str, Any]:
    """The same values in the struct ``spec``: fields of the same name copied, the others zero (what
    one original's data is in another's structs)."""
    result: dict[str, Any] = {}
    for name, key, kind, _ in flat(spec):
        if key == "-":
            continue
        item = value.get(name, zero(kind))
        if isinstance(kind, tuple) and item is not None:
            tag, inner = kind
            if tag in {"struct", "ptr"}:
                item = go_convert(inner, item)
            elif tag == "slice":
                item = [go_convert(inner, v) for v in item]
            else:
                item = {k: go_convert(inner, v) for k, v in item.items()}
        result[name] = item
    return result


def go_read(document: dict[str, Any], spec: Spec) -> list[dict[str, Any]]:
    """The original's ``Scenes.UnmarshalJSON``: every feature's properties, nothing else."""
    return [go_decode(spec, feature["properties"]) for feature in document["features"]]


def go_write(scenes: list[dict[str, Any]], geometries: list[Any], spec: Spec) -> dict[str, Any]:
    """The original's ``Scenes.MarshalJSON``, with the features' geometries given (toFeature computes
    them from the WKTs, as ``write_interchange`` does; the tests compare those on their own)."""
    features = [
        {"type": "Feature", "id": i, "geometry": geometry, "properties": go_encode(spec, scene)}
        for i, (scene, geometry) in enumerate(zip(scenes, geometries, strict=True))
    ]
    return {"type": "FeatureCollection", "features": features}


@pytest.fixture(scope="module")
def notebook_files(shared_fixtures: Path) -> dict[str, dict[str, Any]]:
    """The original's Jupyter/data scenes.json and tiles.json (legacy shape), as written by it."""
    folder = shared_fixtures / "original-ingester" / "interchange"
    return {
        name: json.loads((folder / name).read_text(encoding="utf-8"))
        for name in ("scenes.json", "tiles.json")
    }


def as_current(legacy: dict[str, Any]) -> dict[str, Any]:
    """What the current original writes for the scenes a legacy file holds: read with the legacy
    structs, written with the current ones."""
    geometries = [feature["geometry"] for feature in legacy["features"]]
    scenes = [go_convert(CURRENT_SCENE, scene) for scene in go_read(legacy, LEGACY_SCENE)]
    return go_write(scenes, geometries, CURRENT_SCENE)


NAMES = ["scenes.json", "tiles.json"]


@pytest.mark.parametrize("name", NAMES)
def test_the_current_original_reads_our_default_output_with_nothing_lost(
    notebook_files: dict[str, dict[str, Any]], name: str
) -> None:
    ours = write_document(read_interchange(notebook_files[name]), shape=InterchangeShape.CURRENT)
    theirs = go_read(notebook_files[name], LEGACY_SCENE)
    read_back = go_read(ours, CURRENT_SCENE)
    for scene, original in zip(read_back, theirs, strict=True):
        assert scene["GeometryWKT"] and scene["Tags"]
        for field in ("ID", "SourceID", "AOI", "Tags", "GeometryWKT"):
            assert scene[field] == original[field], field
        new = {"Metadata": None, "IsRetriable": False, "StorageURI": ""}  # fields the legacy one lacked
        omitted = {"TileMappings": original["Data"]["TileMappings"] or None}  # omitempty since 3f3113d7
        assert scene["Data"] == original["Data"] | new | omitted
        tiles = [{k: v for k, v in t.items() if k != "Ingested"} for t in original["Tiles"] or []]
        assert [t | {"Data": {**t["Data"], "IsRetriable": False}} for t in tiles] == (scene["Tiles"] or [])
    assert sum(len(s["Tiles"] or []) for s in read_back) == (9 if name == "tiles.json" else 0)


@pytest.mark.parametrize("name", NAMES)
def test_the_legacy_original_reads_our_legacy_output_as_its_own_file(
    notebook_files: dict[str, dict[str, Any]], name: str
) -> None:
    ours = write_document(read_interchange(notebook_files[name]), shape=InterchangeShape.LEGACY)
    assert go_read(ours, LEGACY_SCENE) == go_read(notebook_files[name], LEGACY_SCENE)


def test_across_shapes_the_original_loses_footprints_and_burst_times(notebook_files: dict[str, Any]) -> None:
    """Why the shape matters: ``wkt``/``anx_time`` and ``GeometryWKT``/``AnxTime`` never match."""
    legacy = notebook_files["tiles.json"]
    current_reads_legacy = go_read(legacy, CURRENT_SCENE)
    assert {s["GeometryWKT"] for s in current_reads_legacy} == {""}
    assert {t["AnxTime"] for s in current_reads_legacy for t in s["Tiles"]} == {0}
    assert current_reads_legacy[0]["Tags"]["relativeOrbit"] == "44", "Tags fills tags, case aside"
    legacy_reads_current = go_read(as_current(legacy), LEGACY_SCENE)
    assert {s["GeometryWKT"] for s in legacy_reads_current} == {""}
    assert {t["AnxTime"] for s in legacy_reads_current for t in s["Tiles"]} == {0}


@pytest.mark.parametrize("name", NAMES)
def test_current_to_ours_to_current_is_identical(notebook_files: dict[str, Any], name: str) -> None:
    current = as_current(notebook_files[name])
    document = read_interchange(current)
    assert document.shape is InterchangeShape.CURRENT
    assert write_document(document) == current


@pytest.mark.parametrize("name", NAMES)
def test_legacy_to_current_is_what_the_current_original_writes(
    notebook_files: dict[str, Any], name: str
) -> None:
    document = read_interchange(notebook_files[name])
    assert document.shape is InterchangeShape.LEGACY
    assert write_document(document, shape=InterchangeShape.CURRENT) == as_current(notebook_files[name])


@pytest.mark.parametrize("name", NAMES)
def test_legacy_to_ours_to_legacy_is_identical(notebook_files: dict[str, Any], name: str) -> None:
    legacy = notebook_files[name]
    assert write_document(read_interchange(legacy)) == legacy
    twice = write_document(
        read_interchange(write_document(read_interchange(legacy), shape=InterchangeShape.CURRENT))
    )
    assert write_document(read_interchange(twice), shape=InterchangeShape.LEGACY) == legacy


def scenes_of_the_current_original(notebook_files: dict[str, Any]) -> list[dict[str, Any]]:
    """The notebook's scenes as the current original holds them after its own catalogues and
    payload: each with what only the current structs have, set the ways the original sets them."""
    scenes = [
        go_convert(CURRENT_SCENE, scene) for scene in go_read(notebook_files["tiles.json"], LEGACY_SCENE)
    ]
    for scene in scenes:
        scene["Data"] |= {
            "IsRetriable": True,
            "StorageURI": "gs://bucket/denmark",
            "InstancesID": {"S1": "i-1"},
        }
        for tile in scene["Tiles"]:
            tile["Data"]["IsRetriable"] = True
    # annotations_urls: a download link in metadata, the uuid in data (catalog.go)
    scenes[0]["Data"]["Metadata"] = {"download_link": "https://example.org/S1A.zip"}
    # OneAtlas: the uuid in metadata only, with the rest of the catalogue's feature
    scenes[1]["Data"]["Metadata"] = {"uuid": scenes[1]["Data"]["UUID"], "geometry": {"type": "Point"}}
    scenes[1]["Data"]["UUID"] = ""
    # an empty metadata object is not null, and one scene has graphs of its own
    scenes[2]["Data"] |= {"Metadata": {}, "GraphName": "Other", "GraphConfig": None, "RecordID": "r-2"}
    scenes[2]["ID"], scenes[2]["Tiles"][0]["ID"], scenes[2]["Tiles"][0]["Data"]["GraphName"] = 7, 3, "T"
    return scenes


def test_what_only_the_current_structs_hold_survives_a_round_trip(notebook_files: dict[str, Any]) -> None:
    geometries = [feature["geometry"] for feature in notebook_files["tiles.json"]["features"]]
    current = go_write(scenes_of_the_current_original(notebook_files), geometries, CURRENT_SCENE)
    current["properties"] = {"next": "https://catalogue/page=2", "truncated": "true"}
    document = read_interchange(current)
    assert (
        document.scenes[1].metadata["uuid"]
        == current["features"][1]["properties"]["data"]["metadata"]["uuid"]
    )
    assert document.scenes[0].metadata["download_link"] == "https://example.org/S1A.zip"
    assert (document.is_retriable, document.storage_uri, document.instances_id) == (
        True,
        "gs://bucket/denmark",
        {"S1": "i-1"},
    )
    assert write_document(document) == current
    assert (
        write_document(
            read_interchange(write_document(document, shape=InterchangeShape.LEGACY)),
            shape=InterchangeShape.CURRENT,
        )
        == current
    )


def test_a_fresh_plan_read_by_the_current_original_has_all_it_needs(notebook_files: dict[str, Any]) -> None:
    """Written from our models alone (no originals), as ``plan`` does; a zero value where a field is
    due would be a field the original silently lacks."""
    document = read_interchange(notebook_files["tiles.json"])
    written = write_interchange(
        document.scenes,
        document.tiles,
        aoi="DenmarkDemo",
        graph_name="S1Preprocessing",
        tile_graph_name="S1BackscatterCoherence",
        graph_config={"projection": "EPSG:32632"},
        is_retriable=True,
        storage_uri="gs://bucket/denmark",
    )
    read_back = go_read(written, CURRENT_SCENE)
    by_key = {f"{t.scene_id}/{t.source_id}": t for t in document.tiles}
    for scene, ours in zip(read_back, document.scenes, strict=True):
        data = scene["Data"]
        assert (scene["SourceID"], scene["AOI"], scene["Tags"], scene["GeometryWKT"]) == (
            ours.source_id,
            "DenmarkDemo",
            ours.tags,
            ours.footprint_wkt,
        )
        assert data["Date"] != GO_ZERO_TIME and data["UUID"] == ours.metadata["uuid"]
        # the current original's CDSE and OneAtlas downloaders read the uuid from data.metadata
        assert data["Metadata"] == {"uuid": ours.metadata["uuid"]}
        assert (data["GraphName"], data["GraphConfig"], data["IsRetriable"], data["StorageURI"]) == (
            "S1Preprocessing",
            {"projection": "EPSG:32632"},
            True,
            "gs://bucket/denmark",
        )
        assert data["TileMappings"] == {
            t["SourceID"]: {"SwathID": t["Data"]["SwathID"], "TileNr": t["Data"]["TileNr"]}
            for t in scene["Tiles"]
        }
        for tile in scene["Tiles"]:
            mine = by_key[f"{tile['SceneID']}/{tile['SourceID']}"]
            assert tile["SceneID"] == ours.source_id and parse_go_time(tile["Date"]) == mine.date
            assert (tile["AnxTime"], tile["GeometryWKT"]) == (mine.anx_time, mine.footprint_wkt)
            assert tile["Data"] == {
                "SwathID": mine.swath_id,
                "TileNr": mine.tile_nr,
                "GraphName": "S1BackscatterCoherence",
                "IsRetriable": True,
            }
            for link, theirs in ((mine.previous, tile["Previous"]), (mine.reference, tile["Reference"])):
                assert (link is None) == (theirs is None)
                if link is not None:
                    assert (theirs["SourceID"], theirs["SceneID"]) == (link.source_id, link.scene_id)
                    assert parse_go_time(theirs["Date"]) == link.date
    assert sum(len(s["Tiles"]) for s in read_back) == 9
