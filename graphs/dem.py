"""Digital elevation models for SAR geocoding: the source, the output grid, the geoid.

A DEM comes from a configured source (:class:`DemSource`): a local GeoTIFF or VRT, or a folder caching
Copernicus DEM GLO-30 tiles (their public names, :func:`glo30_tile_name`). It is warped to the output
grid (:class:`MapGrid`, by default the UTM zone of the burst: :func:`utm_grid_for`) with bilinear
resampling, and its heights are turned into **ellipsoid heights**, which sarsen needs (it converts
``(x, y, h)`` to ECEF with a 2D CRS, so ``h`` is read as a height above WGS 84).

The geoid. Copernicus DEM heights are above EGM2008 (``EPSG:3855``). PROJ converts them with the grid
``us_nga_egm08_25.tif``, and when the grid is missing it silently falls back to a *ballpark*
transformation that adds nothing: about 48 m of height error at Rome, tens of metres of misplacement in
SAR geometry. So :func:`check_geoid_grid` refuses to run unless PROJ's best transformation is available
(pyproj ``TransformerGroup.best_available``), and :func:`geoid_undulation` computes the undulation ``N``
(ellipsoid height = orthometric height + N) with that transformation only. The grids are looked for
where pyproj looks (its data folder, ``PROJ_DATA``, its user folder) and in ``GEOCUBE_INGESTER_PROJ_DATA``
(a folder holding e.g. ``us_nga_egm08_25.tif``). Debian's ``proj-data`` ships EGM96 (``egm96_15.gtx``)
but not EGM2008; get it from the PROJ CDN (``projsync --file us_nga_egm08_25`` or
``https://cdn.proj.org/us_nga_egm08_25.tif``).

``GEOCUBE_INGESTER_DEM=glo30`` (or ``copernicus-glo30``) selects Copernicus GLO-30 fetched for each
tile: the processing job (``jobs.dem``, with ``providers.copdem``) fetches the cells of the tile's
footprint into a cache before the graph runs and writes a VRT over them at ``<workdir>/.dem/glo30.vrt``
(:data:`GLO30_VRT`), which :meth:`DemSource.from_env` then opens, its heights EGM2008. Only graphs with a
step that reads the DEM (:func:`graph_needs_dem`: the python ``s1_backscatter.py``) get one.

No Prefect, no network: fetching GLO-30 tiles is the download providers' job; here a missing tile of a
folder source is an error naming it and where it is published (a cell the fetcher found no tile for,
the ocean, has a ``<name>.ocean`` marker and reads as sea level).
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import pyproj
import rasterio
import rasterio.warp
from affine import Affine
from pyproj.transformer import TransformerGroup
from rasterio.crs import CRS
from rasterio.errors import RasterioError

from graphs.errors import GraphError
from graphs.model import Engine, Graph

logger = logging.getLogger(__name__)

PROJ_DATA_ENV = "GEOCUBE_INGESTER_PROJ_DATA"
DEM_ENV = "GEOCUBE_INGESTER_DEM"
DEM_DATUM_ENV = "GEOCUBE_INGESTER_DEM_DATUM"
GLO30_URL = "https://copernicus-dem-30m.s3.amazonaws.com/{name}/{name}.tif"  # the public AWS bucket
GLO30_SELECTORS = ("glo30", "copernicus-glo30")  # GEOCUBE_INGESTER_DEM values: fetch GLO-30 per tile
GLO30_VRT = Path(".dem") / "glo30.vrt"  # in the tile's workdir, written by the processing job
DEM_COMMANDS = frozenset({"s1_backscatter.py"})  # python steps that read GEOCUBE_INGESTER_DEM
GEOID_STEP_PX = 16  # N is computed every 16 output pixels and interpolated (geoid grids are 2.5'-15')


class GeoidGridMissingError(GraphError):
    """PROJ lacks the grid that turns the DEM's heights into ellipsoid heights."""


class VerticalDatum(StrEnum):
    """What a DEM's heights are measured from."""

    EGM2008 = "EGM2008"  # Copernicus DEM (GLO-30, GLO-90)
    EGM96 = "EGM96"  # SRTM, older products
    ELLIPSOID = "ellipsoid"  # heights above WGS 84 already


# compound CRS of each datum (horizontal WGS 84 + vertical), and the PROJ grid its best path needs
_DATUMS: dict[VerticalDatum, tuple[str, str]] = {
    VerticalDatum.EGM2008: ("EPSG:4326+3855", "us_nga_egm08_25.tif"),
    VerticalDatum.EGM96: ("EPSG:4326+5773", "us_nga_egm96_15.tif"),
}


@dataclass(frozen=True)
class MapGrid:
    """An output grid: CRS, affine transform (north up), size."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @property
    def resolution_m(self) -> float:
        return float(self.transform.a)

    def bounds(self) -> tuple[float, float, float, float]:
        left, top = self.transform.c, self.transform.f
        return left, top + self.transform.e * self.height, left + self.transform.a * self.width, top

    def xy_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """The x of every column centre and the y of every row centre."""
        x = self.transform.c + self.transform.a * (np.arange(self.width) + 0.5)
        y = self.transform.f + self.transform.e * (np.arange(self.height) + 0.5)
        return x, y


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 / UTM zone of a point (326xx north, 327xx south)."""
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def utm_grid_for(
    lonlat: Iterable[tuple[float, float]], *, resolution_m: float, crs: CRS | str | None = None,
    margin_px: int = 2,
) -> MapGrid:  # fmt: skip
    """The grid covering points (a footprint) at ``resolution_m``, in ``crs`` (default: the UTM zone of
    their centre), its edges on multiples of the resolution so that grids of one zone line up.

    Raises:
        GraphError: no point, or a resolution that is not positive.
    """
    points = list(lonlat)
    if not points or not resolution_m > 0:
        raise GraphError(f"a grid needs points and a positive resolution (got {len(points)}, {resolution_m})")
    lons, lats = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    target = (
        CRS.from_user_input(crs) if crs else CRS.from_epsg(utm_epsg(float(lons.mean()), float(lats.mean())))
    )
    xs, ys = rasterio.warp.transform("EPSG:4326", target, lons.tolist(), lats.tolist())
    res = float(resolution_m)
    left = math.floor(min(xs) / res - margin_px) * res
    right = math.ceil(max(xs) / res + margin_px) * res
    bottom = math.floor(min(ys) / res - margin_px) * res
    top = math.ceil(max(ys) / res + margin_px) * res
    return MapGrid(
        target, Affine(res, 0, left, 0, -res, top), round((right - left) / res), round((top - bottom) / res)
    )


# ------------------------------------------------------------------------------------------- source


def glo30_tile_name(lat: int, lon: int) -> str:
    """Copernicus DEM GLO-30 tile of the 1° cell whose south-west corner is (lat, lon):
    ``Copernicus_DSM_COG_10_N38_00_W028_00_DEM`` (the public bucket's naming)."""
    ns, ew = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
    return f"Copernicus_DSM_COG_10_{ns}{abs(lat):02d}_00_{ew}{abs(lon):03d}_00_DEM"


def glo30_tiles_for(bounds_lonlat: tuple[float, float, float, float]) -> list[str]:
    """The GLO-30 tiles covering (west, south, east, north)."""
    west, south, east, north = bounds_lonlat
    return [
        glo30_tile_name(lat, lon)
        for lat in range(math.floor(south), math.floor(north) + 1)
        for lon in range(math.floor(west), math.floor(east) + 1)
    ]


def is_glo30_selected(value: str | None = None) -> bool:
    """Whether ``value`` (default: ``GEOCUBE_INGESTER_DEM``) asks for GLO-30 fetched per tile."""
    chosen = os.environ.get(DEM_ENV, "") if value is None else value
    return chosen.strip().lower() in GLO30_SELECTORS


def graph_needs_dem(graph: Graph) -> bool:
    """Whether a step of ``graph`` reads the DEM (:data:`DEM_COMMANDS`): S1 backscatter, not S2/Landsat."""
    return any(
        step.engine == Engine.PYTHON and Path(step.command).name in DEM_COMMANDS
        for step in graph.processing_steps
    )


@dataclass(frozen=True)
class DemSource:
    """Where the DEM comes from: one raster (``path``: GeoTIFF, VRT), or a GLO-30 tile cache folder
    (``glo30_cache``: ``<name>.tif`` or ``<name>/<name>.tif``); ``datum`` says what its heights are
    measured from (GLO-30: EGM2008). ``glo30_per_tile``: GLO-30 fetched for each tile by the processing
    job (the setup check's answer for ``glo30``, before any tile has its VRT)."""

    path: Path | None = None
    glo30_cache: Path | None = None
    datum: VerticalDatum = VerticalDatum.EGM2008
    glo30_per_tile: bool = False

    @classmethod
    def from_env(cls, workdir: Path | None = None) -> DemSource:
        """``GEOCUBE_INGESTER_DEM`` (a raster, a folder of GLO-30 tiles, or ``glo30``: the VRT the job
        wrote in ``workdir``, default the current folder, where a step runs) and
        ``GEOCUBE_INGESTER_DEM_DATUM`` (EGM2008, EGM96 or ellipsoid; default EGM2008).

        Raises:
            GraphError: the variable is missing, names nothing, or the datum is unknown.
        """
        value = os.environ.get(DEM_ENV, "").strip()
        if not value:
            raise GraphError(
                f"{DEM_ENV} is not set: set it to a DEM raster (GeoTIFF or VRT, heights in metres), to a "
                "folder of Copernicus GLO-30 tiles, or to 'glo30' (tiles fetched for each tile)"
            )
        return cls.parse(value, os.environ.get(DEM_DATUM_ENV, ""), workdir=workdir)

    @classmethod
    def parse(
        cls, value: str, datum: str = VerticalDatum.EGM2008.value, *, workdir: Path | None = None
    ) -> DemSource:
        """A source from a path (a raster file, or a folder of GLO-30 tiles) or ``glo30``, and a datum.

        Raises:
            GraphError: an unknown datum, a datum other than EGM2008 for GLO-30, ``glo30`` without the
                VRT in ``workdir`` (the graph was run outside a processing job), a path naming nothing.
        """
        try:
            vertical = VerticalDatum(datum.strip() or VerticalDatum.EGM2008.value)
        except ValueError:
            known = ", ".join(d.value for d in VerticalDatum)
            raise GraphError(f"DEM datum {datum!r} is unknown; use one of {known}") from None
        if is_glo30_selected(value):
            if vertical != VerticalDatum.EGM2008:
                raise GraphError(
                    f"{DEM_ENV}={value}: Copernicus GLO-30 heights are above EGM2008, but "
                    f"{DEM_DATUM_ENV}={datum}; unset {DEM_DATUM_ENV} or set it to EGM2008"
                )
            vrt = (workdir if workdir is not None else Path.cwd()) / GLO30_VRT
            if not vrt.is_file():
                raise GraphError(
                    f"{DEM_ENV}={value}: no GLO-30 VRT at {vrt}: the processing job fetches the tile's "
                    f"GLO-30 cells and writes it before the graph runs; run the graph through the ingester, "
                    f"or set {DEM_ENV} to a DEM file"
                )
            return cls(path=vrt, datum=VerticalDatum.EGM2008)
        path = Path(value).expanduser()
        if path.is_dir():
            return cls(glo30_cache=path, datum=vertical)
        if not path.is_file():
            raise GraphError(
                f"DEM {value!r}: no such file or folder (a GeoTIFF/VRT, or a GLO-30 tile folder)"
            )
        return cls(path=path, datum=vertical)

    def rasters_for(self, bounds_lonlat: tuple[float, float, float, float]) -> list[Path]:
        """The raster files covering (west, south, east, north).

        Raises:
            GraphError: GLO-30 tiles missing from the cache (each named, with where it is published).
        """
        if self.path is not None:
            return [self.path]
        if self.glo30_cache is None:
            raise GraphError(
                f"{DEM_ENV}=glo30: the tile's GLO-30 VRT ({GLO30_VRT}) is made by the processing job; "
                "this source only says that it will be"
            )
        found, missing = [], []
        for name in glo30_tiles_for(bounds_lonlat):
            if (self.glo30_cache / f"{name}.ocean").is_file():
                continue  # the fetcher found no tile for this cell: the ocean, read as sea level
            candidates = [self.glo30_cache / f"{name}.tif", self.glo30_cache / name / f"{name}.tif"]
            hit = next((c for c in candidates if c.is_file()), None)
            (found.append(hit) if hit else missing.append(name))
        if missing:
            raise GraphError(
                f"DEM cache {self.glo30_cache}: {len(missing)} GLO-30 tile(s) missing: "
                + ", ".join(missing[:4]) + ("…" if len(missing) > 4 else "")
                + f" (published as {GLO30_URL.format(name=missing[0])}); fetch them into the cache first"
            )  # fmt: skip
        return found


# -------------------------------------------------------------------------------------------- geoid


def add_proj_data_dir(folder: Path | str | None = None) -> None:
    """Let PROJ (through pyproj) find grids in ``folder`` (default: ``GEOCUBE_INGESTER_PROJ_DATA``)."""
    target = folder if folder is not None else os.environ.get(PROJ_DATA_ENV, "")
    if not target:
        return
    path = str(Path(target).resolve())
    if path not in pyproj.datadir.get_data_dir().split(os.pathsep):
        pyproj.datadir.append_data_dir(path)


def _user_data_dir() -> str:
    """pyproj's per-user grid folder (where ``projsync`` writes)."""
    return str(getattr(pyproj.datadir, "get_user_data_dir")())  # noqa: B009 - not in pyproj's stubs


def _transformer_group(datum: VerticalDatum) -> TransformerGroup:
    source, _ = _DATUMS[datum]
    with warnings.catch_warnings():  # "Best transformation is not available": we raise our own error
        warnings.simplefilter("ignore", UserWarning)
        return TransformerGroup(source, "EPSG:4979", always_xy=True)


def check_geoid_grid(datum: VerticalDatum) -> pyproj.Transformer | None:
    """The transformation from ``datum`` heights to WGS 84 ellipsoid heights; None for ``ellipsoid``.

    Raises:
        GeoidGridMissingError: PROJ's best transformation is not available (its grid is missing), so PROJ
            would silently apply no geoid correction; the message names the grid and the fix.
    """
    if datum == VerticalDatum.ELLIPSOID:
        return None
    add_proj_data_dir()
    group = _transformer_group(datum)
    _, grid = _DATUMS[datum]
    if not group.best_available or not group.transformers:
        if datum == VerticalDatum.EGM2008 and _geoid_fallback() == VerticalDatum.EGM96:
            _warn_fallback_once(grid)
            return check_geoid_grid(VerticalDatum.EGM96)
        raise GeoidGridMissingError(
            f"the {datum.value} geoid grid {grid} is not available to PROJ, which would then apply no geoid "
            f"correction (heights off by tens of metres, e.g. about 48 m at Rome): put {grid} in "
            f"{PROJ_DATA_ENV} (a folder), PROJ_DATA or {_user_data_dir()} "
            f"(projsync --file {grid.removesuffix('.tif')}, or https://cdn.proj.org/{grid}), or set the DEM "
            f"datum to 'ellipsoid' if its heights are ellipsoidal already"
            + (
                f"; or accept EGM96 for EGM2008 ({GEOID_FALLBACK_ENV}=EGM96, with Debian's proj-data: "
                "differences under a metre in most places, a few metres in mountain ranges)"
                if datum == VerticalDatum.EGM2008
                else ""
            )
        )
    transformer = group.transformers[0]
    if "ballpark" in transformer.description.lower():  # never when best_available; kept as a guard
        raise GeoidGridMissingError(
            f"PROJ offers only a ballpark transformation for {datum.value}: {grid} missing"
        )
    return transformer


GEOID_FALLBACK_ENV = "GEOCUBE_INGESTER_GEOID_FALLBACK"
_fallback_warned: set[str] = set()


def _geoid_fallback() -> VerticalDatum | None:
    """The geoid an operator accepts when EGM2008's grid is missing (only EGM96: opt-in)."""
    raw = os.environ.get(GEOID_FALLBACK_ENV, "").strip()
    if not raw:
        return None
    if raw.upper() != VerticalDatum.EGM96.value:
        raise GraphError(
            f"{GEOID_FALLBACK_ENV}={raw!r}: only EGM96 can stand in for EGM2008 (or leave it unset)"
        )
    return VerticalDatum.EGM96


def _warn_fallback_once(grid: str) -> None:
    if grid not in _fallback_warned:
        _fallback_warned.add(grid)
        logger.warning(
            "%s is missing: EGM2008 heights are corrected with the EGM96 geoid (%s=EGM96); the two differ by "
            "under a metre in most places, by a few metres in mountain ranges with sparse gravity data",
            grid,
            GEOID_FALLBACK_ENV,
        )


def geoid_undulation(lon: np.ndarray, lat: np.ndarray, datum: VerticalDatum) -> np.ndarray:
    """The geoid undulation N (metres) at each point: ellipsoid height = height above the geoid + N.

    Raises:
        GeoidGridMissingError: see :func:`check_geoid_grid`.
    """
    transformer = check_geoid_grid(datum)
    if transformer is None:
        return np.zeros(np.shape(lon), dtype=np.float64)
    _, _, h = transformer.transform(lon, lat, np.zeros(np.shape(lon)), errcheck=True)
    return np.asarray(h, dtype=np.float64)


def _undulation_on_grid(grid: MapGrid, datum: VerticalDatum) -> np.ndarray:
    """N on every pixel of ``grid``: computed every GEOID_STEP_PX pixels, bilinearly interpolated."""
    x, y = grid.xy_centres()
    cols = np.unique(np.r_[np.arange(0, grid.width, GEOID_STEP_PX), grid.width - 1])
    rows = np.unique(np.r_[np.arange(0, grid.height, GEOID_STEP_PX), grid.height - 1])
    xx, yy = np.meshgrid(x[cols], y[rows])
    lon, lat = rasterio.warp.transform(grid.crs, "EPSG:4326", xx.ravel().tolist(), yy.ravel().tolist())
    coarse = geoid_undulation(np.array(lon), np.array(lat), datum).reshape(xx.shape)
    along_x = np.array([np.interp(np.arange(grid.width), cols, r) for r in coarse])
    return np.array([np.interp(np.arange(grid.height), rows, c) for c in along_x.T]).T


def check_dem_setup() -> DemSource:
    """The configured DEM source, once its geoid grid is known to be there: what a worker (or payload
    validation) calls to refuse a Sentinel-1 backscatter graph before any tile is processed.

    ``glo30``: the tiles are fetched for each tile later, so only the datum and the EGM2008 grid are
    checked now; the answer is ``DemSource(glo30_per_tile=True)``.

    Raises:
        GraphError: ``GEOCUBE_INGESTER_DEM`` unset or naming nothing, an unknown datum.
        GeoidGridMissingError: the datum's geoid grid is missing.
    """
    if is_glo30_selected():
        datum = os.environ.get(DEM_DATUM_ENV, "").strip()
        if datum and datum != VerticalDatum.EGM2008.value:
            raise GraphError(
                f"{DEM_ENV}=glo30: Copernicus GLO-30 heights are above EGM2008, but {DEM_DATUM_ENV}="
                f"{datum}; unset {DEM_DATUM_ENV} or set it to EGM2008"
            )
        check_geoid_grid(VerticalDatum.EGM2008)
        return DemSource(glo30_per_tile=True)
    source = DemSource.from_env()
    check_geoid_grid(source.datum)
    return source


# --------------------------------------------------------------------------------------------- warp


def warp_dem(source: DemSource, grid: MapGrid, *, nodata_height_m: float | None = 0.0) -> np.ndarray:
    """The DEM on ``grid`` in ellipsoid heights (float32, metres; bilinear).

    Pixels the source does not cover get ``nodata_height_m`` above the geoid (0: sea level, right for the
    ocean gaps of GLO-30 near coasts); None leaves them NaN.

    Raises:
        GeoidGridMissingError: the datum's geoid grid is missing (checked before anything is read).
        GraphError: an unreadable source, or tiles missing from the cache.
    """
    if source.datum != VerticalDatum.ELLIPSOID:
        check_geoid_grid(source.datum)
    west, south, east, north = rasterio.warp.transform_bounds(grid.crs, "EPSG:4326", *grid.bounds())
    out = np.full((grid.height, grid.width), np.nan, dtype=np.float32)
    for raster in source.rasters_for((west, south, east, north)):
        part = np.full_like(out, np.nan)
        try:
            with rasterio.open(raster) as src:
                rasterio.warp.reproject(
                    rasterio.band(src, 1), part, dst_transform=grid.transform, dst_crs=grid.crs,
                    dst_nodata=np.nan, resampling=rasterio.warp.Resampling.bilinear,
                )  # fmt: skip
        except RasterioError as exc:
            raise GraphError(f"DEM {raster}: cannot be read: {exc}") from exc
        out = np.where(np.isnan(out), part, out)
    if nodata_height_m is not None:
        out = np.where(np.isnan(out), np.float32(nodata_height_m), out)
    if source.datum != VerticalDatum.ELLIPSOID:
        out = out + _undulation_on_grid(grid, source.datum).astype(np.float32)
    logger.info("DEM %s warped to %dx%d px at %.0f m (%s -> ellipsoid)", source.path or source.glo30_cache,
                grid.width, grid.height, grid.resolution_m, source.datum.value)  # fmt: skip
    return out.astype(np.float32)


def write_dem(path: Path, heights: np.ndarray, grid: MapGrid) -> Path:
    """Write ``heights`` on ``grid`` as a tiled float32 GeoTIFF (what sarsen's DEM reader opens)."""
    profile = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1, "dtype": "float32",
               "crs": grid.crs, "transform": grid.transform, "tiled": True, "blockxsize": 512,
               "blockysize": 512, "compress": "DEFLATE"}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(heights.astype(np.float32), 1)
    return path


def bounds_of(points: Sequence[tuple[float, float]]) -> tuple[float, float, float, float]:
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return min(lons), min(lats), max(lons), max(lats)
