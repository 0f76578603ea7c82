"""DHuS catalogue: the query words built, and products parsed from real recorded DHuS answers
(sentinelsat's vcrpy cassettes, shared fixtures ``dhus/``; see PROVENANCE.md, "DHuS")."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import shapely
from pydantic import SecretStr
from sentinelsat import SentinelAPI
from sentinelsat.sentinel import _parse_opensearch_response

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, SceneQuery
from providers.dhus import DhusSearcher, build_keywords, compact_wkt, parse_product
from tests.support.cassette import load_interactions, recorded_query

# The AOI and windows of the recorded sentinelsat tests (its tests/map.geojson, as WKT).
AOI = (
    "GEOMETRYCOLLECTION(POLYGON((-66.2695 -8.0592,-66.2695 0.7031,-57.3047 0.7031,-57.3047 -8.0592,"
    "-66.2695 -8.0592)))"
)
HUB = "https://dhus.example.org/dhus/"
S2_CLOUDCOVER = "dhus/test_s2_cloudcover.cassette.yaml"
S1_FLAG = "dhus/test_sentinel1_flag.cassette.yaml"


def s2_query(**changes: Any) -> SceneQuery:
    fields: dict[str, Any] = {
        "aoi_wkt": AOI,
        "start": datetime(2018, 12, 12, tzinfo=UTC),
        "end": datetime(2018, 12, 28, tzinfo=UTC),
        "constellation": Constellation.SENTINEL2,
        "parameters": {"cloudcoverpercentage": "[0 TO 10]"},
    }
    return SceneQuery(**(fields | changes))


def recorded_products(fixtures: Path, name: str) -> dict[str, dict[str, Any]]:
    """The products of a recorded search, typed as ``SentinelAPI.query()`` returns them."""
    feed = json.loads(load_interactions(fixtures / name)[0]["response"]["body"]["string"])["feed"]
    entries = feed["entry"] if isinstance(feed["entry"], list) else [feed["entry"]]
    return dict(_parse_opensearch_response(entries))


def test_the_query_text_is_the_recorded_one(shared_fixtures: Path) -> None:
    # Same AOI, window and cloud cover as the recording, and no default product type: the q sent is the
    # recorded q, character for character.
    keywords = build_keywords(s2_query(), default_product_types={})
    query = SentinelAPI.format_query(compact_wkt(AOI), (s2_query().start, s2_query().end), **keywords)
    (recorded,) = recorded_query(load_interactions(shared_fixtures / S2_CLOUDCOVER)[0])["q"]
    assert query == recorded


def test_keywords_of_a_sentinel1_payload() -> None:
    params = {
        "producttype": "SLC",
        "polarisationmode": "VV VH",
        "sensoroperationalmode": "IW",
        "relativeorbitnumber": "44",
        "orbitdirection": "desc",
        "platformname": "Sentinel-1",
    }
    keywords = build_keywords(s2_query(constellation=Constellation.SENTINEL1, parameters=params))
    assert keywords == {
        "platformname": "Sentinel-1",
        "producttype": "SLC",
        "polarisationmode": "VV VH",
        "sensoroperationalmode": "IW",
        "relativeorbitnumber": 44,
        "orbitdirection": "DESCENDING",
    }
    assert 'polarisationmode:"VV VH"' in SentinelAPI.format_query(**keywords)


def test_defaults_and_aliases_of_product_types() -> None:
    assert build_keywords(s2_query(parameters={}))["producttype"] == "S2MSI1C"
    assert build_keywords(s2_query(parameters={"producttype": "L2A"}))["producttype"] == "S2MSI2A"
    assert "producttype" not in build_keywords(s2_query(parameters={}), default_product_types={})


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"cloudcoverpercentage": "0-10"}, "must be '[min TO max]'"),
        ({"platformname": "Sentinel-1"}, "does not match the constellation"),
        ({"orbitdirection": "north"}, "must be ASCENDING or DESCENDING"),
        ({"polarisationmode": "VV"}, "does not understand 'polarisationmode'"),
    ],
)
def test_bad_parameters_are_named(parameters: dict[str, str], message: str) -> None:
    with pytest.raises(CatalogueError, match=re.escape(message)):
        build_keywords(s2_query(parameters=parameters))


def test_constellations_outside_dhus_are_refused() -> None:
    with pytest.raises(CatalogueError, match="catalogue 'dhus' has no PHR products"):
        build_keywords(s2_query(constellation=Constellation.PHR, parameters={}))


def test_parse_the_recorded_sentinel2_products(shared_fixtures: Path) -> None:
    products = recorded_products(shared_fixtures, S2_CLOUDCOVER)
    uuid, product = next(iter(products.items()))
    scene = parse_product(uuid, product, Constellation.SENTINEL2)
    assert scene.source_id == "S2B_MSIL1C_20181219T142029_N0207_R010_T20MPS_20181219T160056"
    assert scene.date == datetime(2018, 12, 19, 14, 20, 29, 24000, tzinfo=UTC)
    assert scene.tags == {
        "sourceID": scene.source_id,
        "uuid": "bf652bc4-299c-4c39-9238-ee5a3fdc0d3e",
        "ingestionDate": "2018-12-19T14:20:29.024Z",
        "constellation": "SENTINEL2",
        "satellite": "SENTINEL2B",
        "orbitDirection": "DESCENDING",
        "relativeOrbit": "10",
        "orbit": "9331",
        "productType": "S2MSI1C",
        "cloudCoverPercentage": "3.6476",
        "tileId": "20MPS",
    }
    assert scene.metadata == {
        "uuid": uuid,
        "download_link": f"https://apihub.copernicus.eu/apihub/odata/v1/Products('{uuid}')/$value",
        "online": True,
    }
    assert shapely.from_wkt(scene.footprint_wkt).equals(shapely.from_wkt(product["footprint"]))
    levels = {p["producttype"] for p in products.values()}
    assert levels == {"S2MSI1C", "S2MSI2A"}


def test_parse_the_recorded_sentinel1_products(shared_fixtures: Path) -> None:
    products = recorded_products(shared_fixtures, S1_FLAG)
    scenes = [parse_product(u, p, Constellation.SENTINEL1) for u, p in products.items()]
    assert len(scenes) == 11
    first = scenes[0]
    assert first.source_id == "S1A_EW_GRDM_1SDH_20151227T100355_20151227T100510_009226_00D4D8_18A0"
    assert {
        k: first.tags[k] for k in ("polarisationMode", "sliceNumber", "relativeOrbit", "productType")
    } == {
        "polarisationMode": "HH HV",
        "sliceNumber": "1",
        "relativeOrbit": "54",
        "productType": "GRD",
    }
    assert "cloudCoverPercentage" not in first.tags


def test_a_product_without_footprint_is_named(shared_fixtures: Path) -> None:
    uuid, product = next(iter(recorded_products(shared_fixtures, S2_CLOUDCOVER).items()))
    del product["footprint"]
    with pytest.raises(
        CatalogueError, match=r"S2B_MSIL1C_20181219T142029.*missing title, beginposition or footprint"
    ):
        parse_product(uuid, product, Constellation.SENTINEL2)


def test_an_offline_product_says_so(shared_fixtures: Path) -> None:
    uuid, product = next(iter(recorded_products(shared_fixtures, S2_CLOUDCOVER).items()))
    assert (
        parse_product(uuid, product | {"ondemand": "true"}, Constellation.SENTINEL2).metadata["online"]
        is False
    )


def test_compact_wkt_is_sentinelsats_spelling() -> None:
    assert compact_wkt("POLYGON ((0 0, 1 1, 0 1, 0 0))") == "POLYGON((0 0,1 1,0 1,0 0))"
    with pytest.raises(CatalogueError, match="not valid WKT"):
        compact_wkt("POLYGON ((0 0")


@pytest.mark.parametrize(
    ("url", "user", "password", "named"),
    [
        ("", "me", SecretStr("pw"), "GEOCUBE_INGESTER_DHUS_URL"),
        (HUB, "", SecretStr("pw"), "GEOCUBE_INGESTER_DHUS_USER"),
        (HUB, "me", None, "GEOCUBE_INGESTER_DHUS_PASSWORD"),
        (HUB, "", SecretStr(""), "GEOCUBE_INGESTER_DHUS_USER and GEOCUBE_INGESTER_DHUS_PASSWORD"),
    ],
)
def test_settings_are_required_and_named(url: str, user: str, password: SecretStr | None, named: str) -> None:
    with pytest.raises(CatalogueError, match=f"catalogue 'dhus' needs {named} "):
        DhusSearcher(api_url=url, user=user, password=password)


def test_the_password_is_not_shown() -> None:
    searcher = DhusSearcher(api_url=HUB, user="me", password=SecretStr("s3cr3t-pw"))
    assert "s3cr3t-pw" not in repr(searcher) and "s3cr3t-pw" not in str(vars(searcher))
    assert searcher.supports(Constellation.SENTINEL1) and not searcher.supports(Constellation.SPOT)
