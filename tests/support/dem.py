"""DEMs and geoid grids that the tests generate (no DEM ships on PyPI; no EGM2008 grid is installed here).

- :func:`write_relief_dem`: a GeoTIFF in EPSG:4326 at 1 arc second (GLO-30's spacing) over given bounds,
  heights above the geoid: hills of ``amplitude_m`` (slopes up to about 25° by default) north of
  ``coast_lat`` and 0 (the sea) south of it; optionally one steep north-south ridge (``ridge_slope_deg``,
  across the range direction of either pass) to produce layover and shadow;
- :func:`write_flat_dem`: a constant height;
- :func:`glo30_tile_bytes`: one Copernicus GLO-30 tile as the public bucket serves it (a COG in EPSG:4326,
  its pixel centres on whole steps, so its origin half a pixel west and north of the cell's corner: the
  layout ``gdalinfo`` shows for ``Copernicus_DSM_COG_10_S14_00_W172_00_DEM.tif``, Sentinel Hub forum
  thread 3027), with relief, but at 10" (360 x 360) instead of 1" to stay small; its heights are
  :func:`glo30_test_height`, a smooth function of (lon, lat) that the tests read back;
- :func:`write_geoid_grid`: a global 1° vertical-offset grid in PROJ's GeoTIFF form, saved under the name
  of the real EGM2008 grid (``us_nga_egm08_25.tif``), whose undulation is the known field
  ``N = 40 + 0.1 · lat`` metres (not the real geoid: a stand-in that lets the tests check that the
  correction is applied, and by how much).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

ARC_SECOND = 1 / 3600


def _write(path: Path, heights: np.ndarray, west: float, north: float, step: float, crs: str) -> Path:
    profile = {"driver": "GTiff", "width": heights.shape[1], "height": heights.shape[0], "count": 1,
               "dtype": "float32", "crs": crs, "transform": Affine(step, 0, west, 0, -step, north),
               "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "DEFLATE"}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(heights.astype(np.float32), 1)
    return path


def _axes(bounds: tuple[float, float, float, float], step: float) -> tuple[np.ndarray, np.ndarray]:
    west, south, east, north = bounds
    lons = west + step * (np.arange(round((east - west) / step)) + 0.5)
    lats = north - step * (np.arange(round((north - south) / step)) + 0.5)
    return lons, lats


def write_relief_dem(
    path: Path, bounds: tuple[float, float, float, float], *, coast_lat: float | None = None,
    amplitude_m: float = 300.0, wavelength_m: float = 2000.0, ridge_slope_deg: float | None = None,
    ridge_lon: float | None = None,
) -> Path:  # fmt: skip
    lons, lats = _axes(bounds, ARC_SECOND)
    x = (lons - lons[0])[None, :] * 111_320 * np.cos(np.radians(lats.mean()))
    y = (lats - lats[-1])[:, None] * 110_574
    k = 2 * np.pi / wavelength_m
    heights = amplitude_m * (0.5 + 0.5 * np.sin(k * x) * np.cos(k * y))
    if coast_lat is not None:
        heights = np.where(lats[:, None] >= coast_lat, heights, 0.0)
    if ridge_slope_deg is not None:
        centre = lons.mean() if ridge_lon is None else ridge_lon
        distance = np.abs(lons[None, :] - centre) * 111_320 * np.cos(np.radians(lats.mean())) + 0 * y
        ridge = np.maximum(0.0, 600.0 - distance * np.tan(np.radians(ridge_slope_deg)))
        heights = np.maximum(heights, ridge)
    return _write(path, heights, bounds[0], bounds[3], ARC_SECOND, "EPSG:4326")


def write_dem_from_points(
    path: Path, bounds: tuple[float, float, float, float], points: np.ndarray, heights: np.ndarray
) -> Path:
    """Heights interpolated linearly between scattered (lon, lat) points (nearest outside their hull)."""
    from scipy.interpolate import griddata  # type: ignore[import-untyped]

    lons, lats = _axes(bounds, 10 * ARC_SECOND)
    mesh = np.stack(np.meshgrid(lons, lats), axis=-1).reshape(-1, 2)
    linear = griddata(points, heights, mesh, method="linear")
    nearest = griddata(points, heights, mesh, method="nearest")
    values = np.where(np.isnan(linear), nearest, linear).reshape(len(lats), len(lons))
    return _write(path, values, bounds[0], bounds[3], 10 * ARC_SECOND, "EPSG:4326")


def write_flat_dem(path: Path, bounds: tuple[float, float, float, float], *, height_m: float) -> Path:
    lons, lats = _axes(bounds, 10 * ARC_SECOND)
    return _write(path, np.full((len(lats), len(lons)), height_m), bounds[0], bounds[3], 10 * ARC_SECOND,
                  "EPSG:4326")  # fmt: skip


def stand_in_undulation(lat: np.ndarray | float) -> np.ndarray | float:
    return 40.0 + 0.1 * np.asarray(lat)


def write_geoid_grid(folder: Path, name: str = "us_nga_egm08_25.tif") -> Path:
    """A global grid of N = 40 + 0.1 lat (module docstring), pixel centres on whole degrees."""
    folder.mkdir(parents=True, exist_ok=True)
    lats = np.arange(90, -90.5, -1.0)
    values = np.repeat(np.asarray(stand_in_undulation(lats))[:, None], 361, axis=1)
    return _write(folder / name, values, -180.5, 90.5, 1.0, "EPSG:4979")


@contextmanager
def proj_data_restored() -> Iterator[str]:
    """pyproj's grid folders as they were on exit (a test adding one must not leave it to later ones);
    yields them."""
    import pyproj

    original = pyproj.datadir.get_data_dir()
    try:
        yield original
    finally:
        pyproj.datadir.set_data_dir(original)


@contextmanager
def stand_in_geoid(folder: Path) -> Iterator[Path]:
    """The stand-in EGM2008 grid written in ``folder`` and visible to PROJ until exit."""
    from graphs.dem import add_proj_data_dir

    with proj_data_restored():
        write_geoid_grid(folder)
        add_proj_data_dir(folder)
        yield folder


def glo30_test_height(lon: np.ndarray | float, lat: np.ndarray | float) -> np.ndarray:
    """Heights of the generated GLO-30 tiles: 500 + hills of ±300 m (10 km wavelength), > 0 everywhere."""
    lon_a, lat_a = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    return np.asarray(500.0 + 300.0 * np.sin(lon_a * 2 * np.pi * 11) * np.cos(lat_a * 2 * np.pi * 11))


def glo30_tile_bytes(lat: int, lon: int, *, size: int = 360, width: int | None = None) -> bytes:
    """The cell (lat, lon)'s tile (module docstring) as COG bytes, ``size`` rows and ``width`` columns
    (default ``size``; fewer north of 50°, as the bucket's readme table says: 2/3 of them at 50-60°)."""
    import tempfile

    columns = width or size
    step_x, step_y = 1.0 / columns, 1.0 / size
    cols, rows = np.arange(columns) * step_x, np.arange(size) * step_y
    heights = glo30_test_height(lon + cols[None, :], (lat + 1) - rows[:, None]).astype(np.float32)
    origin = Affine(step_x, 0, lon - step_x / 2, 0, -step_y, lat + 1 + step_y / 2)
    profile = {"driver": "COG", "width": columns, "height": size, "count": 1, "dtype": "float32",
               "crs": "EPSG:4326", "transform": origin, "compress": "DEFLATE", "blocksize": 256}  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tile.tif"
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(heights, 1)
        return path.read_bytes()
