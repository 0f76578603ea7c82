"""The original ingester's scenes/tiles interchange files (catalogue.interchange), on its real output."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from catalogue.errors import CatalogueError
from catalogue.interchange import (
    InterchangeDocument,
    InterchangeShape,
    format_go_time,
    parse_go_time,
    read_interchange,
    write_document,
    write_interchange,
)
from catalogue.models import Constellation, Scene, Tile, TileLink

# The three scenes of the original's Jupyter/data/tiles.json (DenmarkDemo, relative orbit 44).
S1_FEB = "S1A_IW_SLC__1SDV_20220204T170123_20220204T170150_041766_04F863_D5BE"
S1_JAN23 = "S1A_IW_SLC__1SDV_20220123T170123_20220123T170150_041591_04F274_1609"
S1_JAN11 = "S1A_IW_SLC__1SDV_20220111T170124_20220111T170151_041416_04ECAD_F4D7"
BOX = "POLYGON ((9 54, 13 54, 13 56, 9 56, 9 54))"
BURST = "POLYGON ((9.5 54.5, 10.5 54.5, 10.5 55, 9.5 55, 9.5 54.5))"


@pytest.fixture(scope="module")
def interchange_dir(shared_fixtures: Path) -> Path:
    return shared_fixtures / "original-ingester" / "interchange"


def rewrite(document: InterchangeDocument) -> dict[str, Any]:
    return write_document(document)


def test_read_the_original_tiles_document(interchange_dir: Path) -> None:
    document = read_interchange(interchange_dir / "tiles.json")
    assert [s.source_id for s in document.scenes] == [S1_FEB, S1_JAN23, S1_JAN11]
    assert {s.constellation for s in document.scenes} == {Constellation.SENTINEL1}
    feb = document.scenes[0]
    assert feb.date == datetime(2022, 2, 4, 17, 1, 23, 133000, tzinfo=UTC)
    assert feb.metadata == {"uuid": "d82774b2-b84a-4a90-a499-94e68f92abeb"}
    assert feb.tags["relativeOrbit"] == "44"
    assert feb.footprint_wkt.startswith("MULTIPOLYGON (((9.198432 54.109722")
    assert (document.aoi, document.graph_name, document.tile_graph_name) == (
        "DenmarkDemo",
        "S1Preprocessing",
        "S1BackscatterCoherence",
    )
    assert document.graph_config["projection"] == "EPSG:32632"
    assert len(document.tiles) == 9
    first = document.tiles[0]
    assert (first.source_id, first.scene_id, first.swath_id, first.tile_nr, first.anx_time) == (
        "A44_IW1_8951",
        S1_FEB,
        "IW1",
        4,
        8951,
    )
    assert first.previous == TileLink(
        source_id="A44_IW1_8951", scene_id=S1_JAN23, date=datetime(2022, 1, 23, 17, 1, 23, 721000, tzinfo=UTC)
    )
    assert first.reference == TileLink(
        source_id="A44_IW1_8951", scene_id=S1_JAN11, date=datetime(2022, 1, 11, 17, 1, 24, 370000, tzinfo=UTC)
    )


def test_scenes_document_has_scenes_and_no_tiles(interchange_dir: Path) -> None:
    document = read_interchange(interchange_dir / "scenes.json")
    assert len(document.scenes) == 3 and document.tiles == []
    assert document.properties == {}


@pytest.mark.parametrize("name", ["scenes.json", "tiles.json"])
def test_writing_what_was_read_gives_the_original_file_byte_for_byte(
    interchange_dir: Path, name: str
) -> None:
    text = (interchange_dir / name).read_text(encoding="utf-8").strip()
    written = rewrite(read_interchange(json.loads(text)))
    assert json.dumps(written, separators=(",", ":")) == text


@pytest.mark.parametrize("name", ["scenes.json", "tiles.json"])
def test_read_write_read_gives_equal_models(interchange_dir: Path, name: str) -> None:
    document = read_interchange(interchange_dir / name)
    assert read_interchange(rewrite(document)) == document


def test_previous_and_reference_links_survive_a_round_trip(interchange_dir: Path) -> None:
    tiles = read_interchange(rewrite(read_interchange(interchange_dir / "tiles.json"))).tiles
    links = {t.key: (t.previous, t.reference) for t in tiles}
    roots = [key for key, (previous, reference) in links.items() if previous is None and reference is None]
    assert sorted(roots) == [f"{S1_JAN11}/A44_IW1_{anx}" for anx in (8951, 8979, 9007)]
    previous, reference = links[f"{S1_FEB}/A44_IW1_9007"]
    assert previous is not None and reference is not None
    assert previous.key == f"{S1_JAN23}/A44_IW1_9007"
    assert reference.key == f"{S1_JAN11}/A44_IW1_9007"
    assert reference.date == datetime(2022, 1, 11, 17, 1, 24, 370000, tzinfo=UTC)


def fresh_plan() -> tuple[list[Scene], list[Tile]]:
    """A plan as our catalogue makes it (not read from a file): two scenes, one burst series."""
    jan = Scene(
        source_id=S1_JAN11,
        date=datetime(2022, 1, 11, 17, 1, 24, 370000, tzinfo=UTC),
        constellation=Constellation.SENTINEL1,
        footprint_wkt=BOX,
        tags={"constellation": "SENTINEL1", "relativeOrbit": "44"},
        metadata={"uuid": "1f8d0b0e-0000-4000-8000-000000000001"},
    )
    feb = jan.model_copy(update={"source_id": S1_FEB, "date": datetime(2022, 2, 4, 17, 1, 23, tzinfo=UTC)})
    root = Tile(
        source_id="A44_IW1_8951",
        scene_id=S1_JAN11,
        date=jan.date,
        footprint_wkt=BURST,
        swath_id="IW1",
        tile_nr=4,
        anx_time=8951,
    )
    second = root.model_copy(
        update={"scene_id": S1_FEB, "date": feb.date, "previous": root.link(), "reference": root.link()}
    )
    return [jan, feb], [root, second]


def test_legacy_key_names_and_casing_match_the_original_notebook_files(interchange_dir: Path) -> None:
    original = json.loads((interchange_dir / "tiles.json").read_text(encoding="utf-8"))
    scenes, tiles = fresh_plan()
    written = write_interchange(
        scenes,
        tiles,
        aoi="DenmarkDemo",
        tile_graph_name="S1BackscatterCoherence",
        shape=InterchangeShape.LEGACY,
    )
    ours, theirs = written["features"][1], original["features"][0]
    assert ours.keys() == theirs.keys()
    assert ours["properties"].keys() == theirs["properties"].keys()
    assert ours["properties"]["data"].keys() == theirs["properties"]["data"].keys()
    our_tile, their_tile = ours["properties"]["Tiles"][0], theirs["properties"]["Tiles"][0]
    assert our_tile.keys() == their_tile.keys()
    assert our_tile["Data"].keys() == their_tile["Data"].keys()
    assert our_tile["Previous"].keys() == their_tile["Previous"].keys()
    assert our_tile["Previous"]["Date"] == "2022-01-11T17:01:24.37Z"
    assert our_tile["Date"] == "2022-02-04T17:01:23Z"


def test_geometry_is_the_scene_polygon_then_its_tiles() -> None:
    scenes, tiles = fresh_plan()
    features = write_interchange(scenes, tiles[1:], aoi="a")["features"]
    assert features[0]["geometry"]["type"] == "Polygon"
    assert features[0]["geometry"]["coordinates"][0][0] == [9, 54]  # Go writes 9, not 9.0
    assert "tiles" not in features[0]["properties"], "omitempty"
    assert "tiles" not in features[0]["properties"]["data"], "omitempty"
    assert features[1]["geometry"]["type"] == "MultiPolygon"
    assert len(features[1]["geometry"]["coordinates"]) == 2
    assert features[1]["properties"]["data"]["tiles"] == {"A44_IW1_8951": {"swath_id": "IW1", "tile_nr": 4}}


def test_top_level_properties_are_written_only_when_given() -> None:
    scenes, tiles = fresh_plan()
    assert "properties" not in write_interchange(scenes, tiles, aoi="a")
    written = write_interchange(scenes, tiles, aoi="a", properties={"truncated": "true", "next": "2"})
    assert read_interchange(written).properties == {"truncated": "true", "next": "2"}


def test_metadata_beyond_uuid_goes_to_data_metadata_and_comes_back() -> None:
    scenes, tiles = fresh_plan()
    link = "https://zipper.dataspace.copernicus.eu/odata/v1/Products(1f8d0b0e)/$value"
    scenes[0] = scenes[0].model_copy(update={"metadata": {**scenes[0].metadata, "download_link": link}})
    written = write_interchange(scenes, tiles, aoi="a")
    assert written["features"][0]["properties"]["data"]["metadata"]["download_link"] == link
    # the current original's CDSE downloader reads data.metadata.uuid, its catalogue data.uuid
    feb = written["features"][1]["properties"]["data"]
    assert feb["metadata"] == {"uuid": feb["uuid"]} == {"uuid": "1f8d0b0e-0000-4000-8000-000000000001"}
    assert read_interchange(written).scenes == scenes
    legacy = write_interchange(scenes, tiles, aoi="a", shape=InterchangeShape.LEGACY)
    assert legacy["features"][0]["properties"]["data"]["metadata"]["download_link"] == link
    assert "metadata" not in legacy["features"][1]["properties"]["data"], "the legacy original had none"
    assert read_interchange(legacy).scenes == scenes


def test_newer_original_fields_are_accepted(interchange_dir: Path) -> None:
    document = json.loads((interchange_dir / "tiles.json").read_text(encoding="utf-8"))
    newer = copy.deepcopy(document)
    data = newer["features"][0]["properties"]["data"]
    data |= {"is_retriable": True, "storage_uri": "gs://bucket/aoi", "metadata": {"online": True}}
    newer["features"][0]["properties"]["Tiles"][0]["Data"]["is_retriable"] = True
    scene = read_interchange(newer).scenes[0]
    assert scene.metadata == {"online": True, "uuid": "d82774b2-b84a-4a90-a499-94e68f92abeb"}


def test_constellation_from_the_tag_when_the_name_does_not_tell(interchange_dir: Path) -> None:
    document = json.loads((interchange_dir / "scenes.json").read_text(encoding="utf-8"))
    properties = document["features"][0]["properties"]
    properties["source_id"] = "a1b2c3d4-oneatlas-parent-identifier"
    properties["Tags"]["constellation"] = "PHR"
    assert read_interchange(document).scenes[0].constellation is Constellation.PHR
    properties["Tags"]["constellation"] = "unknown"
    with pytest.raises(CatalogueError, match=r"features\[0\]\.properties: cannot tell the constellation"):
        read_interchange(document)


def test_footprints_fall_back_to_the_feature_geometry(interchange_dir: Path) -> None:
    document = json.loads((interchange_dir / "tiles.json").read_text(encoding="utf-8"))
    properties = document["features"][0]["properties"]
    del properties["GeometryWKT"]
    del properties["Tiles"][1]["GeometryWKT"]
    read = read_interchange(document)
    assert read.scenes[0].footprint_wkt.startswith("POLYGON ((9.198432 54.109722")
    assert read.tiles[1].footprint_wkt.startswith("POLYGON ((8.898778 54.931917")


def test_a_malformed_field_is_named_with_its_path(interchange_dir: Path) -> None:
    document = json.loads((interchange_dir / "tiles.json").read_text(encoding="utf-8"))
    document["features"][2]["properties"]["Tiles"][1]["Date"] = "yesterday"
    with pytest.raises(CatalogueError, match=r"features\[2\]\.properties\.Tiles\[1\]\.Date: .*'yesterday'"):
        read_interchange(document)


def test_not_a_feature_collection_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="expected a 'FeatureCollection'"):
        read_interchange({"type": "Feature", "properties": {}})
    broken = tmp_path / "tiles.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(CatalogueError, match="cannot read it as JSON"):
        read_interchange(broken)


def test_a_tile_without_its_scene_is_refused() -> None:
    scenes, tiles = fresh_plan()
    with pytest.raises(CatalogueError, match=r"tiles\[1\]\.scene_id: .*04F863_D5BE.*pass its scene too"):
        write_interchange(scenes[:1], tiles, aoi="a")


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (datetime(2022, 1, 11, 17, 1, 24, 370000, tzinfo=UTC), "2022-01-11T17:01:24.37Z"),
        (datetime(2022, 2, 4, 17, 1, 23, 133000, tzinfo=UTC), "2022-02-04T17:01:23.133Z"),
        (datetime(2022, 2, 4, 17, 1, 23, tzinfo=UTC), "2022-02-04T17:01:23Z"),
        (datetime(2022, 2, 4, 17, 1, 23, 1, tzinfo=UTC), "2022-02-04T17:01:23.000001Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00Z"),
    ],
)
def test_times_are_formatted_as_go_rfc3339nano(when: datetime, text: str) -> None:
    assert format_go_time(when) == text
    assert parse_go_time(text) == when


def test_go_times_with_nanoseconds_or_offsets_are_read_in_utc() -> None:
    assert parse_go_time("2022-01-11T17:01:24.123456789Z") == datetime(
        2022, 1, 11, 17, 1, 24, 123456, tzinfo=UTC
    )
    assert parse_go_time("2022-01-11T19:01:24+02:00") == datetime(2022, 1, 11, 17, 1, 24, tzinfo=UTC)
    with pytest.raises(ValueError, match="no time zone"):
        parse_go_time("2022-01-11T17:01:24")


def test_current_key_names_are_the_original_struct_tags() -> None:
    """entities.go and common/payload.go at the original's 3f3113d7 (pinned by its entities_test.go)."""
    scenes, tiles = fresh_plan()
    written = write_interchange(scenes, tiles, aoi="DenmarkDemo", tile_graph_name="S1BackscatterCoherence")
    first, second = (f["properties"] for f in written["features"])
    assert list(second) == ["aoi", "data", "id", "source_id", "tags", "tiles", "wkt"]
    assert list(second["data"]) == [
        "date",
        "graph_config",
        "graph_name",
        "is_retriable",
        "metadata",
        "record_id",
        "storage_uri",
        "tiles",
        "uuid",
    ]
    tile = second["tiles"][0]
    assert list(tile) == [
        "Date",
        "SceneID",
        "SourceID",
        "anx_time",
        "data",
        "id",
        "previous",
        "reference",
        "wkt",
    ]
    assert list(tile["data"]) == ["graph_name", "is_retriable", "swath_id", "tile_nr"]
    assert list(tile["previous"]) == ["Date", "SceneID", "SourceID"]
    assert (tile["anx_time"], tile["wkt"]) == (8951, BURST)
    assert list(first) == ["aoi", "data", "id", "source_id", "tags", "tiles", "wkt"], "its root tile"
    assert "instances_id" not in second["data"], "omitempty"
    with_instances = write_interchange(scenes, tiles, aoi="a", instances_id={"VV": "i-1"}, is_retriable=True)
    data = with_instances["features"][0]["properties"]["data"]
    assert (data["instances_id"], data["is_retriable"]) == ({"VV": "i-1"}, True)


def test_keys_are_matched_in_any_case_as_go_does(interchange_dir: Path) -> None:
    document = json.loads((interchange_dir / "tiles.json").read_text(encoding="utf-8"))
    properties = document["features"][0]["properties"]
    properties["TAGS"] = properties.pop("Tags")
    properties["Tiles"][0]["anxtime"] = properties["Tiles"][0].pop("AnxTime")
    read = read_interchange(document)
    assert read.scenes[0].tags["relativeOrbit"] == "44"
    assert read.tiles[0].anx_time == 8951
    assert read.shape is InterchangeShape.LEGACY
