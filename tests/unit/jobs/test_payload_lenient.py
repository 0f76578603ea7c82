"""The payload: the original's harmless leniency (issue 11, item 10) and no crash nor wrong acceptance on
malformed input (issue 12, payload findings), one test per finding.

The base payload is the original's own DenmarkDemoS1.json (../shared/fixtures/original-ingester/payloads);
the product names are real ones (PROVENANCE.md).
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from catalogue.annotations import with_download_links
from catalogue.geojson import search_boxes
from catalogue.models import Constellation, Scene
from common.errors import ValidationFailedError
from jobs.payload import MAX_NAME_LENGTH, parse_payload

S1_PRODUCT = "S1A_IW_SLC__1SDV_20200511T135117_20200511T135144_032518_03C421_7768"
S2_PRODUCT = "S2A_MSIL1C_20210403T101021_N0300_R022_T33TUM_20210403T110551"
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[1.0, 43.0], [2.0, 43.0], [2.0, 44.0], [1.0, 44.0], [1.0, 43.0]]],
}


@pytest.fixture
def demo(shared_fixtures: Path) -> dict[str, Any]:
    path = shared_fixtures / "original-ingester" / "payloads" / "DenmarkDemoS1.json"
    raw: dict[str, Any] = json.loads(path.read_text())
    return raw


def problems_of(raw: Any) -> dict[str, str]:
    with pytest.raises(ValidationFailedError) as info:
        parse_payload(raw)
    return {p.field: p.message for p in info.value.problems}


def with_geometry(demo: dict[str, Any], geometry: Any) -> dict[str, Any]:
    return demo | {"geometry": geometry}


# --- issue 11 item 10: leniency of the original ------------------------------------------------------


def test_nested_keys_match_in_any_case(demo: dict[str, Any]) -> None:
    demo["Scene_Type"] = {
        "Constellation": demo["scene_type"]["constellation"],
        "Parameters": demo.pop("scene_type")["parameters"],
    }
    demo["layers"] = {"sigma0_VV": {"Variable": "BackscatterSigma0VV", "INSTANCE": "RNKell"}}
    demo["Layers"] = demo.pop("layers")
    payload = parse_payload(demo)
    assert payload.constellation is Constellation.SENTINEL1
    assert payload.scene_type.parameters["producttype"] == "SLC"
    assert payload.layers["sigma0_VV"].variable == "BackscatterSigma0VV"
    assert payload.layers["sigma0_VV"].instance == "RNKell"


def test_a_key_given_in_two_cases_is_refused_naming_both(demo: dict[str, Any]) -> None:
    demo["Name"] = "Other"
    demo["scene_type"]["Constellation"] = "sentinel2"
    problems = problems_of(demo)
    assert "'name'" in problems["Name"]
    assert "'constellation'" in problems["scene_type.Constellation"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("S2A", Constellation.SENTINEL2),
        ("S2B", Constellation.SENTINEL2),
        ("S1B", Constellation.SENTINEL1),
        ("s1a", Constellation.SENTINEL1),
        ("LC08", Constellation.LANDSAT89),
        ("LC09", Constellation.LANDSAT89),
        ("DS_PHR1A", Constellation.PHR),
        ("DS_SPOT7", Constellation.SPOT),
    ],
)
def test_a_constellation_may_be_a_product_id_prefix(
    demo: dict[str, Any], given: str, expected: Constellation
) -> None:
    demo["scene_type"] = {"constellation": given}
    assert parse_payload(demo).constellation is expected


@pytest.mark.parametrize("given", ["S3A", "sentinel3", "LC07", "landsat7", ""])
def test_an_unknown_constellation_is_still_refused(demo: dict[str, Any], given: str) -> None:
    demo["scene_type"] = {"constellation": given}
    assert "unknown constellation" in problems_of(demo)["scene_type.constellation"]


def _scene(source_id: str, constellation: Constellation, **metadata: Any) -> Scene:
    return Scene(
        source_id=source_id,
        date=datetime(2020, 5, 11, 13, 51, 17, tzinfo=UTC),
        constellation=constellation,
        footprint_wkt="POLYGON ((9 54, 11 54, 11 56, 9 56, 9 54))",
        metadata=metadata,
    )


def test_one_annotations_url_becomes_each_scenes_download_link(demo: dict[str, Any]) -> None:
    demo["annotations_urls"] = ["s3://archive/{AREA}/{YEAR}/{MONTH}/{SCENE}.zip"]
    payload = parse_payload(demo)
    scenes = [
        _scene(S1_PRODUCT, Constellation.SENTINEL1),
        _scene(S1_PRODUCT.replace("7768", "7769"), Constellation.SENTINEL1, download_link="https://cdse/x"),
        _scene("not-a-product-name", Constellation.SENTINEL1),
    ]
    linked = with_download_links(scenes, payload.annotations_urls, area=payload.name)
    assert linked[0].metadata["download_link"] == f"s3://archive/DenmarkDemo/2020/05/{S1_PRODUCT}.zip"
    assert linked[1].metadata["download_link"] == "https://cdse/x"  # a catalogue's own link is kept
    assert "download_link" not in linked[2].metadata  # its name does not fill the pattern


def test_several_annotations_urls_give_no_download_link() -> None:
    scenes = [_scene(S1_PRODUCT, Constellation.SENTINEL1)]
    assert with_download_links(scenes, ["/a/{SCENE}.zip", "/b/{SCENE}.zip"], area="A") == scenes
    assert with_download_links(scenes, [], area="A") == scenes


def test_an_annotations_url_with_a_key_the_names_lack_fails_at_validation(demo: dict[str, Any]) -> None:
    demo["annotations_urls"] = ["https://user:secret@host/{SCENE}/{TILE}.zip"]  # TILE: an S2 key
    message = problems_of(demo)["annotations_urls[0]"]
    assert "{TILE}" in message and "{SCENE}" in message
    assert "secret" not in message


@pytest.mark.parametrize(
    ("parameters", "field", "words"),
    [
        ({"cloudcoverpercentage": "[0 TO 120]"}, "cloudcoverpercentage", "<= 100"),
        ({"cloudcoverpercentage": "30"}, "cloudcoverpercentage", "[min TO max]"),
        ({"CloudCoverPercentage": "[50 TO 10]"}, "CloudCoverPercentage", "min <= max"),
        ({"producttype": "S2MSI3Z"}, "producttype", "S2MSI1C"),
        ({"relativeorbitnumber": "200"}, "relativeorbitnumber", "1 to 143"),
        ({"relativeorbitnumber": "R022"}, "relativeorbitnumber", "not an integer"),
        ({"tileid": "33TU"}, "tileid", "MGRS"),
        ({"platformname": "Sentinel-1"}, "platformname", "expected 'SENTINEL-2'"),
        ({"cloudcover": "[0 TO 30]"}, "cloudcover", "understands"),
        ({"producttype": " "}, "producttype", "empty"),
    ],
)
def test_scene_type_parameters_are_checked_at_validation(
    demo: dict[str, Any], parameters: dict[str, str], field: str, words: str
) -> None:
    demo["scene_type"] = {"constellation": "sentinel2", "parameters": parameters}
    assert words in problems_of(demo)[f"scene_type.parameters.{field}"]


def test_s1_parameters_of_another_mission_fail_and_real_ones_pass(demo: dict[str, Any]) -> None:
    assert parse_payload(demo).scene_type.parameters["relativeorbitnumber"] == "44"
    for good in ("GRD", "IW_SLC__1S", "BURST", "grd_hd"):
        demo["scene_type"]["parameters"] = {"producttype": good, "orbitdirection": "desc"}
        parse_payload(demo)
    demo["scene_type"]["parameters"] = {
        "producttype": "S2MSI1C",
        "polarisationmode": "VV XX",
        "sensoroperationalmode": "ZZ",
        "cloudcoverpercentage": "[0 TO 10]",
    }
    problems = problems_of(demo)
    assert "not a Sentinel1 product type" in problems["scene_type.parameters.producttype"]
    assert "HH, VV, HV, VH" in problems["scene_type.parameters.polarisationmode"]
    assert "EW, IW, SM, WV" in problems["scene_type.parameters.sensoroperationalmode"]
    assert "understands" in problems["scene_type.parameters.cloudcoverpercentage"]


def test_oneatlas_parameters_are_checked(demo: dict[str, Any]) -> None:
    demo["scene_type"] = {"constellation": "PHR", "parameters": {"cloudCover": "[0,80]", "GetPrice": "true"}}
    parse_payload(demo)
    demo["scene_type"]["parameters"] = {
        "cloudCover": "[0,180]",
        "incidenceAngle": "[0 TO 95]",
        "GetPrice": "y",
    }
    problems = problems_of(demo)
    assert set(problems) == {
        "scene_type.parameters.cloudCover",
        "scene_type.parameters.incidenceAngle",
        "scene_type.parameters.GetPrice",
    }


def test_parameters_given_twice_in_two_cases_are_refused(demo: dict[str, Any]) -> None:
    demo["scene_type"]["parameters"] |= {"ProductType": "GRD"}
    assert "'producttype'" in problems_of(demo)["scene_type.parameters.ProductType"]


# --- issue 12: times -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (1640995200, "not int"),
        (1.5, "not float"),
        (None, "not NoneType"),
        (["2022-01-01T00:00:00Z"], "not list"),
        ({"date": "2022-01-01"}, "not dict"),
        (True, "not bool"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
        ("9999-12-31T23:59:59-01:00", "out of range"),
        ("1969-12-31T23:59:59Z", "out of range"),
        ("2022-01-01T00:00:00", "no time zone"),
        ("2022-01-01", "no time zone"),
        ("2022-13-01T00:00:00Z", "not a valid time"),
        ("2022-01-01T23:59:60Z", "not a valid time"),
        ("01/01/2022", "not an RFC 3339 time"),
        ("", "not an RFC 3339 time"),
    ],
)
def test_malformed_times_are_refused_naming_the_field(demo: dict[str, Any], value: Any, words: str) -> None:
    demo["start_time"] = value
    message = problems_of(demo)["start_time"]
    assert words in message and "RFC 3339" in message


def test_times_with_offsets_and_fractions_are_read_in_utc(demo: dict[str, Any]) -> None:
    demo |= {"start_time": "2022-01-01t01:00:00.123456789+01:00", "end_time": "2022-01-02 00:00:00z"}
    payload = parse_payload(demo)
    assert payload.start_time == datetime(2022, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert payload.end_time == datetime(2022, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize("end", ["2021-12-31T00:00:00Z", "2022-01-01T00:00:00Z", "2022-01-01T01:00:00+01:00"])
def test_an_end_not_after_the_start_is_refused(demo: dict[str, Any], end: str) -> None:
    demo |= {"start_time": "2022-01-01T00:00:00Z", "end_time": end}
    assert "not after start_time" in problems_of(demo)["end_time"]


# --- issue 12: geometries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("geometry", "field", "words"),
    [
        (
            {"type": "Polygon", "coordinates": [[1.0, 43.0], [2.0, 43.0]]},
            "geometry.coordinates[0][0]",
            "not float",
        ),
        ({"type": "Polygon", "coordinates": [[[[1, 43]]]]}, "geometry.coordinates[0][0]", "2 or 3 numbers"),
        ({"type": "Point", "coordinates": [[1, 43]]}, "geometry.coordinates", "2 or 3 numbers"),
        ({"type": "Point", "coordinates": ["1", "43"]}, "geometry.coordinates", "numbers only"),
        ({"type": "Point", "coordinates": [True, 43]}, "geometry.coordinates", "numbers only"),
        ({"type": "Point", "coordinates": [math.nan, 43]}, "geometry.coordinates", "NaN or infinite"),
        ({"type": "Point", "coordinates": [1, math.inf]}, "geometry.coordinates", "NaN or infinite"),
        ({"type": "Point", "coordinates": [43, 100]}, "geometry.coordinates", "out of EPSG:4326 bounds"),
        ({"type": "Polygon", "coordinates": "1,43"}, "geometry.coordinates", "must be a list"),
        ({"type": "Polygon", "coordinates": []}, "geometry.coordinates", "outer ring"),
        ({"type": "Polygon"}, "geometry.coordinates", "missing"),
        ({"type": "polygon", "coordinates": []}, "geometry.type", "not a GeoJSON geometry type"),
        (
            {"type": "Polygon", "coordinates": [[[1, 43], [2, 43], [2, 44], [1, 44]]]},
            "geometry.coordinates[0]",
            "not closed",
        ),
        (
            {"type": "Polygon", "coordinates": [[[1, 43], [2, 43], [1, 43]]]},
            "geometry.coordinates[0]",
            "4 positions",
        ),
        ({"type": "LineString", "coordinates": [[1, 43]]}, "geometry.coordinates", "2 positions"),
        (
            {"type": "MultiPolygon", "coordinates": [[[[1, 43], [2, 43], [2, 44], [1, 43]]], 7]},
            "geometry.coordinates[1]",
            "list",
        ),
        ({"type": "GeometryCollection", "geometries": {}}, "geometry.geometries", "list of geometries"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "geometry",
            "Self-intersection",
        ),
    ],
)
def test_malformed_geometries_are_refused_naming_the_position(
    demo: dict[str, Any], geometry: Any, field: str, words: str
) -> None:
    assert words in problems_of(with_geometry(demo, geometry))[field]


def test_a_self_intersection_is_reported_with_its_location(demo: dict[str, Any]) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    assert "at longitude 0.5, latitude 0.5" in problems_of(with_geometry(demo, bowtie))["geometry"]


def test_nested_geometry_collections_are_bounded(demo: dict[str, Any]) -> None:
    nested: dict[str, Any] = SQUARE
    for _ in range(6):
        nested = {"type": "GeometryCollection", "geometries": [nested]}
    problems = problems_of(with_geometry(demo, nested))
    assert any("nest more than 4 levels" in m for m in problems.values())


@pytest.mark.parametrize("depth", [65, 3_000, 100_000])
def test_deep_nesting_never_reaches_the_recursion_limit(demo: dict[str, Any], depth: int) -> None:
    text = json.dumps(demo).replace('"coordinates":', '"coordinates":' + "[" * depth, 1)
    text = text.replace("]]]]}", "]]]]" + "]" * depth + "}", 1)
    assert "64 levels" in problems_of(text)["(json)"]
    deep: Any = [1.0, 43.0]
    for _ in range(depth):
        deep = [deep]
    assert "64 levels" in problems_of(with_geometry(demo, {"type": "Polygon", "coordinates": deep}))["(json)"]


def test_a_feature_collection_with_broken_features_names_each(demo: dict[str, Any]) -> None:
    raw = {k: v for k, v in demo.items() if k != "geometry"} | {"type": "FeatureCollection"}
    raw["features"] = [
        {"type": "Feature", "geometry": SQUARE},
        7,
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": "x"}},
        {"type": "Feature", "geometry": None},
    ]
    problems = problems_of(raw)
    assert set(problems) == {"features[1]", "features[2].geometry.coordinates"}


# --- issue 12: the antimeridian, big polygons ---------------------------------------------------------


def test_a_ring_jumping_over_the_antimeridian_is_refused_saying_how_to_give_it(demo: dict[str, Any]) -> None:
    fiji = {
        "type": "Polygon",
        "coordinates": [[[179, -17], [-179, -17], [-179, -16], [179, -16], [179, -17]]],
    }
    message = problems_of(with_geometry(demo, fiji))["geometry.coordinates[0]"]
    assert "from longitude 179 to -179" in message
    assert "RFC 7946 §3.1.9" in message and "MultiPolygon" in message


def test_an_aoi_cut_at_the_antimeridian_is_accepted_and_searched_as_two_boxes(demo: dict[str, Any]) -> None:
    fiji = {
        "type": "MultiPolygon",
        "coordinates": [
            [[[179, -17], [180, -17], [180, -16], [179, -16], [179, -17]]],
            [[[-180, -17], [-179, -17], [-179, -16], [-180, -16], [-180, -17]]],
        ],
    }
    payload = parse_payload(with_geometry(demo, fiji))
    assert payload.aoi.area == pytest.approx(2.0)
    boxes = search_boxes(payload.aoi)
    assert sorted(b.bounds for b in boxes) == [(-180, -17, -179, -16), (179, -17, 180, -16)]
    assert len(payload.search_boxes_wkt) == 2
    assert [b.bounds for b in search_boxes(parse_payload(demo).aoi)] == [parse_payload(demo).aoi.bounds]


@pytest.mark.slow
def test_a_polygon_of_100_000_vertices_is_validated_within_a_second(demo: dict[str, Any]) -> None:
    n = 100_000
    ring = [[10 + math.cos(2 * math.pi * i / n), 55 + math.sin(2 * math.pi * i / n)] for i in range(n)]
    ring.append(ring[0])
    text = json.dumps(with_geometry(demo, {"type": "Polygon", "coordinates": [ring]}))
    timings = []
    for _ in range(3):  # the best of 3: other processes share the machine
        started = time.perf_counter()
        payload = parse_payload(text)
        timings.append(time.perf_counter() - started)
    assert payload.aoi.area == pytest.approx(math.pi, rel=1e-3)
    assert min(timings) < 1.0, f"{min(timings):.2f} s"
    twisted = [*ring[:50_000], ring[50_001], ring[50_000], *ring[50_002:]]  # two vertices swapped
    started = time.perf_counter()
    message = problems_of(text.replace(json.dumps([ring]), json.dumps([twisted])))["geometry"]
    assert "Self-intersection at longitude" in message
    assert time.perf_counter() - started < 2.0


# --- issue 12: text, duplicate keys, names -------------------------------------------------------------


def test_duplicate_json_keys_are_refused_naming_the_key(demo: dict[str, Any]) -> None:
    text = json.dumps(demo)
    doubled = text.replace('"name": "DenmarkDemo"', '"name": "DenmarkDemo", "name": "Other"')
    assert "given twice" in problems_of(doubled)["name"]
    nested = text.replace('"producttype": "SLC"', '"producttype": "SLC", "producttype": "GRD"')
    assert "given twice" in problems_of(nested.encode())["producttype"]


def test_non_utf8_bytes_are_refused_naming_the_offset(demo: dict[str, Any], tmp_path: Path) -> None:
    data = json.dumps(demo).replace("DenmarkDemo", "Danmark\u00e6").encode("latin-1")
    assert "not UTF-8" in problems_of(data)["(json)"]
    path = tmp_path / "payload.json"
    path.write_bytes(data)
    assert "offset" in problems_of(path)["(json)"]
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(demo).encode())  # a UTF-8 byte order mark is fine
    assert parse_payload(path).name == "DenmarkDemo"


def test_nan_and_huge_integers_in_text_are_refused(demo: dict[str, Any]) -> None:
    demo["retry_count"] = 0
    text = json.dumps(demo)
    assert "RFC 8259" in problems_of(text.replace('"retry_count": 0', '"retry_count": NaN'))["(json)"]
    assert "RFC 8259" in problems_of(text.replace('"retry_count": 0', '"retry_count": -Infinity'))["(json)"]
    huge = text.replace('"retry_count": 0', '"retry_count": ' + "9" * 5000)
    assert "not valid JSON" in problems_of(huge)["(json)"]


@pytest.mark.parametrize(
    "name", ["X\n", "X\r", "\nX", "X\x00Y", "X\tY", "X Y", "../X", "X/Y", "Dänemark", ".."]
)
def test_names_with_control_characters_or_paths_are_refused(demo: dict[str, Any], name: str) -> None:
    assert "wrong format" in problems_of(demo | {"name": name})["name"]


def test_a_name_too_long_for_a_path_component_is_refused(demo: dict[str, Any]) -> None:
    assert MAX_NAME_LENGTH == 240  # 255 (NAME_MAX) - len("_YYYY-MM-DD.png")
    assert parse_payload(demo | {"name": "A" * MAX_NAME_LENGTH}).name == "A" * 240
    message = problems_of(demo | {"name": "A" * (MAX_NAME_LENGTH + 1)})["name"]
    assert "at most 240" in message


def test_keys_that_are_not_text_are_refused(demo: dict[str, Any]) -> None:
    assert "a key must be a text" in problems_of({**demo, 1: "x"})["1"]
    demo["scene_type"][2] = "y"
    assert "a key must be a text" in problems_of(demo)["scene_type.2"]


def test_holes_of_any_size_heights_and_mixed_heights(demo: dict[str, Any]) -> None:
    outer = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    holes = [[[2, 2], [4, 2], [4, 4], [2, 4], [2, 2]], [[6, 6], [8, 6], [8, 8], [6, 6]]]
    payload = parse_payload(with_geometry(demo, {"type": "Polygon", "coordinates": [outer, *holes]}))
    assert payload.aoi.area == pytest.approx(100 - 4 - 2)
    with_heights = [[x, y, 12.5] for x, y in outer]
    payload = parse_payload(with_geometry(demo, {"type": "Polygon", "coordinates": [with_heights]}))
    assert not payload.aoi.has_z and payload.aoi_wkt.startswith("POLYGON ((")
    mixed = [with_heights[0], *outer[1:]]
    problems = problems_of(with_geometry(demo, {"type": "Polygon", "coordinates": [mixed]}))
    assert "with and without height" in problems["geometry.coordinates[0]"]


@pytest.mark.parametrize(
    ("field", "value"), [("page", 10**300), ("limit", 10**7), ("retry_count", 101), ("page", -1)]
)
def test_paging_and_retries_are_bounded(demo: dict[str, Any], field: str, value: int) -> None:
    assert field in problems_of(demo | {field: value})
