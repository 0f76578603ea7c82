"""OneAtlas catalogue: search body built, features parsed, duplicates and order products.

No OneAtlas answer was ever recorded (PROVENANCE.md, "Not found"): the features are built by
``tests/support/oneatlas_api.py`` from Airbus' published OneAtlas API documentation and a published
sample search answer; see that module for the sources of each field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import shapely
from pydantic import SecretStr

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, SceneQuery
from providers.oneatlas.orders import OneAtlasOrders, is_same_aoi
from providers.oneatlas.search import (
    OneAtlasSearcher,
    build_body,
    deduplicate,
    is_price_requested,
    parse_feature,
)
from tests.support.oneatlas_api import download_link, feature

AOI_WKT = "POLYGON ((1.40 43.55, 1.50 43.55, 1.50 43.62, 1.40 43.62, 1.40 43.55))"
AOI = shapely.from_wkt(AOI_WKT)
DS = "DS_PHR1B_201704181857160_FR1_PX_E001N43_0720_04750"
# A footprint covering the east half of the AOI and beyond.
FOOTPRINT = "POLYGON ((1.45 43.50, 1.60 43.50, 1.60 43.70, 1.45 43.70, 1.45 43.50))"


def phr_query(**changes: Any) -> SceneQuery:
    fields: dict[str, Any] = {
        "aoi_wkt": AOI_WKT,
        "start": datetime(2017, 4, 1, tzinfo=UTC),
        "end": datetime(2017, 4, 30, 12, tzinfo=UTC),
        "constellation": Constellation.PHR,
    }
    return SceneQuery(**(fields | changes))


def test_search_body_of_a_payload() -> None:
    params = {
        "productType": "bundle",
        "processingLevel": "SENSOR",
        "cloudCover": "[0 TO 30]",
        "incidenceAngle": "[0, 40]",
        "workspace": "public",
        "relation": "intersects",
        "GetPrice": "true",
    }
    body = build_body(phr_query(parameters=params), AOI)
    assert body == {
        "constellation": "PHR",
        "sortBy": "acquisitionDate",
        "acquisitionDate": "[2017-04-01T00:00:00.000Z,2017-04-30T12:00:00.000Z]",
        "geometry": {
            "type": "Polygon",
            "coordinates": (((1.4, 43.55), (1.4, 43.62), (1.5, 43.62), (1.5, 43.55), (1.4, 43.55)),),
        },
        "productType": "bundle",
        "processingLevel": "SENSOR",
        "cloudCover": "[0,30]",
        "incidenceAngle": "[0,40]",
        "workspace": "public",
        "relation": "intersects",
    }
    assert is_price_requested(params) and not is_price_requested({"GetPrice": "false"})


def test_the_geometry_is_the_aoi_convex_hull() -> None:
    l_shape = shapely.from_wkt("POLYGON ((0 0, 2 0, 2 1, 1 1, 1 2, 0 2, 0 0))")
    body = build_body(phr_query(constellation=Constellation.SPOT), l_shape)
    assert body["constellation"] == "SPOT"
    assert shapely.geometry.shape(body["geometry"]).equals(l_shape.convex_hull)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            phr_query(parameters={"cloudcoverpercentage": "[0 TO 10]"}),
            "does not understand 'cloudcoverpercentage'",
        ),
        (phr_query(constellation=Constellation.SENTINEL2), "catalogue 'oneatlas' has no Sentinel2 products"),
    ],
)
def test_bad_queries_are_named(query: SceneQuery, message: str) -> None:
    with pytest.raises(CatalogueError, match=re.escape(message)):
        build_body(query, AOI)


def test_a_feature_becomes_a_scene_dated_by_its_acquisition() -> None:
    link = download_link("https://access.foundation.api.oneatlas.airbus.com/api/v1/items/u1/download")
    scene = parse_feature(feature("u1", DS, FOOTPRINT, download=[link]), AOI, Constellation.PHR)
    assert scene is not None
    # acquisitionDate, not processingDate (22:53:46): the original ingester's bug.
    assert scene.date == datetime(2017, 4, 18, 21, 44, 25, 958000, tzinfo=UTC)
    assert (scene.source_id, scene.catalogue, scene.constellation) == (DS, "oneatlas", Constellation.PHR)
    assert scene.tags == {
        "sourceID": DS,
        "uuid": "u1",
        "ingestionDate": "2017-04-18T21:44:25.958Z",
        "constellation": "PHR",
        "productType": "bundle",
        "satellite": "PHR1B",
        "cloudCoverPercentage": "12.5",
        "incidenceAngle": "17.19675515920807",
        "processingLevel": "SENSOR",
    }
    assert scene.metadata["download_link"] == link["href"]
    assert scene.metadata["identifier"] == DS and scene.metadata["properties"]["platform"] == "PHR1B"
    expected = shapely.from_wkt(FOOTPRINT).intersection(AOI)
    assert shapely.from_wkt(scene.footprint_wkt).equals(expected)


def test_source_id_is_the_parent_identifier() -> None:
    scene = parse_feature(feature("u2", "PROD_123", FOOTPRINT, parent=DS), AOI, Constellation.PHR)
    assert scene is not None and scene.source_id == DS and scene.metadata["identifier"] == "PROD_123"


@pytest.mark.parametrize(
    "download",
    [
        None,
        download_link("https://x/quicklook", name="QuickLook"),
        [download_link("https://x/wms", kind="WMS")],
    ],
)
def test_only_a_download_link_of_type_http_counts(download: Any) -> None:
    scene = parse_feature(feature("u3", DS, FOOTPRINT, download=download), AOI, Constellation.PHR)
    assert scene is not None and "download_link" not in scene.metadata


def test_a_single_download_link_is_read_case_insensitively() -> None:
    link = download_link("https://x/download", name="download", kind="http")
    scene = parse_feature(feature("u4", DS, FOOTPRINT, download=link), AOI, Constellation.PHR)
    assert scene is not None and scene.metadata["download_link"] == "https://x/download"


def test_a_sliver_or_a_miss_is_skipped() -> None:
    sliver = "POLYGON ((1.4999 43.50, 1.60 43.50, 1.60 43.70, 1.4999 43.70, 1.4999 43.50))"  # 7e-6 deg²
    far = "POLYGON ((10 10, 11 10, 11 11, 10 11, 10 10))"
    assert parse_feature(feature("u5", DS, sliver), AOI, Constellation.PHR) is None
    assert parse_feature(feature("u6", DS, far), AOI, Constellation.PHR) is None


def test_a_point_aoi_keeps_the_products_that_cover_it() -> None:
    point = shapely.from_wkt("POINT (1.47 43.58)")
    scene = parse_feature(feature("u7", DS, FOOTPRINT), point, Constellation.PHR)
    assert scene is not None and shapely.from_wkt(scene.footprint_wkt).area > 0
    assert (
        parse_feature(feature("u8", DS, FOOTPRINT), shapely.from_wkt("POINT (5 5)"), Constellation.PHR)
        is None
    )


def test_a_feature_without_date_is_named() -> None:
    broken = feature("u7", DS, FOOTPRINT)
    del broken["properties"]["acquisitionDate"]
    with pytest.raises(CatalogueError, match=f"feature {DS}: missing id, identifier"):
        parse_feature(broken, AOI, Constellation.PHR)


def test_duplicates_are_the_same_parent_and_identifier() -> None:
    def scene(uuid: str, identifier: str, **extra: Any) -> Any:
        return parse_feature(feature(uuid, identifier, FOOTPRINT, parent=DS, **extra), AOI, Constellation.PHR)

    public = scene("pub", DS)
    private = scene("priv", DS, download=download_link("https://x/download"))
    other_product = scene("oth", "PROD_OTHER")
    kept = deduplicate([public, private, other_product, scene("pub2", DS.lower())])
    assert [s.metadata["uuid"] for s in kept] == ["priv", "oth"]


def test_an_order_product_is_the_footprint_in_the_original_options() -> None:
    scene = parse_feature(feature("u8", DS, FOOTPRINT), AOI, Constellation.PHR)
    assert scene is not None
    product = OneAtlasOrders(apikey=SecretStr("k")).order_product(scene)
    assert {k: v for k, v in product.items() if k != "aoi"} == {
        "crsCode": "urn:ogc:def:crs:EPSG::4326",
        "productType": "bundle",
        "radiometricProcessing": "BASIC16",
        "id": "u8",
        "imageFormat": "image/geotiff",
    }
    assert shapely.geometry.shape(product["aoi"]).equals(shapely.from_wkt(scene.footprint_wkt))


def test_aois_match_whatever_their_orientation_and_start() -> None:
    ring = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
    turned = [[1, 1], [1, 0], [0, 0], [0, 1], [1, 1]]
    square = {"type": "Polygon", "coordinates": [ring]}
    assert is_same_aoi(square, {"type": "Polygon", "coordinates": [turned]})
    assert not is_same_aoi(square, {"type": "Point", "coordinates": [0, 0]})
    assert not is_same_aoi(None, square)


def test_the_api_key_is_required_and_never_shown() -> None:
    with pytest.raises(CatalogueError, match="needs GEOCUBE_INGESTER_ONEATLAS_APIKEY"):
        OneAtlasSearcher(apikey=None)
    searcher = OneAtlasSearcher(apikey=SecretStr("k-123-secret"))
    assert "k-123-secret" not in repr(searcher) and "k-123-secret" not in repr(searcher.orders)
    assert searcher.supports(Constellation.SPOT) and not searcher.supports(Constellation.SENTINEL1)
