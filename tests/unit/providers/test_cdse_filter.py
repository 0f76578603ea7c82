"""The OData ``$filter`` of a CDSE search (providers.cdse.filter): clauses, parameters, time slices."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalogue.errors import CatalogueError
from catalogue.models import Constellation
from providers.cdse.filter import TimeWindow, build_filter, format_odata_datetime
from providers.cdse.search import CdseODataSearcher
from tests.unit.providers.cdse_support import AOI, PRODUCT_TYPE_S2, s1_query, s2_query

# --- $filter -------------------------------------------------------------------------------------------


def test_filter_of_a_sentinel2_query_with_defaults() -> None:
    assert build_filter(s2_query()) == (
        "Collection/Name eq 'SENTINEL-2' and "
        f"OData.CSC.Intersects(area=geography'SRID=4326;{AOI}') and "
        "ContentDate/Start gt 2020-08-08T00:00:00.000Z and ContentDate/Start lt 2020-08-16T00:00:00.000Z and "
        + PRODUCT_TYPE_S2
    )


def test_filter_of_the_denmark_s1_payload_parameters() -> None:
    params = {
        "producttype": "SLC",
        "polarisationmode": "VV VH",
        "sensoroperationalmode": "IW",
        "relativeorbitnumber": "44",
    }
    got = build_filter(s1_query(parameters=params))
    assert got.split(" and ", 4)[:4] == [
        "Collection/Name eq 'SENTINEL-1'",
        f"OData.CSC.Intersects(area=geography'SRID=4326;{AOI}')",
        "ContentDate/Start gt 2014-04-05T00:00:00.000Z",
        "ContentDate/Start lt 2014-04-14T00:00:00.000Z",
    ]
    assert got.endswith(
        " and Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and "
        "att/OData.CSC.StringAttribute/Value eq 'SLC')"
        " and Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'polarisationChannels' and "
        "att/OData.CSC.StringAttribute/Value eq 'VV&VH')"
        " and Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'operationalMode' and "
        "att/OData.CSC.StringAttribute/Value eq 'IW')"
        " and Attributes/OData.CSC.IntegerAttribute/any(att:att/Name eq 'relativeOrbitNumber' and "
        "att/OData.CSC.IntegerAttribute/Value eq 44)"
    )


def test_filter_of_sentinel2_parameters() -> None:
    params = {
        "CloudCoverPercentage": "[0 TO 30.5]",
        "tileid": "T33TUM",
        "producttype": "S2MSI2A",
        "filename": "*_R022_*",
        "relativeorbitnumber": " 22 ",
    }
    clauses = build_filter(s2_query(parameters=params)).split(" and Attributes/")
    assert clauses[1:] == [
        "OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and "
        "att/OData.CSC.StringAttribute/Value eq 'S2MSI2A')",
        "OData.CSC.IntegerAttribute/any(att:att/Name eq 'relativeOrbitNumber' and "
        "att/OData.CSC.IntegerAttribute/Value eq 22)",
        "OData.CSC.DoubleAttribute/any(att:att/Name eq 'cloudCover' and "
        "att/OData.CSC.DoubleAttribute/Value ge 0 and att/OData.CSC.DoubleAttribute/Value le 30.5)",
        "OData.CSC.StringAttribute/any(att:att/Name eq 'tileId' and "
        "att/OData.CSC.StringAttribute/Value eq '33TUM') and contains(Name,'_R022_')",
    ]


def test_quotes_in_values_are_doubled() -> None:
    assert "contains(Name,'a''b')" in build_filter(s2_query(parameters={"filename": "a'b"}))


def test_an_unknown_parameter_is_an_error_listing_the_known_ones() -> None:
    with pytest.raises(CatalogueError) as caught:
        build_filter(s1_query(parameters={"cloudcoverpercentage": "[0 TO 10]", "swathidentifier": "IW1"}))
    message = str(caught.value)
    assert "'cloudcoverpercentage', 'swathidentifier'" in message
    assert (
        "known: filename, orbitdirection, platformname, polarisationmode, producttype, "
        "relativeorbitnumber, sensoroperationalmode" in message
    )


@pytest.mark.parametrize(
    ("value", "expected"), [("ASC", "ASCENDING"), (" descending ", "DESCENDING"), ("Ascending", "ASCENDING")]
)
def test_orbit_direction_is_a_string_attribute(value: str, expected: str) -> None:
    assert build_filter(s1_query(parameters={"orbitdirection": value})).endswith(
        " and Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'orbitDirection' and "
        f"att/OData.CSC.StringAttribute/Value eq '{expected}')"
    )


def test_a_bad_orbit_direction_is_an_error() -> None:
    with pytest.raises(CatalogueError, match="orbitdirection: 'NORTH' must be ASCENDING or DESCENDING"):
        build_filter(s1_query(parameters={"orbitdirection": "NORTH"}))


@pytest.mark.parametrize(
    ("value", "expected"), [("GRD", "GRD"), ("SLC", "SLC"), ("IW_GRDH_1S", "IW_GRDH_1S")]
)
def test_sentinel1_product_types(value: str, expected: str) -> None:
    # The recorded Creodias answer (same OData service software) to productType eq 'GRD' lists
    # IW_GRDH_1S products: the short type is what a query sends.
    assert f"att/OData.CSC.StringAttribute/Value eq '{expected}')" in build_filter(
        s1_query(parameters={"producttype": value})
    )


@pytest.mark.parametrize(
    ("value", "expected"), [("S2MSI2A", "S2MSI2A"), ("l2a", "S2MSI2A"), ("L1C", "S2MSI1C")]
)
def test_sentinel2_levels(value: str, expected: str) -> None:
    assert f"Value eq '{expected}')" in build_filter(s2_query(parameters={"producttype": value}))


def test_platformname_must_name_the_constellation() -> None:
    assert build_filter(s1_query(parameters={"platformname": "Sentinel-1"})) == build_filter(s1_query())
    assert build_filter(s2_query(parameters={"platformname": "SENTINEL2"})) == build_filter(s2_query())
    with pytest.raises(CatalogueError, match="platformname: 'Sentinel-2' does not match the constellation"):
        build_filter(s1_query(parameters={"platformname": "Sentinel-2"}))


def test_a_window_slice_after_the_first_includes_its_start() -> None:
    window = TimeWindow(datetime(2020, 8, 8, tzinfo=UTC), datetime(2020, 8, 16, tzinfo=UTC))
    first, second = window.split(2)
    assert (
        "ContentDate/Start gt 2020-08-08T00:00:00.000Z and ContentDate/Start lt 2020-08-12T00:00:00.000Z"
        in (build_filter(s2_query(), first))
    )
    assert (
        "ContentDate/Start ge 2020-08-12T00:00:00.000Z and ContentDate/Start lt 2020-08-16T00:00:00.000Z"
        in (build_filter(s2_query(), second))
    )


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2014, 1, 1, tzinfo=UTC).replace(tzinfo=None),  # hypothesis wants naive bounds
        max_value=datetime(2030, 1, 1, tzinfo=UTC).replace(tzinfo=None),
        timezones=st.just(UTC),
    ),
    length=st.timedeltas(min_value=timedelta(milliseconds=10), max_value=timedelta(days=4000)),
    parts=st.integers(min_value=2, max_value=9),
)
def test_slices_tile_the_window_on_whole_milliseconds(start: datetime, length: timedelta, parts: int) -> None:
    window = TimeWindow(start, start + length)
    slices = window.split(parts)
    assert len(slices) == parts
    assert (slices[0].start, slices[-1].end, slices[0].start_inclusive) == (window.start, window.end, False)
    for before, after in itertools.pairwise(slices):
        assert before.end == after.start and after.start_inclusive
        assert before.start < before.end and after.start.microsecond % 1000 == 0


def test_a_window_too_short_to_cut_is_an_error() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(
        CatalogueError, match=re.escape("too many products sensed between 2020-01-01T00:00:00.000Z")
    ):
        TimeWindow(start, start + timedelta(milliseconds=2)).split(3)
    with pytest.raises(CatalogueError, match=r"^creodias: too many products"):
        TimeWindow(start, start + timedelta(milliseconds=2)).split(3, catalogue="creodias")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0 - 30", "must be '[min TO max]'"),
        ("[a TO 3]", "must be '[min TO max]'"),
        ("[50 TO 10]", "needs 0 <= min <= max <= 100"),
        ("[0 TO 101]", "needs 0 <= min <= max <= 100"),
    ],
)
def test_a_malformed_cloud_cover_is_an_error(value: str, problem: str) -> None:
    with pytest.raises(CatalogueError, match=re.escape(problem)):
        build_filter(s2_query(parameters={"cloudcoverpercentage": value}))


def test_relative_orbit_must_be_an_integer() -> None:
    with pytest.raises(CatalogueError, match="relativeorbitnumber: '4a' is not an integer"):
        build_filter(s2_query(parameters={"relativeorbitnumber": "4a"}))


def test_dates_are_utc_with_milliseconds() -> None:
    paris = timezone(timedelta(hours=2))
    got = format_odata_datetime(datetime(2020, 8, 8, 2, 3, 4, 567891, tzinfo=paris))
    assert got == "2020-08-08T00:03:04.567Z"


def test_constellations_outside_cdse_are_refused() -> None:
    searcher = CdseODataSearcher()
    assert searcher.supports(Constellation.SENTINEL1) and searcher.supports(Constellation.SENTINEL2)
    assert not searcher.supports(Constellation.LANDSAT89)
    with pytest.raises(CatalogueError, match="no Landsat89 products"):
        build_filter(s2_query(constellation=Constellation.LANDSAT89))
