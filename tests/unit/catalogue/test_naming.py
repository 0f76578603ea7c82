"""Product-name parsing and {KEY} patterns, on real product names (catalogue.naming)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalogue.errors import CatalogueError, ProductNameError
from catalogue.models import Constellation, Scene
from catalogue.naming import (
    constellation_from_product_id,
    date_from_product_id,
    expand_pattern,
    parse_product_name,
    product_name_key,
    satellite_from_product_id,
)

S1 = "S1A_IW_SLC__1SDV_20200511T135117_20200511T135144_032518_03C421_7768"
S2 = "S2A_MSIL1C_20210403T101021_N0300_R022_T33TUM_20210403T110551"
S2_OLD = "S2A_OPER_PRD_MSIL1C_PDMC_20150818T101440_R022_V20150813T102406_20150813T102406"
LANDSAT = "LC08_L2SP_008059_20191201_20200825_02_T1"
PHR = "DS_PHR1A_201006181052297_FR1_PX_E001N43_0612_06488"
SPOT = "DS_SPOT6_201212051035424_FR1_FR1_FR1_FR1_E002N41_01174"


def test_sentinel1_keys() -> None:
    assert parse_product_name(S1) == {
        "SCENE": S1,
        "MISSION_ID": "S1A",
        "MISSION_VERSION": "A",
        "MODE": "IW",
        "PRODUCT_TYPE": "SLC",
        "RESOLUTION": "_",
        "PROCESSING_LEVEL": "1",
        "PRODUCT_CLASS": "S",
        "POLARISATION": "DV",
        "DATE": "20200511",
        "YEAR": "2020",
        "MONTH": "05",
        "DAY": "11",
        "TIME": "135117",
        "HOUR": "13",
        "MINUTE": "51",
        "SECOND": "17",
        "ORBIT": "032518",
        "MISSION": "03C421",
        "UNIQUE_ID": "7768",
    }


def test_sentinel2_compact_naming_keys() -> None:
    assert parse_product_name(S2) == {
        "SCENE": S2,
        "MISSION_ID": "S2A",
        "MISSION_VERSION": "A",
        "PRODUCT_LEVEL": "L1C",
        "DATE": "20210403",
        "YEAR": "2021",
        "MONTH": "04",
        "DAY": "03",
        "TIME": "101021",
        "HOUR": "10",
        "MINUTE": "10",
        "SECOND": "21",
        "PDGS": "0300",
        "ORBIT": "022",
        "TILE": "T33TUM",
        "LATITUDE_BAND": "33",
        "GRID_SQUARE": "T",
        "GRANULE_ID": "UM",
        "PRODUCT_DISC": "20210403T110551",
    }


def test_sentinel2_old_naming_has_only_four_keys_and_no_date() -> None:
    assert parse_product_name(S2_OLD) == {
        "SCENE": S2_OLD,
        "MISSION_ID": "S2A",
        "PRODUCT_LEVEL": "L1C",
        "ORBIT": "022",
    }
    with pytest.raises(ProductNameError, match="no acquisition date"):
        date_from_product_id(S2_OLD)


def test_landsat_keys_and_sensor_collection() -> None:
    assert parse_product_name(LANDSAT) == {
        "MISSION_ID": "L08",
        "DATE": "20191201",
        "YEAR": "2019",
        "MONTH": "12",
        "DAY": "01",
        "COLLECTION": "oli-tirs",
        "PATH": "008",
        "ROW": "059",
    }
    assert parse_product_name("LO" + LANDSAT[2:])["COLLECTION"] == "oli"
    assert parse_product_name("LT" + LANDSAT[2:])["COLLECTION"] == "tirs"


def test_pleiades_has_scene_key_unlike_the_original() -> None:
    keys = parse_product_name(PHR)
    assert keys["SCENE"] == PHR
    assert {
        k: keys[k]
        for k in (
            "MISSION_ID",
            "DATE",
            "TIME",
            "MODE",
            "LONGITUDE",
            "LATITUDE",
            "LONGITUDE_STEP",
            "LATITUDE_STEP",
        )
    } == {
        "MISSION_ID": "PHR1A",
        "DATE": "20100618105229",
        "TIME": "105229",
        "MODE": "PX",
        "LONGITUDE": "E001",
        "LATITUDE": "N43",
        "LONGITUDE_STEP": "06",
        "LATITUDE_STEP": "12",
    }
    assert expand_pattern("gs://bucket/{SCENE}.zip", keys) == f"gs://bucket/{PHR}.zip"


def test_spot_longitude_and_latitude_are_the_coordinates() -> None:
    keys = parse_product_name(SPOT)
    assert (keys["SCENE"], keys["MISSION_ID"], keys["SAT_NUMBER"]) == (SPOT, "SPOT6", "6")
    assert (keys["YEAR"], keys["MONTH"], keys["DAY"], keys["TIME"]) == ("2012", "12", "05", "103542")
    assert (keys["LONGITUDE"], keys["LATITUDE"]) == ("E002", "N41")


@pytest.mark.parametrize(
    ("name", "what"),
    [
        (S1[:66], "Sentinel1"),
        (S2[:59], "Sentinel2"),
        (S2_OLD[:77], "Sentinel2"),
        (PHR[:49], "Pleiades"),
        (SPOT[:53], "Spot"),
        (LANDSAT[:39], "Landsat8/9"),
    ],
)
def test_too_short_names_are_refused_with_the_constellation(name: str, what: str) -> None:
    with pytest.raises(ProductNameError, match=f"invalid {what} file name"):
        parse_product_name(name)


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ProductNameError, match="unknown product name 'LE07"):
        parse_product_name("LE07_L2SP_008059_20191201_20200825_02_T1")
    assert issubclass(ProductNameError, CatalogueError)


@pytest.mark.parametrize(
    ("name", "constellation"),
    [
        (S1, Constellation.SENTINEL1),
        (S2, Constellation.SENTINEL2),
        (S2_OLD, Constellation.SENTINEL2),
        (PHR, Constellation.PHR),
        (SPOT, Constellation.SPOT),
        (LANDSAT, Constellation.LANDSAT89),
        ("LC09_L1GT_166003_20250603_20250603_02_T2", Constellation.LANDSAT89),
        ("LE07_L2SP_008059_20191201_20200825_02_T1", None),
        ("MOD09GA.A2020", None),
    ],
)
def test_constellation_from_product_id(name: str, constellation: Constellation | None) -> None:
    assert constellation_from_product_id(name) is constellation


@pytest.mark.parametrize(
    ("name", "day"),
    [
        (S1, datetime(2020, 5, 11, tzinfo=UTC)),
        (S2, datetime(2021, 4, 3, tzinfo=UTC)),
        (LANDSAT, datetime(2019, 12, 1, tzinfo=UTC)),
        (PHR, datetime(2010, 6, 18, tzinfo=UTC)),
        (SPOT, datetime(2012, 12, 5, tzinfo=UTC)),
    ],
)
def test_date_from_product_id_is_the_acquisition_day(name: str, day: datetime) -> None:
    assert date_from_product_id(name) == day


def test_date_from_product_id_refuses_an_impossible_date() -> None:
    with pytest.raises(ProductNameError, match="2020-13-11 is not a date"):
        date_from_product_id(S1.replace("20200511T135117_2", "20201311T135117_2"))


def test_expand_pattern_uses_the_first_map_that_has_the_key() -> None:
    pattern = "https://host/{AREA}/{YEAR}/{MONTH}/{SCENE}.zip"
    got = expand_pattern(pattern, parse_product_name(S2), {"AREA": "Denmark", "YEAR": "1999"})
    assert got == f"https://host/Denmark/2021/04/{S2}.zip"


def test_expand_pattern_names_every_unknown_key_and_the_known_ones() -> None:
    with pytest.raises(CatalogueError) as caught:
        expand_pattern("s3://b/{TILE}/{AREA}/{SCENE}", parse_product_name(S1))
    message = str(caught.value)
    assert "unknown key(s) {AREA}, {TILE}" in message
    assert "known: DATE, DAY" in message


def test_satellite_from_product_id() -> None:
    assert satellite_from_product_id(S1) == "SENTINEL1A"
    assert satellite_from_product_id("S2B" + S2[3:]) == "SENTINEL2B"
    assert satellite_from_product_id(LANDSAT) == "LANDSAT08"
    assert satellite_from_product_id("S1__AUX_SCS_V20140406T133000_G20240620T081444") is None


def _scene(name: str, constellation: Constellation) -> Scene:
    return Scene(
        source_id=name,
        date=datetime(2021, 1, 1, tzinfo=UTC),
        constellation=constellation,
        footprint_wkt="POINT (0 0)",
    )


def test_product_name_key() -> None:
    assert product_name_key(_scene(S1, Constellation.SENTINEL1)) == S1[:63]
    assert product_name_key(_scene(S2, Constellation.SENTINEL2)) == (
        "S2A_MSIL1C_20210403T101021_NXXYY_R022_T33TUM"
    )
    assert product_name_key(_scene(S2_OLD, Constellation.SENTINEL2)) == S2_OLD
    assert product_name_key(_scene(LANDSAT, Constellation.LANDSAT89)) == LANDSAT


@given(
    st.sampled_from(["S1", "S2", "DS_PHR", "DS_SPOT", "LC08", "LO09", ""]),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_T", max_size=90),
)
def test_any_name_parses_or_fails_with_product_name_error(prefix: str, rest: str) -> None:
    name = prefix + rest
    try:
        keys = parse_product_name(name)
    except ProductNameError:
        return
    assert all(value in name or key == "COLLECTION" for key, value in keys.items() if key != "MISSION_ID")
    try:
        date_from_product_id(name)
    except ProductNameError:
        pass
