"""Payload parsing and validation (no Geocube, no Prefect)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from catalogue.models import Constellation
from common.errors import ValidationFailedError
from jobs.payload import parse_payload

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[1.0, 43.0], [2.0, 43.0], [2.0, 44.0], [1.0, 44.0], [1.0, 43.0]]],
}


def good(**changes: Any) -> dict[str, Any]:
    payload = {
        "name": "MyAOI",
        "type": "Feature",
        "geometry": SQUARE,
        "start_time": "2022-01-01T00:00:00Z",
        "end_time": "2022-01-12T00:00:00Z",
        "scene_type": {"constellation": "sentinel2", "parameters": {"cloudcoverpercentage": "[0 TO 80]"}},
        "scene_graph_name": "CopyProductToStorage",
        "tile_graph_name": "ExtractS2Bands",
        "layers": {"B04": {"variable": "S2_B04", "instance": "raw"}},
    }
    payload.update(changes)
    return payload


def problems_of(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationFailedError) as info:
        parse_payload(raw)
    return {p.field: p.message for p in info.value.problems}


@pytest.mark.parametrize(
    "name", ["DenmarkDemoS1.json", "DenmarkDemoS2.json", "DenmarkDemoLandsat.json", "OneAtlasDemo.json"]
)
def test_original_payloads_load_unchanged(shared_fixtures: Path, name: str) -> None:
    raw = json.loads((shared_fixtures / "original-ingester" / "payloads" / name).read_text())
    payload = parse_payload(raw)
    assert payload.name == raw["name"]
    assert payload.aoi.geom_type == "MultiPolygon"
    assert payload.start_time < payload.end_time
    assert set(payload.layers) == set(raw["layers"])


def test_legacy_aoi_key_is_named_with_its_fix(shared_fixtures: Path) -> None:
    raw = json.loads((shared_fixtures / "original-ingester" / "payloads" / "DenmarkDemo.json").read_text())
    problems = problems_of(raw)
    assert 'rename the key to "name"' in problems["aoi"]


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("sentinel1", Constellation.SENTINEL1),
        ("Sentinel-1", Constellation.SENTINEL1),
        ("SENTINEL2", Constellation.SENTINEL2),
        ("sentinel-2", Constellation.SENTINEL2),
        ("landsat89", Constellation.LANDSAT89),
        ("PHR", Constellation.PHR),
        ("pleiades", Constellation.PHR),
        ("spot", Constellation.SPOT),
    ],
)
def test_constellation_aliases(alias: str, expected: Constellation) -> None:
    assert parse_payload(good(scene_type={"constellation": alias})).constellation is expected


def test_every_problem_is_reported_at_once_with_its_field() -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    problems = problems_of(
        good(
            name="my aoi",
            geometry=bowtie,
            start_time="2022-02-01T00:00:00Z",
            scene_type={"constellation": "sentinel3"},
            colour="red",
        )
    )
    assert set(problems) == {"name", "geometry", "end_time", "scene_type.constellation", "colour"}
    assert "Self-intersection" in problems["geometry"]
    assert "sentinel2" in problems["scene_type.constellation"]
    assert "not after start_time" in problems["end_time"]
    assert "unknown field" in problems["colour"]


def test_keys_match_case_insensitively_like_the_original() -> None:
    raw = good()
    raw["Scene_Type"] = raw.pop("scene_type")
    raw["START_TIME"] = raw.pop("start_time")
    payload = parse_payload(raw)
    assert payload.constellation is Constellation.SENTINEL2


def test_feature_collection_merges_polygons_into_a_multipolygon() -> None:
    other = {"type": "Polygon", "coordinates": [[[3, 43], [4, 43], [4, 44], [3, 44], [3, 43]]]}
    raw = good(
        type="FeatureCollection",
        features=[
            {"type": "Feature", "geometry": SQUARE, "properties": {}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]}, "properties": {}},
            {"type": "Feature", "geometry": other, "properties": {}},
        ],
    )
    raw.pop("geometry")
    payload = parse_payload(raw)
    assert payload.aoi.geom_type == "MultiPolygon"
    assert len(payload.aoi.geoms) == 2


def test_bare_geometry_payload() -> None:
    raw = good(**SQUARE)
    raw.pop("geometry")
    assert parse_payload(raw).aoi.area == pytest.approx(1.0)


def test_missing_fields_say_how_to_fix_them() -> None:
    problems = problems_of({"type": "Feature", "geometry": SQUARE})
    assert {"name", "start_time", "end_time", "scene_type"} <= set(problems)
    assert "RFC 3339" in problems["start_time"]


def test_layer_needs_instance_id_or_variable_and_instance() -> None:
    problems = problems_of(good(layers={"B04": {"variable": "S2_B04"}}))
    assert "instance_id" in problems["layers.B04"]


def test_out_of_range_coordinates_and_relative_storage_uri() -> None:
    far = {"type": "Polygon", "coordinates": [[[200, 0], [201, 0], [201, 1], [200, 1], [200, 0]]]}
    problems = problems_of(good(geometry=far, storage_uri="data/out"))
    assert "out of EPSG:4326 bounds" in problems["geometry.coordinates[0][0]"]
    assert "not absolute" in problems["storage_uri"]


def test_invalid_json_text_is_reported() -> None:
    with pytest.raises(ValidationFailedError, match="not valid JSON"):
        parse_payload("{not json")


def test_round_trip_to_the_original_json_form() -> None:
    payload = parse_payload(good(is_retriable=True, retry_count=2))
    again = parse_payload(payload.to_original_json())
    assert again == payload
