"""Copernicus GLO-30: the cells of a footprint (N/S/E/W, the antimeridian, the poles), the VRT over cached
tiles (ocean cells read 0, read back across the antimeridian), and how ``glo30`` reaches the S1 graph.

Tiles are the generated ones of tests/support/dem.py (the bucket's layout at 10"); the S3 side is in
tests/integration/providers/test_copdem_s3.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
import rasterio.warp

from common.settings import Settings
from graphs.dem import (
    DEM_DATUM_ENV,
    DEM_ENV,
    GLO30_VRT,
    PROJ_DATA_ENV,
    DemSource,
    VerticalDatum,
    check_dem_setup,
    graph_needs_dem,
    utm_grid_for,
    warp_dem,
)
from graphs.errors import GraphError
from graphs.loader import load_graph
from providers.copdem import (
    Glo30Provider,
    Glo30Tile,
    LonLatBox,
    default_cache_dir,
    footprint_box,
    open_glo30_store,
    tiles_for_box,
    tiles_for_footprint,
    write_vrt,
)
from providers.errors import DownloadError
from tests.support.dem import glo30_test_height, glo30_tile_bytes, write_geoid_grid

N = "Copernicus_DSM_COG_10_{}_00_{}_00_DEM"
ROME = "POLYGON((12.3 41.8, 12.7 41.8, 12.7 42.1, 12.3 42.1, 12.3 41.8))"
ACROSS_180 = "POLYGON((179.7 65.1, -179.6 65.1, -179.6 65.4, 179.7 65.4, 179.7 65.1))"


def names(tiles: list[Glo30Tile]) -> list[str]:
    return [t.name for t in tiles]


def test_tiles_are_named_by_their_south_west_corner_in_every_hemisphere() -> None:
    assert Glo30Tile(41, 12).name == "Copernicus_DSM_COG_10_N41_00_E012_00_DEM"
    assert Glo30Tile(41, 12).key == f"{N.format('N41', 'E012')}/{N.format('N41', 'E012')}.tif"
    assert Glo30Tile(-14, -172).name == N.format("S14", "W172")
    assert Glo30Tile(0, 0).name == N.format("N00", "E000")
    assert Glo30Tile(-1, -1).name == N.format("S01", "W001")
    assert Glo30Tile(-90, -180).name == N.format("S90", "W180")
    assert Glo30Tile(89, 179).name == N.format("N89", "E179")


def test_a_footprint_takes_the_cells_it_touches_with_negative_coordinates() -> None:
    assert names(tiles_for_footprint(ROME, margin_deg=0)) == [
        N.format("N41", "E012"),
        N.format("N42", "E012"),
    ]
    south_west = "POLYGON((-0.6 -1.3, -0.2 -1.3, -0.2 -0.9, -0.6 -0.9, -0.6 -1.3))"
    assert names(tiles_for_footprint(south_west, margin_deg=0)) == [
        N.format("S02", "W001"),
        N.format("S01", "W001"),
    ]
    # the margin reaches the next cell; a footprint edge on a whole degree does not
    near_edge = "POLYGON((12.97 41.2, 12.99 41.2, 12.99 41.3, 12.97 41.2))"
    assert names(tiles_for_footprint(near_edge, margin_deg=0.05)) == [
        N.format("N41", "E012"),
        N.format("N41", "E013"),
    ]
    assert names(tiles_for_box(LonLatBox(12.0, 41.0, 13.0, 42.0))) == [N.format("N41", "E012")]


@pytest.mark.parametrize(
    "footprint",
    [
        ACROSS_180,  # one ring jumping across 180°
        "MULTIPOLYGON(((179.7 65.1, 180 65.1, 180 65.4, 179.7 65.4, 179.7 65.1)),"
        "((-180 65.1, -179.6 65.1, -179.6 65.4, -180 65.4, -180 65.1)))",  # split at 180° (RFC 7946 §3.1.9)
    ],
)
def test_a_footprint_across_the_antimeridian_takes_both_sides_only(footprint: str) -> None:
    box = footprint_box(footprint, margin_deg=0)
    assert (box.west, box.east) == pytest.approx((179.7, 180.4))
    assert names(tiles_for_box(box)) == [N.format("N65", "E179"), N.format("N65", "W180")]


def test_a_ring_around_a_pole_takes_every_longitude_up_to_the_pole() -> None:
    cap = "POLYGON((0 88.6, 90 88.6, 180 88.6, -90 88.6, 0 88.6))"
    box = footprint_box(cap, margin_deg=0)
    assert (box.west, box.south, box.east, box.north) == pytest.approx((-180, 88.6, 180, 90))
    tiles = tiles_for_box(box)
    assert len(tiles) == 720 and {t.lat for t in tiles} == {88, 89}
    assert {t.lon for t in tiles} == set(range(-180, 180))
    south = footprint_box("POLYGON((0 -88.2, -90 -88.2, 180 -88.2, 90 -88.2, 0 -88.2))", margin_deg=0.5)
    assert (south.south, south.north) == pytest.approx((-90, -87.7))
    assert {t.lat for t in tiles_for_box(south)} == {-90, -89, -88}
    assert names(tiles_for_box(south))[0] == N.format("S90", "W180")


def test_a_footprint_that_is_not_a_geometry_is_a_typed_error() -> None:
    with pytest.raises(DownloadError, match="not a WKT geometry"):
        footprint_box("POLYGON((1 2, 3")
    with pytest.raises(DownloadError, match="empty"):
        footprint_box("POLYGON EMPTY")


def test_the_bucket_setting_takes_s3_or_an_s3_compatible_endpoint_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "AWS_ENDPOINT_URL", "http://127.0.0.1:9000"
    )  # the worker's own storage: not for the DEM
    store, prefix = open_glo30_store("s3://copernicus-dem-30m")
    assert prefix == "" and store.config["skip_signature"] in (True, "true")  # unsigned: no worker key sent
    assert store.config["endpoint"] == "https://copernicus-dem-30m.s3.eu-central-1.amazonaws.com"
    store, prefix = open_glo30_store("http://127.0.0.1:9/mirror/glo30")
    assert prefix == "glo30" and store.config["endpoint"] == "http://127.0.0.1:9"
    with pytest.raises(DownloadError, match="GEOCUBE_INGESTER_DEM_GLO30_URL='ftp://x/y'"):
        open_glo30_store("ftp://x/y")


def test_the_cache_defaults_under_the_workdir_then_the_xdg_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir(Settings(dem_cache=tmp_path / "c")) == tmp_path / "c"
    assert default_cache_dir(Settings(workdir=tmp_path / "w")) == tmp_path / "w" / "dem-cache"
    assert default_cache_dir(Settings()) == tmp_path / "xdg" / "geocube-ingester" / "copernicus-dem-30m"


def cache_tile(cache: Path, tile: Glo30Tile) -> Path:
    path = cache / tile.name / f"{tile.name}.tif"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(glo30_tile_bytes(tile.lat, tile.lon))
    return path


def sample(vrt: Path, points: list[tuple[float, float]]) -> np.ndarray:
    with rasterio.open(vrt) as src:
        return np.array([v[0] for v in src.sample(points)])


def test_the_vrt_covers_the_cells_with_the_tiles_heights_and_0_where_the_ocean_has_no_tile(
    tmp_path: Path,
) -> None:
    land, sea = Glo30Tile(41, 12), Glo30Tile(42, 12)
    tiles = {land: cache_tile(tmp_path, land)}
    vrt = write_vrt(tmp_path / "dem.vrt", tiles, [land, sea], box=footprint_box(ROME))
    with rasterio.open(vrt) as src:
        assert src.crs.to_epsg() == 4326 and src.nodata is None
        assert src.bounds.left == pytest.approx(12 - 1 / 720) and src.bounds.top == pytest.approx(
            43 + 1 / 720
        )
        assert (src.width, src.height) == (360, 720)
    points = [(12.5, 41.5), (12.25, 41.1), (12.9, 41.95)]
    expected = glo30_test_height(np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    assert sample(vrt, points) == pytest.approx(expected, abs=0.01)  # pixel centres on the tile's steps
    assert sample(vrt, [(12.5, 42.5), (12.1, 42.9)]).tolist() == [0.0, 0.0]
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary name


@pytest.mark.parametrize(
    ("fine", "coarse"), [(Glo30Tile(49, 12), Glo30Tile(50, 12)), (Glo30Tile(-50, 12), Glo30Tile(-51, 12))]
)
def test_the_vrt_joins_tiles_of_two_latitude_bands_on_the_finest_spacing(
    tmp_path: Path, fine: Glo30Tile, coarse: Glo30Tile
) -> None:
    """Beyond 50° a GLO-30 tile has 2/3 of the columns (the bucket's readme): the VRT keeps the finer
    tile's pixels as they are and resamples the coarser one bilinearly."""
    tiles = {fine: cache_tile(tmp_path, fine), coarse: tmp_path / coarse.name / f"{coarse.name}.tif"}
    tiles[coarse].parent.mkdir()
    tiles[coarse].write_bytes(glo30_tile_bytes(coarse.lat, coarse.lon, width=240))
    box = footprint_box(f"POINT(12.5 {max(fine.lat, coarse.lat)})", margin_deg=0.3)
    vrt = write_vrt(tmp_path / "dem.vrt", tiles, [fine, coarse], box=box)
    with rasterio.open(vrt) as src:
        assert src.res == pytest.approx((1 / 360, 1 / 360)) and (src.width, src.height) == (360, 720)
        heights = src.read(1)
        x = src.transform.c + src.transform.a * (np.arange(src.width) + 0.5)
        y = src.transform.f + src.transform.e * (np.arange(src.height) + 0.5)
    error = np.abs(heights - glo30_test_height(x[None, :], y[:, None]))
    fine_rows = slice(0, 360) if fine.lat > coarse.lat else slice(360, 720)
    coarse_rows = slice(360, 720) if fine.lat > coarse.lat else slice(0, 360)
    assert error[fine_rows].max() < 0.01  # copied
    # bilinear on 15" columns; the last column lies past the coarse tile's last pixel centre (clamped)
    assert error[coarse_rows, :-1].max() < 5


def test_the_vrt_across_the_antimeridian_reads_both_tiles_and_warps_to_utm(tmp_path: Path) -> None:
    east, west = Glo30Tile(65, 179), Glo30Tile(65, -180)
    tiles = {east: cache_tile(tmp_path, east), west: cache_tile(tmp_path, west)}
    box = footprint_box(ACROSS_180)
    vrt = write_vrt(tmp_path / "dem.vrt", tiles, [east, west], box=box)
    with rasterio.open(vrt) as src:
        assert src.bounds.left == pytest.approx(179 - 1 / 720) and src.bounds.right == pytest.approx(
            181 - 1 / 720
        )
    # on pixel centres: 179.25° and 180.75° (= -179.25° in the west tile), 65.6°
    assert sample(vrt, [(179.25, 65.6)])[0] == pytest.approx(float(glo30_test_height(179.25, 65.6)), abs=0.01)
    assert sample(vrt, [(180.75, 65.6)])[0] == pytest.approx(
        float(glo30_test_height(-179.25, 65.6)), abs=0.01
    )
    grid = utm_grid_for([(179.8, 65.2), (-179.7, 65.3)], resolution_m=200, crs="EPSG:32660")
    heights = warp_dem(DemSource(path=vrt, datum=VerticalDatum.ELLIPSOID), grid, nodata_height_m=None)
    assert not np.isnan(heights).any() and heights.std() > 50  # both sides of 180°, with their relief
    x, y = grid.xy_centres()
    lon, lat = rasterio.warp.transform(grid.crs, "EPSG:4326", [x[-3]], [y[3]])
    assert lon[0] < -179  # the east edge of the grid is west of the antimeridian
    assert heights[3, -3] == pytest.approx(float(glo30_test_height(lon[0], lat[0])), abs=25)


def test_only_graphs_with_the_s1_backscatter_step_need_a_dem() -> None:
    assert graph_needs_dem(load_graph("S1Backscatter"))
    assert not graph_needs_dem(load_graph("ExtractS2Bands"))
    assert not graph_needs_dem(load_graph("ExtractLandsatBands"))


def test_glo30_means_the_vrt_of_the_tile_workdir_with_egm2008_heights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEM_ENV, "copernicus-glo30")
    monkeypatch.delenv(DEM_DATUM_ENV, raising=False)
    with pytest.raises(GraphError, match=r"no GLO-30 VRT at .*\.dem/glo30\.vrt: the processing job fetches"):
        DemSource.from_env(workdir=tmp_path)
    (tmp_path / GLO30_VRT).parent.mkdir()
    (tmp_path / GLO30_VRT).write_text("<VRTDataset/>")
    assert DemSource.from_env(workdir=tmp_path) == DemSource(path=tmp_path / GLO30_VRT)
    monkeypatch.chdir(tmp_path)  # a step runs in its workdir
    assert DemSource.from_env().path == Path.cwd() / GLO30_VRT
    monkeypatch.setenv(DEM_DATUM_ENV, "EGM96")
    with pytest.raises(
        GraphError, match="GLO-30 heights are above EGM2008, but GEOCUBE_INGESTER_DEM_DATUM=EGM96"
    ):
        DemSource.from_env(workdir=tmp_path)


@pytest.fixture
def proj_restored() -> Iterator[None]:
    """pyproj's grid folders as they were: a test that adds one must not leave it to later tests."""
    original = pyproj.datadir.get_data_dir()
    try:
        yield
    finally:
        pyproj.datadir.set_data_dir(original)


@pytest.mark.usefixtures("proj_restored")
def test_the_setup_check_for_glo30_needs_the_egm2008_grid_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEM_ENV, "glo30")
    monkeypatch.delenv(DEM_DATUM_ENV, raising=False)
    write_geoid_grid(tmp_path / "grids")  # the stand-in EGM2008 grid (tests/support/dem.py)
    monkeypatch.setenv(PROJ_DATA_ENV, str(tmp_path / "grids"))
    source = check_dem_setup()
    assert source == DemSource(glo30_per_tile=True)
    with pytest.raises(GraphError, match="made by the processing job"):
        source.rasters_for((0, 0, 1, 1))


def test_a_cache_folder_source_reads_the_fetchers_ocean_marker_as_sea_level(tmp_path: Path) -> None:
    provider = Glo30Provider(cache_dir=tmp_path, url="http://127.0.0.1:9/b")
    land = Glo30Tile(38, -28)
    cache_tile(tmp_path, land)
    provider.ocean_marker(Glo30Tile(38, -27)).write_text("absent\n")
    source = DemSource.parse(str(tmp_path), "ellipsoid")
    assert source.rasters_for((-27.9, 38.1, -26.5, 38.9)) == [provider.tile_path(land)]
