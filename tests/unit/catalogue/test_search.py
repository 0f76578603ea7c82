"""search_scenes: catalogue fallback, error reporting, and the refinement (dedupe, AOI, order)."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime
from pathlib import Path

import pystac
import pytest
import shapely

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.models import Constellation, Scene, SceneQuery, SearchResult
from catalogue.search import refine_scenes, search_scenes
from common.errors import IngestError
from providers.cdse.search import CdseODataSearcher
from providers.stac.static import StaticStacSearcher

AOI = "POLYGON ((12 45, 13 45, 13 46, 12 46, 12 45))"
INSIDE = "POLYGON ((12.5 45.5, 13.5 45.5, 13.5 46.5, 12.5 46.5, 12.5 45.5))"
FAR = "POLYGON ((20 10, 21 10, 21 11, 20 11, 20 10))"
S2_N0300 = "S2A_MSIL1C_20210403T101021_N0300_R022_T33TUM_20210403T110551"
S2_N0500 = "S2A_MSIL1C_20210403T101021_N0500_R022_T33TUM_20210403T110551"
S1 = "S1A_IW_SLC__1SDV_20200511T135117_20200511T135144_032518_03C421_7768"


def scene(
    name: str,
    *,
    footprint: str = INSIDE,
    ingestion: str = "",
    day: int = 3,
    constellation: Constellation = Constellation.SENTINEL2,
) -> Scene:
    tags = {"ingestionDate": ingestion} if ingestion else {}
    return Scene(
        source_id=name,
        date=datetime(2021, 4, day, tzinfo=UTC),
        constellation=constellation,
        footprint_wkt=footprint,
        tags=tags,
    )


def query(constellation: Constellation = Constellation.SENTINEL2) -> SceneQuery:
    return SceneQuery(
        aoi_wkt=AOI,
        start=datetime(2021, 4, 1, tzinfo=UTC),
        end=datetime(2021, 4, 15, tzinfo=UTC),
        constellation=constellation,
    )


class FakeCatalogue:
    """A Searcher that answers ``scenes`` or raises ``error``; it counts its calls."""

    def __init__(
        self,
        name: str,
        *,
        scenes: list[Scene] | None = None,
        error: IngestError | None = None,
        serves: tuple[Constellation, ...] = (Constellation.SENTINEL2,),
    ) -> None:
        self.name, self.scenes, self.error, self.serves = name, scenes or [], error, serves
        self.calls = 0

    def supports(self, constellation: Constellation) -> bool:
        return constellation in self.serves

    def search(self, query: SceneQuery) -> SearchResult:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return SearchResult(scenes=self.scenes, catalogue=self.name, total=len(self.scenes))


def test_the_next_catalogue_answers_when_the_first_fails(caplog: pytest.LogCaptureFixture) -> None:
    first = FakeCatalogue("cdse", error=CatalogueTemporaryError("cdse: answered 503: busy"))
    second = FakeCatalogue("static-stac", scenes=[scene(S2_N0300)])
    with caplog.at_level(logging.WARNING, logger="catalogue.search"):
        result = search_scenes(query(), [first, second])
    assert result.catalogue == "static-stac"
    assert [s.source_id for s in result.scenes] == [S2_N0300]
    assert result.failures == {"cdse": "cdse: answered 503: busy"}
    assert "catalogue cdse failed for Sentinel2: cdse: answered 503: busy" in caplog.text


def test_the_first_answer_wins_and_catalogues_that_do_not_serve_are_not_asked() -> None:
    landsat_only = FakeCatalogue("usgs", serves=(Constellation.LANDSAT89,))
    first = FakeCatalogue("a", scenes=[scene(S2_N0300)])
    second = FakeCatalogue("b", scenes=[scene(S2_N0500)])
    result = search_scenes(query(), [landsat_only, first, second])
    assert result.catalogue == "a" and result.failures == {}
    assert (landsat_only.calls, first.calls, second.calls) == (0, 1, 0)


def test_no_catalogue_serving_the_constellation_is_an_error() -> None:
    expected = r"no configured catalogue serves Landsat89 \(configured: cdse, a\)"
    with pytest.raises(CatalogueError, match=expected):
        search_scenes(query(Constellation.LANDSAT89), [FakeCatalogue("cdse"), FakeCatalogue("a")])
    with pytest.raises(CatalogueError, match=r"configured: none"):
        search_scenes(query(), [])


def test_all_failing_is_temporary_if_one_failure_is() -> None:
    searchers = [
        FakeCatalogue("a", error=CatalogueError("a: answered 400: bad filter")),
        FakeCatalogue("b", error=CatalogueTemporaryError("b: timed out", retry_after_s=30)),
    ]
    with pytest.raises(CatalogueTemporaryError) as caught:
        search_scenes(query(), searchers)
    assert str(caught.value) == (
        "every catalogue failed for Sentinel2: a: a: answered 400: bad filter; b: b: timed out"
    )
    assert caught.value.retry_after_s == 30


def test_all_failing_for_good_is_permanent() -> None:
    searchers = [
        FakeCatalogue("a", error=CatalogueError("a: bad")),
        FakeCatalogue("b", error=CatalogueError("b: bad")),
    ]
    with pytest.raises(CatalogueError) as caught:
        search_scenes(query(), searchers)
    assert not isinstance(caught.value, CatalogueTemporaryError)
    assert "a: a: bad; b: b: bad" in str(caught.value)


@pytest.mark.parametrize("order", [[S2_N0300, S2_N0500], [S2_N0500, S2_N0300]])
def test_the_newest_processing_baseline_wins(order: list[str]) -> None:
    assert [s.source_id for s in refine_scenes([scene(n) for n in order], AOI)] == [S2_N0500]


def test_a_reprocessing_with_a_new_baseline_and_generation_time_replaces_the_old_one() -> None:
    # ESA's reprocessing changes both the baseline (N0300 -> N0500) and the product discriminator.
    reprocessed = "S2A_MSIL1C_20210403T101021_N0500_R022_T33TUM_20230817T081530"
    kept = refine_scenes([scene(S2_N0300), scene(reprocessed)], AOI)
    assert [s.source_id for s in kept] == [reprocessed]
    other_tile = "S2A_MSIL1C_20210403T101021_N0500_R022_T33TUN_20230817T081530"
    assert len(refine_scenes([scene(S2_N0300), scene(other_tile)], AOI)) == 2


def test_sentinel1_copies_keep_the_latest_ingestion_or_the_first_met() -> None:
    older = scene(S1, ingestion="2020-05-11T15:00:00Z", constellation=Constellation.SENTINEL1)
    newer = scene(S1[:63] + "ABCD", ingestion="2020-05-12T15:00:00Z", constellation=Constellation.SENTINEL1)
    assert [s.source_id for s in refine_scenes([newer, older], AOI)] == [newer.source_id]
    assert [s.source_id for s in refine_scenes([older, newer], AOI)] == [newer.source_id]
    tie = scene(S1[:63] + "ABCD", ingestion="2020-05-11T15:00:00Z", constellation=Constellation.SENTINEL1)
    assert [s.source_id for s in refine_scenes([older, tie], AOI)] == [S1]


def test_scenes_outside_the_aoi_or_without_footprint_are_dropped_and_the_rest_sorted() -> None:
    landsat = Constellation.LANDSAT89
    scenes = [
        scene("LC08_L2SP_190028_20210410_20210420_02_T1", day=10, constellation=landsat),
        scene("LC08_L2SP_190028_20210402_20210420_02_T1", day=2, constellation=landsat),
        scene("LC08_L2SP_170010_20210405_20210420_02_T1", footprint=FAR, constellation=landsat),
        scene("LC08_L2SP_190028_20210406_20210420_02_T1", footprint="POLYGON EMPTY", constellation=landsat),
    ]
    assert [s.source_id for s in refine_scenes(scenes, AOI)] == [
        "LC08_L2SP_190028_20210402_20210420_02_T1",
        "LC08_L2SP_190028_20210410_20210420_02_T1",
    ]


def test_an_unreadable_footprint_names_the_scene() -> None:
    with pytest.raises(CatalogueError, match=f"{S2_N0300}: footprint is not valid WKT"):
        refine_scenes([scene(S2_N0300, footprint="POLYGON ((0 0, 1")], AOI)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_cdse_falls_back_to_the_static_catalogue(tmp_path: Path) -> None:
    ring = [[12.5, 45.5], [13.5, 45.5], [13.5, 46.5], [12.5, 45.5]]
    item = pystac.Item(
        S2_N0300,
        {"type": "Polygon", "coordinates": [ring]},
        [12.5, 45.5, 13.5, 46.5],
        datetime(2021, 4, 3, tzinfo=UTC),
        {"platform": "sentinel-2a"},
    )
    catalog = pystac.Catalog("archive", "archive")
    catalog.add_item(item)
    catalog.normalize_hrefs(str(tmp_path))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    cdse = CdseODataSearcher(base_url=f"http://127.0.0.1:{closed_port()}/odata/v1", max_retries=0)
    result = search_scenes(query(), [cdse, StaticStacSearcher(tmp_path)])
    assert result.catalogue == "static-stac"
    assert [s.source_id for s in result.scenes] == [S2_N0300]
    assert "ConnectError" in result.failures["cdse"]


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "S2A_MSIL1C/../../x", "a/b", "X\n", "..", "S2A..x", "-rf", "a" * 201, "é_S2", ""],
)
def test_a_product_name_that_is_not_a_file_name_refuses_that_catalogues_answer(name: str) -> None:
    hostile = FakeCatalogue("evil-stac", scenes=[scene(name)])
    honest = FakeCatalogue("cdse", scenes=[scene(S2_N0300)])
    result = search_scenes(query(), [hostile, honest])
    assert result.catalogue == "cdse"
    assert "catalogue evil-stac sent the product name" in result.failures["evil-stac"]
    assert "not a plain file name" in result.failures["evil-stac"]
    with pytest.raises(CatalogueError, match="evil-stac sent the product name"):
        search_scenes(query(), [hostile])


class RecordingCatalogue(FakeCatalogue):
    def __init__(self, name: str, answers: dict[str, list[Scene]]) -> None:
        super().__init__(name)
        self.answers = answers
        self.asked: list[str] = []

    def search(self, query: SceneQuery) -> SearchResult:
        self.asked.append(query.aoi_wkt)
        side = "east" if shapely.from_wkt(query.aoi_wkt).centroid.x > 0 else "west"
        return SearchResult(scenes=self.answers[side], catalogue=self.name, total=len(self.answers[side]))


def test_an_aoi_cut_at_the_antimeridian_is_searched_once_per_side() -> None:
    east = "POLYGON ((179 -17, 180 -17, 180 -16, 179 -16, 179 -17))"
    west = "POLYGON ((-180 -17, -179 -17, -179 -16, -180 -16, -180 -17))"
    aoi = f"MULTIPOLYGON ({east.removeprefix('POLYGON ')}, {west.removeprefix('POLYGON ')})"
    fiji_east = scene(
        S2_N0300, footprint="POLYGON ((179.2 -16.8, 179.8 -16.8, 179.8 -16.2, 179.2 -16.2, 179.2 -16.8))"
    )
    fiji_west = scene(
        S2_N0500.replace("T33TUM", "T01KAB").replace("20210403T101021", "20210403T221021"),
        footprint="POLYGON ((-179.8 -16.8, -179.2 -16.8, -179.2 -16.2, -179.8 -16.2, -179.8 -16.8))",
    )
    catalogue = RecordingCatalogue("cat", {"east": [fiji_east], "west": [fiji_west]})
    result = search_scenes(query().model_copy(update={"aoi_wkt": aoi}), [catalogue])
    assert len(catalogue.asked) == 2
    assert all(
        shapely.from_wkt(wkt).bounds[2] - shapely.from_wkt(wkt).bounds[0] <= 1 for wkt in catalogue.asked
    )
    assert sorted(s.source_id for s in result.scenes) == sorted([fiji_east.source_id, fiji_west.source_id])
    assert result.total == 2
