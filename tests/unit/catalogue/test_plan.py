"""Planning: search, burst tiles from real annotations, series across products, incremental AOIs."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from shapely import wkt

from catalogue.errors import CatalogueError
from catalogue.interchange import read_interchange
from catalogue.ledger import Ledger
from catalogue.models import Constellation, Scene, SceneQuery, SearchResult
from catalogue.plan import plan_ingestion
from jobs.payload import parse_payload

P7768 = "S1A_IW_SLC__1SDV_20200511T135117_20200511T135144_032518_03C421_7768"  # IPF 3.20, track 71
BOX = "POLYGON ((-179 -89, 179 -89, 179 89, -179 89, -179 -89))"


class Fixed:
    """A catalogue answering a fixed list."""

    name = "fixed"

    def __init__(self, scenes: list[Scene]) -> None:
        self.scenes = scenes

    def supports(self, constellation: Constellation) -> bool:
        return True

    def search(self, query: SceneQuery) -> SearchResult:
        return SearchResult(scenes=self.scenes, catalogue=self.name)


def s1_scene(name: str) -> Scene:
    date = datetime.strptime(name[17:32], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return Scene(
        source_id=name,
        date=date,
        constellation=Constellation.SENTINEL1,
        footprint_wkt=BOX,
        tags={"orbitDirection": "DESCENDING", "relativeOrbit": "71"},
    )


def s1_payload(aoi: dict[str, Any], **changes: Any):
    raw = {
        "name": "Azores",
        "type": "Feature",
        "geometry": aoi,
        "start_time": "2020-01-01T00:00:00Z",
        "end_time": "2024-01-01T00:00:00Z",
        "scene_type": {"constellation": "sentinel1"},
        "scene_graph_name": "S1Preprocessing",
        "tile_graph_name": "Pass",
    } | changes
    return parse_payload(raw)


def point_box(lon: float, lat: float, half: float = 0.01, half_lat: float | None = None) -> dict[str, Any]:
    dy = half if half_lat is None else half_lat
    return {
        "type": "Polygon",
        "coordinates": [
            [
                [lon - half, lat - dy],
                [lon + half, lat - dy],
                [lon + half, lat + dy],
                [lon - half, lat + dy],
                [lon - half, lat - dy],
            ]
        ],
    }


def test_bursts_of_two_passes_over_one_place_form_series(shared_fixtures: Path, tmp_path: Path) -> None:
    # The same acquisition geometry 12 days later (one repeat cycle, 175 orbits on): the annotation
    # files of the real 7768 product, copied at test time under the next pass's product name.
    later = "S1A_IW_SLC__1SDV_20200523T135117_20200523T135144_032693_03C9A1_ABCD"
    source = shared_fixtures / "s1" / f"{P7768}.SAFE" / "annotation"
    target = tmp_path / f"{later}.SAFE" / "annotation"
    target.mkdir(parents=True)
    for xml in source.glob("s1*.xml"):
        shutil.copy(xml, target / xml.name.replace("20200511", "20200523").replace("032518", "032693"))
    patterns = [str(shared_fixtures / "s1" / "{SCENE}.SAFE"), str(tmp_path / "{SCENE}.SAFE")]
    everything = plan_ingestion(
        s1_payload(
            {
                "type": "Polygon",
                "coordinates": [
                    [[-179, -89], [0, -89], [179, -89], [179, 89], [0, 89], [-179, 89], [-179, -89]]
                ],
            }
        ).plan_request(),
        [Fixed([s1_scene(P7768)])],
        annotation_patterns=patterns,
    )
    target_tile = next(t for t in everything.tiles if t.swath_id == "IW2" and t.tile_nr == 5)
    centre = wkt.loads(target_tile.footprint_wkt).centroid
    plan = plan_ingestion(
        s1_payload(point_box(centre.x, centre.y, 0.001)).plan_request(),
        [Fixed([s1_scene(later), s1_scene(P7768)])],
        annotation_patterns=patterns,
    )
    first = {t.source_id: t for t in plan.tiles if t.scene_id == P7768}
    second = {t.source_id: t for t in plan.tiles if t.scene_id == later}
    assert first and set(first) == set(second), plan.describe()
    for tile_id, tile in second.items():
        assert tile.previous == first[tile_id].link() and tile.reference == first[tile_id].link()
        assert tile.burst_id == first[tile_id].burst_id
        assert first[tile_id].previous is None and first[tile_id].reference is None
    assert len(plan.series) == len(first) and all(s.count == 2 for s in plan.series)


def test_s1_scene_without_burst_in_the_aoi_is_dropped_with_a_reason(shared_fixtures: Path) -> None:
    pattern = str(shared_fixtures / "s1" / "{SCENE}.SAFE")
    far = point_box(10, 50)
    plan = plan_ingestion(
        s1_payload(far).plan_request(), [Fixed([s1_scene(P7768)])], annotation_patterns=[pattern]
    )
    assert plan.scenes == [] and plan.tiles == []
    assert "no burst" in plan.dropped[P7768]


def test_s1_without_annotation_patterns_is_a_clear_error() -> None:
    with pytest.raises(CatalogueError, match="annotation"):
        plan_ingestion(s1_payload(point_box(-28, 38)).plan_request(), [Fixed([s1_scene(P7768)])])


def test_copy_product_to_storage_keeps_whole_s1_products() -> None:
    payload = s1_payload(point_box(-28, 38), scene_graph_name="CopyProductToStorage")
    plan = plan_ingestion(payload.plan_request(), [Fixed([s1_scene(P7768)])])
    assert [t.source_id for t in plan.tiles] == [P7768]


def s2_scene(day: int) -> Scene:
    date = datetime(2024, 1, 1, 10, 54, tzinfo=UTC) + timedelta(days=day)
    name = f"S2A_MSIL1C_{date:%Y%m%dT%H%M%S}_N0510_R051_T31TCJ_{date:%Y%m%dT%H%M%S}"
    return Scene(
        source_id=name,
        date=date,
        constellation=Constellation.SENTINEL2,
        footprint_wkt="POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))",
    )


def s2_payload():
    return parse_payload(
        {
            "name": "Inc",
            "type": "Feature",
            "geometry": point_box(1.5, 43.5),
            "start_time": "2023-01-01T00:00:00Z",
            "end_time": "2025-01-01T00:00:00Z",
            "scene_type": {"constellation": "sentinel2"},
            "tile_graph_name": "ExtractS2Bands",
            "record_tags": {"source": "test"},
        }
    )


def test_incremental_plan_links_to_the_ledger_and_relinks_without_branching() -> None:
    first = plan_ingestion(s2_payload().plan_request(), [Fixed([s2_scene(10), s2_scene(20)])])
    ledger = Ledger(aoi="Inc")
    ledger.record(first.scenes, first.tiles, {t.key: "DONE" for t in first.tiles})
    # Later: one newer acquisition, one older than the existing root, and the known ones again.
    again = plan_ingestion(
        s2_payload().plan_request(),
        [Fixed([s2_scene(0), s2_scene(10), s2_scene(20), s2_scene(30)])],
        ledger=ledger,
    )
    by_day = {t.date.day: t for t in again.tiles}
    assert sorted(by_day) == [1, 11, 31], "new tiles and the relinked old root; day 21 is untouched"
    old_root = first.tiles[0]
    assert again.relinked == [old_root.key]
    assert by_day[11].previous.key == by_day[1].key and by_day[11].reference is None
    assert by_day[1].previous is None and by_day[1].reference == old_root.link()
    assert by_day[31].previous.key == first.tiles[1].key and by_day[31].reference == old_root.link()
    assert {s.date.day for s in again.scenes} == {1, 11, 31}, "the relinked tile's scene is planned again"
    assert "relinked" in again.summary()
    assert (
        s2_scene(20).source_id in again.dropped
        and "already ingested" in again.dropped[s2_scene(20).source_id]
    )


def test_plan_from_the_originals_tiles_document_keeps_its_links(shared_fixtures: Path) -> None:
    document = read_interchange(shared_fixtures / "original-ingester" / "interchange" / "tiles.json")
    payload = parse_payload(
        shared_fixtures.joinpath("original-ingester", "payloads", "DenmarkDemoS1.json").read_text()
    )
    plan = plan_ingestion(payload.plan_request(), [], document=document)
    assert len(plan.scenes) == 3 and plan.tiles == [t for t in document.tiles]
    assert plan.catalogue == "interchange document"


def test_links_lose_their_secrets_before_anything_holds_them() -> None:
    """Jobs (the child runs' parameters in the Prefect UI), the ledger and the plan get clean links."""
    found = s2_scene(10).model_copy(
        update={
            "metadata": {
                "download_link": "https://user:pa55@host.example/p.zip?token=T0K3N&format=zip",
                "assets": {"product": "s3://bucket/p.zip?X-Amz-Signature=S1GN&X-Amz-Credential=AKIA"},
                "uuid": "u-1",
            }
        }
    )
    plan = plan_ingestion(s2_payload().plan_request(), [Fixed([found])])
    (scene,) = plan.scenes
    assert scene.metadata["download_link"] == "https://host.example/p.zip?format=zip"
    assert scene.metadata["assets"] == {"product": "s3://bucket/p.zip"}
    assert scene.metadata["uuid"] == "u-1"
    text = plan.model_dump_json()
    assert all(secret not in text for secret in ("pa55", "T0K3N", "S1GN", "AKIA"))


def test_the_plan_says_how_much_it_will_download() -> None:
    sized = [
        s2_scene(day).model_copy(update={"metadata": {"size_bytes": size}})
        for day, size in ((10, 800_000_000), (20, 700_000_000))
    ]
    plan = plan_ingestion(s2_payload().plan_request(), [Fixed([*sized, s2_scene(30)])])
    assert plan.download_estimate() == (1_500_000_000, 2)
    assert "about 1.5 GB to download (2 of 3 sizes known)" in plan.summary()


def test_one_annotations_pattern_gives_each_scene_without_a_link_its_download_link() -> None:
    """The original's §2.8: with a single annotations_urls, a scene's link is that pattern filled in."""
    linked = s2_scene(20).model_copy(update={"metadata": {"download_link": "https://cat.example/own.zip"}})
    request = (
        s2_payload()
        .plan_request()
        .model_copy(
            update={"annotations_urls": ["https://mirror.example/{AREA}/{YEAR}/{SCENE}.zip?sig=S3CR3T"]}
        )
    )
    plan = plan_ingestion(request, [Fixed([s2_scene(10), linked])])
    links = {s.date.day: s.metadata.get("download_link") for s in plan.scenes}
    assert links == {
        11: f"https://mirror.example/Inc/2024/{s2_scene(10).source_id}.zip",  # and its secret gone
        21: "https://cat.example/own.zip",  # a catalogue's own link is kept
    }
