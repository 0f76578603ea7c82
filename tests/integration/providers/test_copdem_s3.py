"""Copernicus GLO-30 fetched from an S3 bucket laid out as the public one, served by moto on 127.0.0.1
behind the scripted fault proxy (tests/support/s3_server.py), into a cache, then mosaicked as a VRT.

The bucket's objects are generated (tests/support/dem.py ``glo30_tile_bytes``: COGs with relief, the
public tiles' naming and half-pixel origin, at 10" to stay small); a cell with no object is the ocean,
as the bucket's readme says (https://copernicus-dem-30m.s3.amazonaws.com/readme.html).
"""

from __future__ import annotations

import fcntl
import http.client
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pyproj
import pytest
import rasterio

from catalogue.models import Constellation, Tile
from common.settings import Settings
from graphs.dem import DEM_DATUM_ENV, DEM_ENV, GLO30_VRT, PROJ_DATA_ENV, DemSource, utm_grid_for, warp_dem
from graphs.loader import load_graph
from graphs.runner import run_process
from jobs.dem import prepare_tile_dem
from jobs.models import SceneRef, TileJob
from providers.copdem import Glo30Provider, Glo30Tile
from providers.errors import DownloadAuthError, DownloadError, DownloadTemporaryError
from providers.objects import READ_SIZE
from tests.support.dem import glo30_test_height, glo30_tile_bytes, stand_in_undulation, write_geoid_grid
from tests.support.s3_server import (
    ACCESS_DENIED_XML,
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    FaultProxy,
    MotoS3,
    fault_proxy,
    moto_s3,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
_buckets = itertools.count()
LAND, SEA = Glo30Tile(41, 12), Glo30Tile(41, 11)
# A burst-sized footprint across the two cells' edge at 12°E (the west cell has no tile: the ocean).
FOOTPRINT = "POLYGON((11.8 41.3, 12.6 41.25, 12.65 41.45, 11.85 41.5, 11.8 41.3))"


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    with moto_s3() as server:
        yield server


@pytest.fixture(autouse=True)
def worker_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker has AWS keys (for its own storage): they must never reach the public bucket."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)


def put_public(s3: MotoS3, bucket: str, key: str, body: bytes) -> None:
    """An object anyone may read (``x-amz-acl: public-read``), as the open data bucket's objects are: the
    provider reads unsigned, and moto refuses unsigned reads of private objects (403)."""
    parts = urlsplit(s3.endpoint)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        auth = f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260101/{REGION}/s3/aws4_request"
        conn.request(
            "PUT", f"/{bucket}/{key}", body=body, headers={"Authorization": auth, "x-amz-acl": "public-read"}
        )
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def new_bucket(s3: MotoS3, tiles: dict[Glo30Tile, bytes]) -> str:
    name = f"copernicus-dem-30m-{next(_buckets)}"
    s3.create_bucket(name)
    for tile, body in tiles.items():
        put_public(s3, name, tile.key, body)
    return name


@pytest.fixture
def bucket(s3: MotoS3) -> str:
    return new_bucket(s3, {LAND: glo30_tile_bytes(LAND.lat, LAND.lon)})


@pytest.fixture
def proxy(s3: MotoS3) -> Iterator[FaultProxy]:
    with fault_proxy(s3.endpoint) as state:
        yield state


def provider(proxy: FaultProxy, bucket: str, cache: Path, **kwargs: object) -> Glo30Provider:
    return Glo30Provider(cache_dir=cache, url=f"{proxy.endpoint}/{bucket}", **kwargs)  # type: ignore[arg-type]


def object_gets(proxy: FaultProxy, tile: Glo30Tile) -> list[dict[str, str]]:
    return [h for m, p, h in proxy.requests if m == "GET" and p.endswith(tile.key)]


def test_a_footprint_gets_its_tiles_fetched_unsigned_the_ocean_marked_and_a_vrt_over_both(
    proxy: FaultProxy, bucket: str, tmp_path: Path
) -> None:
    glo30 = provider(proxy, bucket, tmp_path / "cache")
    dem = glo30.dem_for_footprint(FOOTPRINT, tmp_path / "work" / "dem.vrt")
    assert dem.tiles == {LAND: glo30.tile_path(LAND)} and dem.ocean == [SEA]
    assert sorted(dem.fetched) == sorted([LAND, SEA])
    assert glo30.ocean_marker(SEA).is_file()
    assert glo30.tile_path(LAND).read_bytes() == glo30_tile_bytes(LAND.lat, LAND.lon)
    assert not any("authorization" in {k.lower() for k in h} for _, _, h in proxy.requests)  # unsigned
    assert sum("list-type=2" in p for _, p, _ in proxy.requests) == 1  # the bucket holds tiles: 404 is sea
    with rasterio.open(dem.vrt) as src:
        west, south, east, north = src.bounds
        assert west < 11.8 and east > 12.65 and south < 41.25 and north > 41.5  # covers the footprint
        # pixel centres on the tiles' 10" steps: the land reads the tile's heights, the sea 0
        land_points = [(12.25, 41.3), (12.6, 41.45), (12.0, 41.5)]
        values = np.array([v[0] for v in src.sample([*land_points, (11.9, 41.4), (11.5, 41.9)])])
    expected = glo30_test_height(np.array([p[0] for p in land_points]), np.array([p[1] for p in land_points]))
    assert values[:3] == pytest.approx(expected, abs=0.01)
    assert values[3:].tolist() == [0.0, 0.0]


def test_a_bucket_without_tiles_is_refused_rather_than_read_as_the_ocean(
    s3: MotoS3, proxy: FaultProxy, tmp_path: Path
) -> None:
    name = new_bucket(s3, {})
    put_public(s3, name, "readme.html", b"<html>another bucket</html>")
    glo30 = provider(proxy, name, tmp_path / "cache")
    with pytest.raises(DownloadError, match=r"GEOCUBE_INGESTER_DEM_GLO30_URL=.* lists no Copernicus_DSM"):
        glo30.dem_for_footprint(FOOTPRINT, tmp_path / "dem.vrt")
    assert glo30.cached(SEA) == (False, None) and not (tmp_path / "dem.vrt").exists()


def test_a_second_run_uses_the_cache_with_zero_requests(
    proxy: FaultProxy, bucket: str, tmp_path: Path
) -> None:
    provider(proxy, bucket, tmp_path / "cache").dem_for_footprint(FOOTPRINT, tmp_path / "a.vrt")
    proxy.requests.clear()
    again = provider(proxy, bucket, tmp_path / "cache").dem_for_footprint(FOOTPRINT, tmp_path / "b.vrt")
    assert proxy.requests == [] and again.fetched == []
    assert (tmp_path / "a.vrt").read_text() == (tmp_path / "b.vrt").read_text()


_FETCH_ONE = """
import json, sys
from pathlib import Path
from providers.copdem import Glo30Provider, Glo30Tile
path, fetched = Glo30Provider(cache_dir=Path(sys.argv[1]), url=sys.argv[2]).fetch_tile(Glo30Tile(41, 12))
print(json.dumps({"path": str(path), "fetched": fetched}))
"""


def _holds_open(pid: int, path: Path) -> bool:
    with_fds = Path(f"/proc/{pid}/fd")
    try:
        return any(fd.readlink() == path for fd in with_fds.iterdir())
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see the waiting processes")
def test_two_processes_fetching_one_tile_fetch_it_once(
    proxy: FaultProxy, bucket: str, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    lock = cache / ".locks" / f"{LAND.name}.lock"
    lock.parent.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # both find the cache empty, then wait here
        runs = [
            subprocess.Popen(
                [sys.executable, "-c", _FETCH_ONE, str(cache), f"{proxy.endpoint}/{bucket}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=REPO,
            )
            for _ in range(2)
        ]
        deadline = time.monotonic() + 60
        while not all(_holds_open(run.pid, lock) for run in runs):
            assert time.monotonic() < deadline, "the fetchers never reached the tile's lock"
            assert all(run.poll() is None for run in runs), [run.communicate() for run in runs]
            time.sleep(0.05)
        fcntl.flock(held, fcntl.LOCK_UN)
    answers = []
    for run in runs:
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        answers.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(a["fetched"] for a in answers) == [False, True]  # one fetched, the other found it
    assert {a["path"] for a in answers} == {str(cache / LAND.name / f"{LAND.name}.tif")}
    assert len(object_gets(proxy, LAND)) == 1
    assert (cache / LAND.name / f"{LAND.name}.tif").read_bytes() == glo30_tile_bytes(LAND.lat, LAND.lon)


def test_a_cut_download_is_resumed_from_where_it_stopped(
    proxy: FaultProxy, bucket: str, tmp_path: Path
) -> None:
    """Cut after one full read (providers.objects.READ_SIZE): the ranged GET starts where the .part ends."""
    cut = READ_SIZE + 40_000
    proxy.script.append({"cut_at": cut})
    glo30 = provider(proxy, bucket, tmp_path / "cache", max_retries=0)
    path, fetched = glo30.fetch_tile(LAND)
    body = glo30_tile_bytes(LAND.lat, LAND.lon)
    assert fetched and path is not None and path.read_bytes() == body
    gets = object_gets(proxy, LAND)
    assert len(gets) == 2
    start = int({k.lower(): v for k, v in gets[1].items()}["range"].removeprefix("bytes=").rstrip("-"))
    assert READ_SIZE <= start <= cut  # measured: the cut itself (302144), nothing written is asked again
    assert proxy.body_bytes[f"/{bucket}/{LAND.key}"] == len(body) + (cut - start)
    assert not list(path.parent.glob("*.part"))


def test_a_download_cut_before_its_first_read_is_fetched_again(
    proxy: FaultProxy, bucket: str, tmp_path: Path
) -> None:
    proxy.script.append({"cut_at": 1000})
    path, fetched = provider(proxy, bucket, tmp_path / "cache", max_retries=0).fetch_tile(LAND)
    assert fetched and path is not None and path.read_bytes() == glo30_tile_bytes(LAND.lat, LAND.lon)
    assert len(object_gets(proxy, LAND)) == 2


def test_a_failing_store_is_temporary_and_leaves_nothing_in_the_cache(
    proxy: FaultProxy, bucket: str, tmp_path: Path
) -> None:
    proxy.script.extend({"status": 503, "body": b"<Error><Code>SlowDown</Code></Error>", "match": LAND.name}
                        for _ in range(4))  # fmt: skip
    glo30 = provider(proxy, bucket, tmp_path / "cache", max_retries=0)
    with pytest.raises(DownloadTemporaryError, match=LAND.name):
        glo30.fetch_tile(LAND)
    assert glo30.cached(LAND) == (False, None)  # neither a tile nor an ocean marker


def test_a_refused_read_names_the_setting(proxy: FaultProxy, bucket: str, tmp_path: Path) -> None:
    proxy.script.append({"status": 403, "body": ACCESS_DENIED_XML, "match": LAND.name})
    with pytest.raises(DownloadAuthError, match="GEOCUBE_INGESTER_DEM_GLO30_URL") as caught:
        provider(proxy, bucket, tmp_path / "cache", max_retries=0).fetch_tile(LAND)
    assert SECRET_KEY not in str(caught.value) and ACCESS_KEY not in str(caught.value)


def test_an_object_that_is_not_a_geotiff_is_refused_and_removed(
    s3: MotoS3, proxy: FaultProxy, tmp_path: Path
) -> None:
    name = new_bucket(s3, {LAND: b"<html>not a tile</html>"})
    glo30 = provider(proxy, name, tmp_path / "cache")
    with pytest.raises(DownloadError, match="not a georeferenced GeoTIFF"):
        glo30.fetch_tile(LAND)
    assert glo30.cached(LAND) == (False, None)


@pytest.fixture
def stand_in_egm2008(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The stand-in EGM2008 grid (tests/support/dem.py: N = 40 + 0.1 lat); pyproj's folders restored."""
    original = pyproj.datadir.get_data_dir()
    write_geoid_grid(tmp_path / "grids")
    monkeypatch.setenv(PROJ_DATA_ENV, str(tmp_path / "grids"))
    try:
        yield
    finally:
        pyproj.datadir.set_data_dir(original)


def _job(graph: str) -> TileJob:
    when = datetime(2022, 9, 18, 5, 10, tzinfo=UTC)
    tile = Tile(source_id="A117_IW2_8029", scene_id="S1A_IW_SLC__1SDV_20220918T051020", date=when,
                footprint_wkt=FOOTPRINT)  # fmt: skip
    scene = SceneRef(source_id=tile.scene_id, date=when, constellation=Constellation.SENTINEL1)
    return TileJob(aoi="rome", scene=scene, tile=tile, graph_name=graph, storage_uri="/unused")


@pytest.mark.usefixtures("stand_in_egm2008")
def test_the_s1_graph_of_a_tile_gets_its_glo30_vrt_in_ellipsoid_heights(
    proxy: FaultProxy, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEM_ENV, "glo30")
    monkeypatch.delenv(DEM_DATUM_ENV, raising=False)
    settings = Settings(dem_cache=tmp_path / "cache", dem_glo30_url=f"{proxy.endpoint}/{bucket}")
    workdir = tmp_path / "tile"
    workdir.mkdir()
    assert prepare_tile_dem(load_graph("ExtractS2Bands"), _job("ExtractS2Bands"), workdir, settings) is None
    assert proxy.requests == [] and not (workdir / GLO30_VRT).exists()  # S2 needs no DEM
    dem = prepare_tile_dem(load_graph("S1Backscatter"), _job("S1Backscatter"), workdir, settings)
    assert dem is not None and dem.vrt == workdir / GLO30_VRT
    source = DemSource.from_env(workdir=workdir)
    assert source == DemSource(path=workdir / GLO30_VRT)
    # what a step reads: a process in the workdir with the step environment (graphs.runner)
    script = "from graphs.dem import DemSource; print('DEM', DemSource.from_env().path)"
    done = run_process([sys.executable, "-c", script], cwd=workdir, timeout_s=60, label="step",
                       env={"PYTHONPATH": str(REPO)})  # fmt: skip
    assert done.returncode == 0 and f"DEM {workdir / GLO30_VRT}" in done.lines
    grid = utm_grid_for([(12.2, 41.3), (12.5, 41.4)], resolution_m=100)
    heights = warp_dem(source, grid)
    x, y = grid.xy_centres()
    lon, lat = rasterio.warp.transform(grid.crs, "EPSG:4326", [x[10]], [y[10]])
    expected = float(glo30_test_height(lon[0], lat[0])) + float(stand_in_undulation(lat[0]))
    assert heights[10, 10] == pytest.approx(expected, abs=20)  # the tile's relief + N (bilinear, 100 m)
    assert heights.std() > 50
