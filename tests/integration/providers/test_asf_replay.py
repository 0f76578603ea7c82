"""ASF SearchAPI catalogue against the replay server serving the real recorded SearchAPI outputs of
granule S1B_IW_SLC__1SDV_20210102T032031_20210102T032058_024970_02F8C3_C081 (shared fixtures ``asf/``:
``jsonlite``, ``jsonlite2`` and ``metalink``; PROVENANCE.md, "ASF"). The output asked for picks the body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, SceneQuery
from providers.asf import AsfSearcher, build_params
from tests.support.replay import ReplayServer, Route, query_has

pytestmark = pytest.mark.integration

PATH = "/services/search/param"
GRANULE = "S1B_IW_SLC__1SDV_20210102T032031_20210102T032058_024970_02F8C3_C081"
AOI = "POLYGON ((-148 64.5, -147 64.5, -147 65, -148 65, -148 64.5))"
QUERY = SceneQuery(
    aoi_wkt=AOI,
    start=datetime(2021, 1, 1, tzinfo=UTC),
    end=datetime(2021, 1, 3, tzinfo=UTC),
    constellation=Constellation.SENTINEL1,
    parameters={"producttype": "SLC", "polarisationmode": "VV VH", "sensoroperationalmode": "IW"},
)


def routes(fixtures: Path) -> list[Route]:
    asf = fixtures / "asf"
    return [
        Route(
            "GET", PATH, body_file=asf / "Fairbanks_SLC_jsonlite.json", when=query_has({"output": "jsonlite"})
        ),
        Route(
            "GET",
            PATH,
            body_file=asf / "Fairbanks_SLC_jsonlite2.json",
            when=query_has({"output": "jsonlite2"}),
        ),
        Route(
            "GET",
            PATH,
            body_file=asf / "Fairbanks_SLC.metalink",
            content_type="application/metalink+xml",
            when=query_has({"output": "metalink"}),
        ),
    ]


def searcher(server: ReplayServer, **options: Any) -> AsfSearcher:
    return AsfSearcher(search_url=server.url(PATH), backoff_s=0, **options)


def test_a_recorded_search_with_checksums(shared_fixtures: Path) -> None:
    with ReplayServer(routes(shared_fixtures)) as server:
        result = searcher(server).search(QUERY)
    search, metalink = server.requests
    sent = {k: v[0] for k, v in search.query.items()}
    assert sent == build_params(QUERY)
    assert sent == {
        "platform": "SENTINEL-1",
        "processingLevel": "SLC",
        "beamMode": "IW",
        "polarization": "VV+VH",
        "intersectsWith": AOI,
        "start": "2021-01-01T00:00:00Z",
        "end": "2021-01-03T00:00:00Z",
        "output": "jsonlite",
    }
    # The checksums come from the same search asked as a metalink.
    assert {k: v[0] for k, v in metalink.query.items()} == sent | {"output": "metalink"}
    (scene,) = result.scenes
    assert (scene.source_id, scene.catalogue, result.catalogue, result.truncated) == (
        GRANULE,
        "asf",
        "asf",
        False,
    )
    assert scene.metadata == {
        "download_link": f"https://datapool.asf.alaska.edu/SLC/SB/{GRANULE}.zip",
        "file_name": f"{GRANULE}.zip",
        "size_bytes": 4193723581,
        "checksums": {"MD5": "6dd7f6a56ed98ba7037dfeb833217d5b"},
    }


def test_jsonlite2_and_no_checksums(shared_fixtures: Path) -> None:
    with ReplayServer(routes(shared_fixtures)) as server:
        result = searcher(server, output="jsonlite2", fetch_checksums=False).search(QUERY)
    (request,) = server.requests
    assert request.param("output") == "jsonlite2"
    (scene,) = result.scenes
    assert scene.source_id == GRANULE and "checksums" not in scene.metadata
    assert scene.tags["polarisationMode"] == "VV VH"


def test_a_limit_asks_one_row_more(shared_fixtures: Path) -> None:
    with ReplayServer(routes(shared_fixtures)) as server:
        first = searcher(server, fetch_checksums=False).search(QUERY.model_copy(update={"limit": 1}))
        second = searcher(server, fetch_checksums=False).search(
            QUERY.model_copy(update={"limit": 1, "page": 1})
        )
    assert [r.param("maxResults") for r in server.requests] == ["2", "3"]
    assert (len(first.scenes), first.truncated) == (1, False)
    assert (second.scenes, second.truncated) == ([], False)


def test_a_refused_query_shows_the_answer() -> None:
    error = b'{"error": {"type": "VALUE", "report": "Validation Error: intersectsWith"}}'
    with (
        ReplayServer([Route("GET", PATH, status=400, body=error)]) as server,
        pytest.raises(CatalogueError, match=r"answered 400: .*Validation Error: intersectsWith"),
    ):
        searcher(server).search(QUERY)
    assert len(server.requests) == 1


def test_a_429_is_retried_after_its_delay(shared_fixtures: Path) -> None:
    busy = Route("GET", PATH, status=429, body=b"slow down", headers={"Retry-After": "0"}, times=1)
    with ReplayServer([busy, *routes(shared_fixtures)]) as server:
        result = searcher(server).search(QUERY)
    assert [r.param("output") for r in server.requests] == ["jsonlite", "jsonlite", "metalink"]
    assert len(result.scenes) == 1
