"""Burst extraction on real Sentinel-1 annotation files (shared fixtures, s1/)."""

from __future__ import annotations

import logging
import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest
import shapely
from hypothesis import assume, given
from hypothesis import strategies as st

from catalogue.bursts import (
    IW_T_BEAM_S,
    IW_T_PRE_S,
    T_ORB_S,
    esa_burst_id,
    make_burst_tiles,
    parse_annotation,
    relative_orbit_from_absolute,
    scene_relative_orbit,
)
from catalogue.errors import CatalogueError
from catalogue.models import Constellation, Scene

P7768 = "S1A_IW_SLC__1SDV_20200511T135117_20200511T135144_032518_03C421_7768"  # IPF 3.20, track 71
BA76 = "S1A_IW_SLC__1SDV_20230108T135249_20230108T135316_046693_0598D3_BA76"  # IPF 3.52, track 71
P6681 = "S1A_IW_SLC__1SDV_20221016T015043_20221016T015111_045461_056FC0_6681"  # IPF 3.52, track 64
P62D6 = "S1A_IW_SLC__1SDV_20220918T074920_20220918T074947_045056_056232_62D6"  # IW3 only, track 9
WORLD = "POLYGON((-180 -90, 180 -90, 180 90, -180 90, -180 -90))"


def annotations(fixtures: Path, scene_id: str, pattern: str = "s1*.xml") -> list[tuple[str, bytes]]:
    folder = fixtures / "s1" / f"{scene_id}.SAFE" / "annotation"
    return [(f"{scene_id}.SAFE/annotation/{p.name}", p.read_bytes()) for p in sorted(folder.glob(pattern))]


def scene(scene_id: str, **tags: str) -> Scene:
    return Scene(
        source_id=scene_id,
        date=datetime.strptime(scene_id[17:32], "%Y%m%dT%H%M%S").replace(tzinfo=UTC),
        constellation=Constellation.SENTINEL1,
        footprint_wkt="POINT (0 0)",
        tags=tags,
    )


def tiles_7768(fixtures: Path, aoi_wkt: str = WORLD, **kwargs: float):
    return make_burst_tiles(
        scene(P7768, orbitDirection="DESCENDING", relativeOrbit="71"),
        annotations(fixtures, P7768),
        aoi_wkt=aoi_wkt,
        **kwargs,
    )


# --- parsing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("swath", "lines", "samples", "first_anx_s"),
    [("iw1", 1497, 21444, 2329.301486), ("iw2", 1509, 25359, 2327.486429), ("iw3", 1515, 24492, 2328.440207)],
)
def test_parse_7768_swath_timing(
    shared_fixtures: Path, swath: str, lines: int, samples: int, first_anx_s: float
):
    (vh_name, vh), (vv_name, vv) = annotations(shared_fixtures, P7768, f"s1a-{swath}-*.xml")
    assert "-vh-" in vh_name and "-vv-" in vv_name
    parsed_vh, parsed_vv = parse_annotation(vh, name=vh_name), parse_annotation(vv, name=vv_name)
    assert (parsed_vv.swath, parsed_vv.polarisation, parsed_vh.polarisation) == (swath.upper(), "VV", "VH")
    assert (parsed_vv.lines_per_burst, parsed_vv.samples_per_burst) == (lines, samples)
    assert [b.tile_nr for b in parsed_vv.bursts] == list(range(1, 10))
    assert parsed_vv.bursts[0].azimuth_anx_time_s == pytest.approx(first_anx_s, abs=1e-6)
    assert all(b.annotated_burst_id is None for b in parsed_vv.bursts)  # IPF 3.20: no <burstId>
    # VV and VH annotate the same bursts: the dedup-by-AnxTime case.
    assert [b.anx_time for b in parsed_vv.bursts] == [b.anx_time for b in parsed_vh.bursts]
    assert [b.footprint_wkt for b in parsed_vv.bursts] == [b.footprint_wkt for b in parsed_vh.bursts]


def test_anx_time_is_the_originals_deci_seconds(shared_fixtures: Path) -> None:
    name, xml = annotations(shared_fixtures, P7768, "s1a-iw1-*-vv-*.xml")[0]
    first = parse_annotation(xml, name=name).bursts[0]
    # round((2329.301486 mod 5924) * 10)
    assert first.anx_time == 23293


def test_footprints_are_valid_and_ordered_along_track(shared_fixtures: Path) -> None:
    for scene_id, descending in [(P7768, True), (BA76, True), (P6681, False), (P62D6, True)]:
        for name, xml in annotations(shared_fixtures, scene_id):
            polygons = [shapely.from_wkt(b.footprint_wkt) for b in parse_annotation(xml, name=name).bursts]
            assert all(p.is_valid and p.area > 0 for p in polygons), name
            latitudes = [p.centroid.y for p in polygons]
            assert latitudes == sorted(latitudes, reverse=descending), name
            for before, after in pairwise(polygons):  # consecutive bursts share an edge
                assert before.intersection(after).geom_type == "LineString", name


def test_footprint_uses_the_originals_ring_and_format(shared_fixtures: Path) -> None:
    name, xml = annotations(shared_fixtures, P7768, "s1a-iw1-*-vv-*.xml")[0]
    bursts = parse_annotation(xml, name=name).bursts
    number = r"-?\d+\.\d{6} -?\d+\.\d{6}"
    assert re.fullmatch(rf"POLYGON\(\(({number}, ){{4}}{number}\)\)", bursts[0].footprint_wkt)
    # first column at the first line, as grid point (line 0, pixel 0) says
    assert bursts[0].footprint_wkt.startswith("POLYGON((-115.279713 38.645823, ")
    # the last burst's last line (9*1497 = 13473) is absent from the grid: line 13472 is used
    assert bursts[-1].footprint_wkt.split(", ")[1] == "-115.650425 37.133995"


def _without_grid_point(xml: bytes, line: int, pixel: int) -> bytes:
    root = ET.fromstring(xml)  # noqa: S314 (real fixture)
    grid = root.find("geolocationGrid/geolocationGridPointList")
    assert grid is not None
    for point in grid.findall("geolocationGridPoint"):
        if point.findtext("line") == str(line) and point.findtext("pixel") == str(pixel):
            grid.remove(point)
    return ET.tostring(root)


def test_every_footprint_corner_is_checked(shared_fixtures: Path) -> None:
    name, xml = annotations(shared_fixtures, P7768, "s1a-iw1-*-vv-*.xml")[0]
    # Last column of the first line: a corner the original did not check.
    with pytest.raises(
        CatalogueError, match=r"burst 1: no geolocation grid point at line 0 \(or -1\), pixel 21443"
    ):
        parse_annotation(_without_grid_point(xml, 0, 21443), name=name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda x: x.replace(b"<linesPerBurst>1497</linesPerBurst>", b""),
            "swathTiming/linesPerBurst is missing",
        ),
        (
            lambda x: x.replace(b"<swath>IW1</swath>", b"<swath> </swath>", 1),
            "adsHeader/swath is missing or empty",
        ),
        (lambda x: x.replace(b"2.329301485552900e+03", b"soon", 1), "azimuthAnxTime='soon' is not a number"),
        (lambda x: x[:1000], "not valid XML"),
        (lambda x: b'<!DOCTYPE p [<!ENTITY e "x">]>' + x[x.index(b"<product>") :], "DTD or entity"),
    ],
)
def test_bad_annotation_is_a_clear_error(shared_fixtures: Path, change, message: str) -> None:
    name, xml = annotations(shared_fixtures, P7768, "s1a-iw1-*-vv-*.xml")[0]
    with pytest.raises(CatalogueError, match=re.escape(message)) as caught:
        parse_annotation(change(xml), name=name)
    assert name in str(caught.value)


# --- tiles -------------------------------------------------------------------------------------------------


def test_tiles_of_the_7768_product(shared_fixtures: Path) -> None:
    tiles = tiles_7768(shared_fixtures)
    assert len(tiles) == 27
    assert [t.swath_id for t in tiles] == ["IW1"] * 9 + ["IW2"] * 9 + ["IW3"] * 9
    assert [t.tile_nr for t in tiles] == list(range(1, 10)) * 3
    assert len({t.source_id for t in tiles}) == 27
    assert tiles[0].source_id == "D71_IW1_23293"
    for tile in tiles:
        assert re.fullmatch(r"D71_IW[123]_\d{5}", tile.source_id)
        assert tile.source_id == f"D71_{tile.swath_id}_{tile.anx_time}"
        assert tile.scene_id == P7768
        assert tile.date == datetime(2020, 5, 11, 13, 51, 17, tzinfo=UTC)
        assert shapely.from_wkt(tile.footprint_wkt).is_valid


def test_vv_and_vh_bursts_are_merged(shared_fixtures: Path) -> None:
    both = annotations(shared_fixtures, P7768)
    vv_only = [(n, x) for n, x in both if "-vv-" in n]
    sc = scene(P7768, orbitDirection="DESCENDING", relativeOrbit="71")
    assert len(both) == 6
    merged = make_burst_tiles(sc, both, aoi_wkt=WORLD)
    assert [t.model_dump() for t in merged] == [
        t.model_dump() for t in make_burst_tiles(sc, vv_only, aoi_wkt=WORLD)
    ]
    assert [t.model_dump() for t in merged] == [
        t.model_dump() for t in make_burst_tiles(sc, both + both, aoi_wkt=WORLD)
    ]


@pytest.mark.parametrize(
    ("aoi_wkt", "buffered", "unbuffered"),
    [
        # the centroid of IW2 burst 5: far from every other burst
        ("POINT (-116.9006 38.2197)", ["D71_IW2_23385"], ["D71_IW2_23385"]),
        # inside IW2 burst 5, 0.02° south of its edge with burst 4: the 0.05° buffer reaches burst 4
        ("POINT (-116.8814 38.2623)", ["D71_IW2_23358", "D71_IW2_23385"], ["D71_IW2_23385"]),
        # 0.03° south of IW2 burst 9, outside every burst: only the buffer reaches it
        ("POINT (-117.0747 37.423)", ["D71_IW2_23496"], []),
        # 0.08° south of it: beyond the buffer
        ("POINT (-117.0747 37.37)", [], []),
        # a small square across the edge of IW2 bursts 4 and 5
        ("POLYGON((-116.95 38.2, -116.85 38.2, -116.85 38.3, -116.95 38.3, -116.95 38.2))",
         ["D71_IW2_23358", "D71_IW2_23385"], ["D71_IW2_23358", "D71_IW2_23385"]),
    ],
)  # fmt: skip
def test_bursts_are_kept_by_the_buffered_aoi(
    shared_fixtures: Path, aoi_wkt: str, buffered: list[str], unbuffered: list[str]
) -> None:
    assert [t.source_id for t in tiles_7768(shared_fixtures, aoi_wkt)] == buffered
    assert [t.source_id for t in tiles_7768(shared_fixtures, aoi_wkt, buffer_deg=0)] == unbuffered


def test_missing_orbit_direction_is_a_clear_error(shared_fixtures: Path) -> None:
    for tags in ({"relativeOrbit": "71"}, {"relativeOrbit": "71", "orbitDirection": ""}):
        with pytest.raises(CatalogueError, match=rf"{P7768}: tag 'orbitDirection' is missing"):
            make_burst_tiles(scene(P7768, **tags), annotations(shared_fixtures, P7768), aoi_wkt=WORLD)


def test_relative_orbit_comes_from_the_name_when_no_tag(shared_fixtures: Path) -> None:
    tiles = make_burst_tiles(
        scene(P6681, orbitDirection="ASCENDING"), annotations(shared_fixtures, P6681), aoi_wkt=WORLD
    )
    assert [t.source_id for t in tiles][:2] == ["A64_IW2_5470", "A64_IW2_5497"]


def test_bad_relative_orbit_tag_and_bad_aoi_are_errors(shared_fixtures: Path) -> None:
    with pytest.raises(CatalogueError, match="relativeOrbit='0', expected a number 1…175"):
        scene_relative_orbit(scene(P7768, relativeOrbit="0"))
    with pytest.raises(CatalogueError, match="aoi_wkt: not a valid WKT"):
        tiles_7768(shared_fixtures, "POLYGON((0 0, 1")


@pytest.mark.parametrize(
    ("mission", "absolute", "relative"),
    # relative orbits as the manifests of the fixtures give them (safe:relativeOrbitNumber)
    [("S1A", 32518, 71), ("S1A", 46693, 71), ("S1A", 45461, 64), ("S1A", 45056, 9), ("S1B", 26269, 168)],
)
def test_relative_orbit_from_absolute(mission: str, absolute: int, relative: int) -> None:
    assert relative_orbit_from_absolute(mission, absolute, datetime(2023, 1, 1, tzinfo=UTC)) == relative


def test_relative_orbit_of_an_unknown_unit_asks_for_the_tag() -> None:
    with pytest.raises(CatalogueError, match="must give the tag 'relativeOrbit'"):
        relative_orbit_from_absolute("S1D", 1000, datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(CatalogueError, match="must give the tag 'relativeOrbit'"):
        relative_orbit_from_absolute("S1C", 1000, datetime(2026, 7, 1, tzinfo=UTC))


# --- ESA burst ids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scene_id", "track", "ids"),
    [(BA76, 71, range(151227, 151236)), (P6681, 64, range(135518, 135527)), (P62D6, 9, range(18023, 18032))],
)
def test_esa_burst_id_equals_the_annotated_one(
    shared_fixtures: Path, scene_id: str, track: int, ids: range
) -> None:
    ((name, xml),) = annotations(shared_fixtures, scene_id)
    bursts = parse_annotation(xml, name=name).bursts
    assert [b.annotated_burst_id for b in bursts] == list(ids)
    assert [esa_burst_id(b.sensing_anx_time_s, track, swath=b.swath) for b in bursts] == list(ids)


def test_tiles_carry_the_burst_id_without_disagreement(shared_fixtures: Path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="catalogue.bursts")
    tiles = make_burst_tiles(
        scene(BA76, orbitDirection="DESCENDING"), annotations(shared_fixtures, BA76), aoi_wkt=WORLD
    )
    assert [t.burst_id for t in tiles] == list(range(151227, 151236))
    assert caplog.records == []


def test_annotated_burst_id_wins_over_a_differing_computed_one(shared_fixtures: Path, caplog) -> None:
    ((name, xml),) = annotations(shared_fixtures, BA76)
    changed = xml.replace(b">151232</burstId>", b">999</burstId>")
    sc = scene(BA76, orbitDirection="DESCENDING", relativeOrbit="71")
    tiles = make_burst_tiles(sc, [(name, changed)], aoi_wkt=WORLD)
    assert tiles[5].burst_id == 999
    assert "computed ESA burst id 151232 differs from the annotated 999" in caplog.text
    assert BA76 in caplog.text


def test_7768_burst_ids_follow_the_ba76_ones_by_anx_offset(shared_fixtures: Path) -> None:
    """No burst id is annotated in the IPF 3.20 product; BA76 (same track, IPF 3.52) anchors them."""
    tiles = tiles_7768(shared_fixtures)
    ba76_first_anx_s, ba76_first_id = 2404.771790, 151227
    for tile, burst in zip(
        [t for t in tiles if t.swath_id == "IW2"],
        parse_annotation(annotations(shared_fixtures, P7768, "s1a-iw2-*-vv-*.xml")[0][1]).bursts,
        strict=True,
    ):
        cycles = (burst.azimuth_anx_time_s - ba76_first_anx_s) / IW_T_BEAM_S
        assert abs(cycles - round(cycles)) < 0.1  # an unambiguous whole number of burst cycles
        assert tile.burst_id == ba76_first_id + round(cycles)
    by_swath = {s: [t.burst_id for t in tiles if t.swath_id == s] for s in ("IW1", "IW2", "IW3")}
    assert by_swath == {
        "IW1": list(range(151200, 151209)),
        "IW2": list(range(151199, 151208)),
        "IW3": list(range(151199, 151208)),
    }
    # Within one cycle IW1, IW2, IW3 follow each other by less than half a cycle.
    anx = {(t.swath_id, t.burst_id): t.anx_time / 10 for t in tiles}
    for burst_id in range(151200, 151208):
        assert 0 < anx[("IW2", burst_id)] - anx[("IW1", burst_id)] < IW_T_BEAM_S / 2
        assert 0 < anx[("IW3", burst_id)] - anx[("IW2", burst_id)] < IW_T_BEAM_S / 2


def test_product_starting_after_the_next_ascending_node(shared_fixtures: Path) -> None:
    """azimuthAnxTime counts from the data take's node; the product's orbit number from its start."""
    ((name, xml),) = annotations(shared_fixtures, BA76)
    root = ET.fromstring(xml)  # noqa: S314 (real fixture)
    for burst in root.iterfind("swathTiming/burstList/burst"):
        burst.remove(burst.find("burstId"))
    plain = ET.tostring(root)
    for element in root.iterfind("swathTiming/burstList/burst/azimuthAnxTime"):
        element.text = repr(float(element.text or "") + T_ORB_S)
    later = ET.tostring(root)
    sc = scene(BA76, orbitDirection="DESCENDING", relativeOrbit="72")
    expected = [t.burst_id for t in make_burst_tiles(sc, [(name, plain)], aoi_wkt=WORLD)]
    assert [t.burst_id for t in make_burst_tiles(sc, [(name, later)], aoi_wkt=WORLD)] == expected


@given(
    t=st.floats(min_value=0, max_value=T_ORB_S, allow_nan=False),
    orbit=st.integers(min_value=1, max_value=175),
)
def test_esa_burst_id_across_the_ascending_node(t: float, orbit: int) -> None:
    cycle_s = ((orbit - 1) * T_ORB_S + t + 0.832 + 1.078 / 2 - IW_T_PRE_S) % (175 * T_ORB_S)
    cycle = cycle_s / IW_T_BEAM_S
    # away from a cycle boundary and from the end of the 12-day cycle, where float rounding decides
    assume(abs(cycle - round(cycle)) > 1e-6 and 1e-6 < cycle_s < 175 * T_ORB_S - 1e-6)
    next_orbit = orbit % 175 + 1
    assert esa_burst_id(t + T_ORB_S, orbit, swath="IW1") == esa_burst_id(t, next_orbit, swath="IW1")
    # the three swaths of one cycle share the id
    assert esa_burst_id(t, orbit, swath="IW1") == esa_burst_id(t + 0.832, orbit, swath="IW2")
    assert esa_burst_id(t, orbit, swath="IW1") == esa_burst_id(t + 0.832 + 1.078, orbit, swath="IW3")
    assert 1 <= esa_burst_id(t, orbit, swath="IW2") <= math.ceil(175 * T_ORB_S / IW_T_BEAM_S)


def test_esa_burst_id_refuses_other_swaths_and_orbits() -> None:
    with pytest.raises(CatalogueError, match="swath 'EW1'"):
        esa_burst_id(100.0, 1, swath="EW1")
    with pytest.raises(CatalogueError, match="relative orbit 176"):
        esa_burst_id(100.0, 176, swath="IW1")
