"""DEM sources, the output grid, and the geoid: refused without its grid, applied with one.

No EGM2008 grid can be installed here (Debian's proj-data ships EGM96 only; the PROJ CDN is not
reachable), so the correction is checked with a stand-in grid saved under the real grid's name
(tests/support/dem.py: N = 40 + 0.1 lat), which PROJ then uses for EPSG:3855 exactly as the real one.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio

from graphs.dem import (
    PROJ_DATA_ENV,
    DemSource,
    GeoidGridMissingError,
    VerticalDatum,
    add_proj_data_dir,
    check_dem_setup,
    check_geoid_grid,
    geoid_undulation,
    glo30_tile_name,
    glo30_tiles_for,
    utm_epsg,
    utm_grid_for,
    warp_dem,
)
from graphs.errors import GraphError
from tests.support.dem import stand_in_undulation, write_flat_dem, write_geoid_grid

ROME = (12.4964, 41.9028)
AZORES = [(-27.27, 38.62), (-27.18, 38.62), (-27.18, 38.71), (-27.27, 38.71)]


@pytest.fixture
def bare_proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """PROJ with its database only (no grid at all), restored afterwards: a folder to add grids to."""
    original = pyproj.datadir.get_data_dir()
    folder = tmp_path / "proj"
    folder.mkdir()
    shutil.copyfile(Path(original.split(":")[0]) / "proj.db", folder / "proj.db")
    monkeypatch.delenv(PROJ_DATA_ENV, raising=False)
    pyproj.datadir.set_data_dir(str(folder))
    try:
        yield folder
    finally:
        pyproj.datadir.set_data_dir(original)


def test_glo30_tiles_are_named_by_their_south_west_corner() -> None:
    assert glo30_tile_name(38, -28) == "Copernicus_DSM_COG_10_N38_00_W028_00_DEM"
    assert glo30_tile_name(-1, 5) == "Copernicus_DSM_COG_10_S01_00_E005_00_DEM"
    assert glo30_tiles_for((-27.3, 38.6, -26.9, 39.1)) == [
        "Copernicus_DSM_COG_10_N38_00_W028_00_DEM", "Copernicus_DSM_COG_10_N38_00_W027_00_DEM",
        "Copernicus_DSM_COG_10_N39_00_W028_00_DEM", "Copernicus_DSM_COG_10_N39_00_W027_00_DEM",
    ]  # fmt: skip


def test_a_tile_missing_from_the_cache_is_named_with_where_it_is_published(tmp_path: Path) -> None:
    present = tmp_path / "Copernicus_DSM_COG_10_N38_00_W028_00_DEM.tif"
    write_flat_dem(present, (-28, 38, -27, 39), height_m=5)
    source = DemSource.parse(str(tmp_path))
    assert source.rasters_for((-27.5, 38.2, -27.2, 38.8)) == [present]
    with pytest.raises(
        GraphError, match=r"1 GLO-30 tile\(s\) missing: Copernicus_DSM_COG_10_N38_00_W027_00_DEM"
    ):
        source.rasters_for((-27.5, 38.2, -26.5, 38.8))


def test_dem_settings_name_the_variable_and_the_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEOCUBE_INGESTER_DEM", raising=False)
    with pytest.raises(GraphError, match="GEOCUBE_INGESTER_DEM is not set"):
        DemSource.from_env()
    with pytest.raises(GraphError, match="no such file or folder"):
        DemSource.parse(str(tmp_path / "nope.tif"))
    dem = write_flat_dem(tmp_path / "dem.tif", (0, 0, 1, 1), height_m=1)
    with pytest.raises(GraphError, match="datum 'EGM84' is unknown; use one of EGM2008, EGM96, ellipsoid"):
        DemSource.parse(str(dem), "EGM84")
    monkeypatch.setenv("GEOCUBE_INGESTER_DEM", str(dem))
    monkeypatch.setenv("GEOCUBE_INGESTER_DEM_DATUM", "ellipsoid")
    assert DemSource.from_env() == DemSource(path=dem, datum=VerticalDatum.ELLIPSOID)


def test_the_grid_is_the_utm_zone_of_the_footprint_on_whole_pixels() -> None:
    assert utm_epsg(-27.2, 38.6) == 32626 and utm_epsg(151.2, -33.9) == 32756
    grid = utm_grid_for(AZORES, resolution_m=20, margin_px=0)
    assert grid.crs.to_epsg() == 32626
    assert grid.transform.a == 20 and grid.transform.e == -20
    assert grid.transform.c % 20 == 0 and grid.transform.f % 20 == 0
    assert 390 < grid.width < 410 and 490 < grid.height < 510  # ~7.9 km x ~10 km


def test_without_its_grid_the_geoid_is_refused_naming_the_grid_and_the_fix(bare_proj: Path) -> None:
    with pytest.raises(GeoidGridMissingError) as caught:
        check_geoid_grid(VerticalDatum.EGM2008)
    message = str(caught.value)
    assert "us_nga_egm08_25.tif" in message and "no geoid correction" in message
    assert PROJ_DATA_ENV in message and "projsync --file us_nga_egm08_25" in message
    # PROJ itself would have answered, silently, with the ballpark (no correction at all):
    ballpark = pyproj.Transformer.from_crs("EPSG:4326+3855", "EPSG:4979", always_xy=True)
    assert "ballpark" in ballpark.description
    assert ballpark.transform(*ROME, 0.0)[2] == 0.0


def test_warping_refuses_before_reading_anything(bare_proj: Path, tmp_path: Path) -> None:
    dem = write_flat_dem(tmp_path / "dem.tif", (-27.3, 38.6, -27.1, 38.8), height_m=100)
    grid = utm_grid_for(AZORES, resolution_m=100)
    with pytest.raises(GeoidGridMissingError):
        warp_dem(DemSource(path=dem, datum=VerticalDatum.EGM2008), grid)
    heights = warp_dem(DemSource(path=dem, datum=VerticalDatum.ELLIPSOID), grid)  # no geoid needed
    assert np.allclose(heights, 100.0)


def test_with_the_grid_heights_become_ellipsoid_heights(bare_proj: Path, tmp_path: Path) -> None:
    grids = tmp_path / "grids"
    write_geoid_grid(grids)
    add_proj_data_dir(grids)
    assert check_geoid_grid(VerticalDatum.EGM2008) is not None
    n_rome = geoid_undulation(np.array([ROME[0]]), np.array([ROME[1]]), VerticalDatum.EGM2008)
    assert n_rome[0] == pytest.approx(stand_in_undulation(ROME[1]), abs=1e-3)
    dem = write_flat_dem(tmp_path / "dem.tif", (-27.4, 38.5, -27.0, 38.9), height_m=100)
    grid = utm_grid_for(AZORES, resolution_m=50)
    heights = warp_dem(DemSource(path=dem), grid)
    x, y = grid.xy_centres()
    _, lats = rasterio.warp.transform(grid.crs, "EPSG:4326", [x[0]] * len(y), list(y))
    expected = 100 + np.asarray(stand_in_undulation(np.array(lats)))
    assert np.abs(heights[:, 0] - expected).max() < 0.01  # 40 + 0.1 lat: about 43.9 m added here


def test_the_folder_setting_is_where_grids_are_found(
    bare_proj: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grids = tmp_path / "env-grids"
    write_geoid_grid(grids)
    monkeypatch.setenv(PROJ_DATA_ENV, str(grids))
    assert check_geoid_grid(VerticalDatum.EGM2008) is not None


def test_the_real_egm2008_grid_gives_about_48_m_at_rome() -> None:
    """Only where the real grid is installed (the CDN's us_nga_egm08_25.tif); skipped visibly elsewhere."""
    try:
        check_geoid_grid(VerticalDatum.EGM2008)
    except GeoidGridMissingError:
        pytest.skip("us_nga_egm08_25.tif is not installed (see graphs/dem.py for where to get it)")
    n = geoid_undulation(np.array([ROME[0]]), np.array([ROME[1]]), VerticalDatum.EGM2008)[0]
    assert 45 < n < 50


DEBIAN_PROJ = Path("/usr/share/proj")


def test_debian_proj_data_egm96_gives_the_real_48_m_at_rome(bare_proj: Path) -> None:
    """A REAL geoid grid: EGM96 (egm96_15.gtx) from Debian's proj-data (``apt-get install proj-data``),
    found by its legacy name for EPSG:5773; EGM96 puts the geoid 48.5 m above WGS 84 at Rome."""
    if not (DEBIAN_PROJ / "egm96_15.gtx").is_file():
        pytest.skip("Debian's proj-data is not installed (apt-get install proj-data)")
    with pytest.raises(GeoidGridMissingError, match=r"us_nga_egm96_15\.tif"):
        check_geoid_grid(VerticalDatum.EGM96)
    add_proj_data_dir(DEBIAN_PROJ)
    n = geoid_undulation(np.array([ROME[0]]), np.array([ROME[1]]), VerticalDatum.EGM96)[0]
    assert n == pytest.approx(48.5, abs=0.2)


def test_glo30_tiles_are_mosaicked_across_their_edge(tmp_path: Path) -> None:
    west_tile = tmp_path / "Copernicus_DSM_COG_10_N38_00_W028_00_DEM"
    west_tile.mkdir()
    write_flat_dem(west_tile / f"{west_tile.name}.tif", (-28, 38, -27, 39), height_m=10)
    write_flat_dem(tmp_path / "Copernicus_DSM_COG_10_N38_00_W027_00_DEM.tif", (-27, 38, -26, 39), height_m=30)
    grid = utm_grid_for([(-27.05, 38.5), (-26.95, 38.52)], resolution_m=100, margin_px=0)
    heights = warp_dem(DemSource.parse(str(tmp_path), "ellipsoid"), grid)
    assert not np.isnan(heights).any()
    assert heights[:, 0].max() == pytest.approx(10) and heights[:, -1].min() == pytest.approx(30)


def test_the_setup_check_refuses_a_missing_grid_before_any_tile(
    bare_proj: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dem = write_flat_dem(tmp_path / "dem.tif", (0, 0, 1, 1), height_m=1)
    monkeypatch.setenv("GEOCUBE_INGESTER_DEM", str(dem))
    monkeypatch.delenv("GEOCUBE_INGESTER_DEM_DATUM", raising=False)
    with pytest.raises(GeoidGridMissingError, match="EGM2008 geoid grid us_nga_egm08_25"):
        check_dem_setup()
    write_geoid_grid(tmp_path / "grids")
    monkeypatch.setenv(PROJ_DATA_ENV, str(tmp_path / "grids"))
    assert check_dem_setup() == DemSource(path=dem)


def test_egm96_stands_in_for_egm2008_only_when_asked(
    bare_proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline, no EGM2008 grid can be installed: an operator may accept Debian's EGM96 for it, with a
    warning; never silently."""
    from graphs.dem import GEOID_FALLBACK_ENV

    if not (DEBIAN_PROJ / "egm96_15.gtx").is_file():
        pytest.skip("Debian's proj-data is not installed (apt-get install proj-data)")
    add_proj_data_dir(DEBIAN_PROJ)
    monkeypatch.delenv(GEOID_FALLBACK_ENV, raising=False)
    with pytest.raises(GeoidGridMissingError, match=f"{GEOID_FALLBACK_ENV}=EGM96"):
        check_geoid_grid(VerticalDatum.EGM2008)
    monkeypatch.setenv(GEOID_FALLBACK_ENV, "egm96")
    n = geoid_undulation(np.array([ROME[0]]), np.array([ROME[1]]), VerticalDatum.EGM2008)[0]
    assert n == pytest.approx(48.5, abs=0.2)  # EGM96's N at Rome; EGM2008's is within a metre of it
    monkeypatch.setenv(GEOID_FALLBACK_ENV, "EGM84")
    with pytest.raises(GraphError, match="only EGM96 can stand in for EGM2008"):
        check_geoid_grid(VerticalDatum.EGM2008)
