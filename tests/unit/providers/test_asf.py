"""ASF SearchAPI catalogue: keywords built, and the real recorded SearchAPI outputs parsed (shared
fixtures ``asf/Fairbanks_SLC_jsonlite.json``, ``_jsonlite2.json``, ``.metalink``; PROVENANCE.md, "ASF")."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import shapely

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, SceneQuery
from providers.asf import (
    MAX_WKT_CHARS,
    build_params,
    expand_jsonlite2,
    intersects_with,
    parse_metalink,
    parse_result,
)

GRANULE = "S1B_IW_SLC__1SDV_20210102T032031_20210102T032058_024970_02F8C3_C081"
# Counter-clockwise, around Fairbanks.
AOI = "POLYGON ((-148 64.5, -147 64.5, -147 65, -148 65, -148 64.5))"


def fairbanks_query(**changes: Any) -> SceneQuery:
    fields: dict[str, Any] = {
        "aoi_wkt": AOI,
        "start": datetime(2021, 1, 1, tzinfo=UTC),
        "end": datetime(2021, 1, 3, 12, 30, tzinfo=UTC),
        "constellation": Constellation.SENTINEL1,
    }
    return SceneQuery(**(fields | changes))


def recorded(fixtures: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((fixtures / "asf" / name).read_text())["results"][0])


def test_keywords_with_defaults() -> None:
    assert build_params(fairbanks_query()) == {
        "platform": "SENTINEL-1",
        "processingLevel": "SLC",
        "intersectsWith": "POLYGON ((-148 64.5, -147 64.5, -147 65, -148 65, -148 64.5))",
        "start": "2021-01-01T00:00:00Z",
        "end": "2021-01-03T12:30:00Z",
        "output": "jsonlite",
    }


def test_keywords_of_a_full_payload() -> None:
    params = {
        "ProductType": "GRD",
        "polarisationmode": "VV VH",
        "sensoroperationalmode": "iw",
        "relativeorbitnumber": " 94 ",
        "orbitdirection": "ASC",
        "platformname": "Sentinel-1",
    }
    got = build_params(fairbanks_query(parameters=params), output="jsonlite2")
    assert {k: got[k] for k in ("processingLevel", "polarization", "beamMode", "relativeOrbit")} == {
        "processingLevel": "GRD_HD",
        "polarization": "VV+VH",
        "beamMode": "IW",
        "relativeOrbit": "94",
    }
    assert (got["flightDirection"], got["output"]) == ("ASCENDING", "jsonlite2")
    assert build_params(fairbanks_query(parameters={"producttype": "GRD_MS"}))["processingLevel"] == "GRD_MS"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"cloudcoverpercentage": "[0 TO 10]"}, "does not understand 'cloudcoverpercentage'"),
        ({"relativeorbitnumber": "9x"}, "relativeorbitnumber: '9x' is not an integer"),
        ({"orbitdirection": "up"}, "must be ASCENDING or DESCENDING"),
        ({"platformname": "Sentinel-2"}, "does not match the constellation"),
    ],
)
def test_bad_parameters_are_named(parameters: dict[str, str], message: str) -> None:
    with pytest.raises(CatalogueError, match=re.escape(message)):
        build_params(fairbanks_query(parameters=parameters))


def test_only_sentinel1_is_searched() -> None:
    with pytest.raises(CatalogueError, match="catalogue 'asf' has no Sentinel2 products"):
        build_params(fairbanks_query(constellation=Constellation.SENTINEL2))


def test_a_clockwise_aoi_is_turned_and_a_long_one_is_hulled() -> None:
    clockwise = "POLYGON ((-148 64.5, -148 65, -147 65, -147 64.5, -148 64.5))"
    assert shapely.from_wkt(intersects_with(clockwise)).exterior.is_ccw
    ring = shapely.Point(-147.5, 64.7).buffer(0.3, quad_segs=200)  # 801 vertices
    long_wkt = intersects_with(ring.wkt)
    assert len(ring.wkt) > MAX_WKT_CHARS >= len(long_wkt)
    assert shapely.from_wkt(long_wkt).contains(ring.buffer(-1e-6))


def test_parse_the_recorded_jsonlite_result(shared_fixtures: Path) -> None:
    scene = parse_result(recorded(shared_fixtures, "Fairbanks_SLC_jsonlite.json"))
    assert scene.source_id == GRANULE
    assert scene.date == datetime(2021, 1, 2, 3, 20, 31, tzinfo=UTC)
    assert scene.constellation is Constellation.SENTINEL1 and scene.catalogue == "asf"
    assert scene.tags == {
        "sourceID": GRANULE,
        "ingestionDate": "2021-01-02T03:20:31.000000",
        "constellation": "SENTINEL1",
        "satellite": "SENTINEL1B",
        "orbitDirection": "ASCENDING",
        "relativeOrbit": "94",
        "orbit": "24970",
        "productType": "SLC",
        "polarisationMode": "VV VH",
    }
    assert scene.metadata == {
        "download_link": f"https://datapool.asf.alaska.edu/SLC/SB/{GRANULE}.zip",
        "file_name": f"{GRANULE}.zip",
        "size_bytes": 4193723581,  # the metalink's exact size: sizeMB is bytes / 2**20
    }
    footprint = shapely.from_wkt(scene.footprint_wkt)
    assert footprint.bounds == pytest.approx((-150.172562, 63.942123, -144.136368, 65.99025))


def test_jsonlite2_reads_as_jsonlite(shared_fixtures: Path) -> None:
    short = expand_jsonlite2(recorded(shared_fixtures, "Fairbanks_SLC_jsonlite2.json"))
    assert short["downloadUrl"] == f"https://datapool.asf.alaska.edu/SLC/SB/{GRANULE}.zip"
    assert parse_result(short) == parse_result(recorded(shared_fixtures, "Fairbanks_SLC_jsonlite.json"))


def test_a_result_without_download_url_is_named(shared_fixtures: Path) -> None:
    result = recorded(shared_fixtures, "Fairbanks_SLC_jsonlite.json") | {"downloadUrl": None}
    with pytest.raises(CatalogueError, match=f"granule {GRANULE}: missing downloadUrl"):
        parse_result(result)


def test_parse_the_recorded_metalink(shared_fixtures: Path) -> None:
    files = parse_metalink((shared_fixtures / "asf/Fairbanks_SLC.metalink").read_text())
    assert files == {f"{GRANULE}.zip": ("6dd7f6a56ed98ba7037dfeb833217d5b", 4193723581)}
    with pytest.raises(CatalogueError, match="metalink answer is not XML"):
        parse_metalink("<metalink")
