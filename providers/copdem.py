"""Copernicus DEM GLO-30 tiles from their public bucket, cached, mosaicked as a VRT over a footprint.

The bucket (``s3://copernicus-dem-30m``, AWS eu-central-1, read without signing; its readme:
https://copernicus-dem-30m.s3.amazonaws.com/readme.html) holds one Cloud Optimized GeoTIFF per 1° by 1°
cell, named by the cell's south-west corner: ``Copernicus_DSM_COG_10_N41_00_E012_00_DEM/
Copernicus_DSM_COG_10_N41_00_E012_00_DEM.tif`` (latitude N/S on two digits, longitude E/W on three).
Its pixels are centred on whole arc seconds (the origin is half a pixel west and north of the corner),
3600 rows, and 3600 to 360 columns as the latitude grows (the readme's table); heights are metres above
EGM2008. "Ocean areas do not have tiles, there one can assume height values equal to zero" (readme): a
missing object is sea level, i.e. the geoid.

What this module does for a footprint (:meth:`Glo30Provider.dem_for_footprint`):

- the cells it touches (:func:`tiles_for_footprint`), across the antimeridian (a footprint from 179.6°E
  to 179.4°W takes E179 and W180) and around a pole (a ring winding once around it takes every
  longitude up to the pole);
- each cell not in the cache fetched into ``<cache>/<name>/<name>.tif`` with the download core's policy
  (``providers.objects``: streamed to ``.part``, resumed with a ranged GET after a cut, renamed once
  complete), under a per-tile lock (``<cache>/.locks/<name>.lock``, ``flock``): a second process asking
  for the same tile waits, then finds it; a 404 leaves the marker ``<cache>/<name>.ocean``, so the cell
  is not asked again (the bucket's tiles do not change: "UpdateFrequency: None", AWS open data registry);
- a VRT (written to a temporary name and renamed) over the cells, on the finest spacing of its tiles,
  with no NoDataValue: where no tile is (the ocean) GDAL reads 0.

A 404 is read as the ocean only once the bucket's listing has shown GLO-30 tiles (the public bucket
allows anonymous listing, so a missing key answers 404, not 403): a mistyped
``GEOCUBE_INGESTER_DEM_GLO30_URL`` would otherwise make every cell sea level without a word.

Errors: the download core's (``DownloadTemporaryError`` after a store's retries and resumes,
``DownloadAuthError``), ``DownloadError`` for a footprint that is not a geometry, a setting that is not
a bucket URL or lists no tile, a tile that is not a GeoTIFF, or a lock never released.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import math
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

import obstore
import rasterio
import shapely
from obstore.exceptions import BaseError, PermissionDeniedError, UnauthenticatedError
from obstore.store import S3Store
from rasterio.errors import RasterioError
from shapely.errors import ShapelyError

from common.redaction import redact_url
from common.settings import Settings
from providers.errors import DownloadError, DownloadTemporaryError, ProductNotFoundError
from providers.fetch import DownloadAuthError
from providers.objects import ObjectFetcher
from storage.object import error_text

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig

log = logging.getLogger(__name__)

URL_SETTING = "GEOCUBE_INGESTER_DEM_GLO30_URL"
DEFAULT_URL = "s3://copernicus-dem-30m"
REGION = "eu-central-1"  # the public bucket's region (AWS open data registry, copernicus-dem.yaml)
OCEAN_SUFFIX = ".ocean"  # marker of a cell the bucket has no tile for
ARC_SECOND = 1 / 3600


@dataclass(frozen=True, order=True)
class Glo30Tile:
    """A 1° cell by its south-west corner: ``lat`` in [-90, 89], ``lon`` in [-180, 179]."""

    lat: int
    lon: int

    @property
    def name(self) -> str:
        ns, ew = ("N" if self.lat >= 0 else "S"), ("E" if self.lon >= 0 else "W")
        return f"Copernicus_DSM_COG_10_{ns}{abs(self.lat):02d}_00_{ew}{abs(self.lon):03d}_00_DEM"

    @property
    def key(self) -> str:
        return f"{self.name}/{self.name}.tif"


@dataclass(frozen=True)
class LonLatBox:
    """West, south, east, north in degrees; ``east`` exceeds 180 when the box crosses the antimeridian
    (``west`` is in [-180, 180))."""

    west: float
    south: float
    east: float
    north: float


def _parts(geometry: shapely.Geometry) -> list[tuple[list[tuple[float, float]], bool]]:
    """(points, is a polygon ring) of each part of ``geometry``."""
    if isinstance(geometry, shapely.Polygon):
        return [([(x, y) for x, y, *_ in geometry.exterior.coords], True)]
    if hasattr(geometry, "geoms"):
        return [part for geom in geometry.geoms for part in _parts(geom)]
    return [([(x, y) for x, y, *_ in geometry.coords], False)]


def _winding_deg(points: Sequence[tuple[float, float]]) -> float:
    """How far a ring turns in longitude: about ±360 when it goes round a pole, about 0 otherwise."""
    total = 0.0
    for (lon0, _), (lon1, _) in itertools.pairwise(points):
        total += (lon1 - lon0 + 180.0) % 360.0 - 180.0
    return total


def footprint_box(footprint: str | shapely.Geometry, *, margin_deg: float = 0.05) -> LonLatBox:
    """The smallest longitude arc and the latitudes covering a footprint (WKT or geometry, EPSG:4326),
    widened by ``margin_deg``: a footprint split or jumping at the antimeridian gives ``east`` > 180;
    a ring around a pole gives every longitude and reaches the pole.

    Raises:
        DownloadError: not a geometry, or an empty one.
    """
    try:
        geometry = shapely.from_wkt(footprint) if isinstance(footprint, str) else footprint
    except (ShapelyError, TypeError, ValueError) as exc:
        raise DownloadError(f"DEM: the footprint is not a WKT geometry: {exc}") from None
    if geometry is None or geometry.is_empty:
        raise DownloadError("DEM: the footprint is empty")
    parts = _parts(geometry)
    points = [p for pts, _ in parts for p in pts]
    lats = [lat for _, lat in points]
    south, north = max(min(lats) - margin_deg, -90.0), min(max(lats) + margin_deg, 90.0)
    polar = [pts for pts, is_ring in parts if is_ring and abs(_winding_deg(pts)) > 180.0]
    if polar:
        around_north = sum(lat for _, lat in polar[0]) > 0
        return (
            LonLatBox(-180.0, south, 180.0, 90.0) if around_north else LonLatBox(-180.0, -90.0, 180.0, north)
        )
    lons = sorted({(lon + 180.0) % 360.0 - 180.0 for lon, _ in points})
    # The covering arc is the circle minus its largest gap between consecutive longitudes.
    gaps = [(lons[0] + 360.0 - lons[-1], len(lons) - 1)] + [
        (lons[i + 1] - lons[i], i) for i in range(len(lons) - 1)
    ]
    _, last = max(gaps)
    west = lons[(last + 1) % len(lons)]
    east = lons[last] if last == len(lons) - 1 else lons[last] + 360.0
    west, east = west - margin_deg, east + margin_deg
    if east - west >= 360.0:
        return LonLatBox(-180.0, south, 180.0, north)
    if west < -180.0:
        west, east = west + 360.0, east + 360.0
    return LonLatBox(west, south, east, north)


def tiles_for_box(box: LonLatBox) -> list[Glo30Tile]:
    """The cells covering ``box``, south to north then west to east (across the antimeridian)."""
    first_lat, first_lon = math.floor(box.south), math.floor(box.west)
    lats = range(first_lat, max(math.ceil(box.north), first_lat + 1))
    lons = dict.fromkeys(
        (lon + 180) % 360 - 180 for lon in range(first_lon, max(math.ceil(box.east), first_lon + 1))
    )
    return [Glo30Tile(lat, lon) for lat in lats for lon in lons]


def tiles_for_footprint(footprint: str | shapely.Geometry, *, margin_deg: float = 0.05) -> list[Glo30Tile]:
    """The cells covering a footprint (:func:`footprint_box`)."""
    return tiles_for_box(footprint_box(footprint, margin_deg=margin_deg))


def default_cache_dir(settings: Settings) -> Path:
    """``GEOCUBE_INGESTER_DEM_CACHE``, else ``<workdir>/dem-cache``, else the XDG cache folder."""
    if settings.dem_cache is not None:
        return settings.dem_cache
    if settings.workdir is not None:
        return settings.workdir / "dem-cache"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "geocube-ingester" / "copernicus-dem-30m"


def open_glo30_store(url: str, *, timeout_s: float = 60.0, max_retries: int = 5) -> tuple[S3Store, str]:
    """(unsigned store, key prefix) of ``s3://bucket[/prefix]`` (AWS, eu-central-1) or
    ``http(s)://host[:port]/bucket[/prefix]`` (an S3-compatible endpoint, path-style).

    Unsigned on purpose: the bucket is public, and the worker's own AWS keys must not be sent there.

    Raises:
        DownloadError: another form of URL, naming the setting.
    """
    parts = urlsplit(url.strip())
    segments = [s for s in parts.path.split("/") if s]
    client: ClientConfig = {
        "connect_timeout": timedelta(seconds=timeout_s),
        "read_timeout": timedelta(seconds=timeout_s),
        "timeout": timedelta(hours=1),
        "allow_http": parts.scheme == "http",
    }
    retry: RetryConfig = {
        "max_retries": max_retries,
        "retry_timeout": timedelta(seconds=max(30.0, timeout_s)),
    }
    if parts.scheme == "s3" and parts.netloc:
        # An explicit endpoint: obstore would otherwise take the worker's AWS_ENDPOINT_URL (its storage).
        store = S3Store(
            parts.netloc, endpoint=f"https://{parts.netloc}.s3.{REGION}.amazonaws.com",
            virtual_hosted_style_request=True, region=REGION, skip_signature=True, client_options=client,
            retry_config=retry,
        )  # fmt: skip
        return store, "/".join(segments)
    if parts.scheme in ("http", "https") and parts.netloc and segments:
        store = S3Store(
            segments[0], endpoint=f"{parts.scheme}://{parts.netloc}", virtual_hosted_style_request=False,
            region="us-east-1", skip_signature=True, client_options=client, retry_config=retry,
        )  # fmt: skip
        return store, "/".join(segments[1:])
    raise DownloadError(
        f"{URL_SETTING}={redact_url(url)!r}: not s3://bucket[/prefix] nor http(s)://host/bucket[/prefix] "
        f"(default {DEFAULT_URL})"
    )


@dataclass
class Glo30Dem:
    """What :meth:`Glo30Provider.dem_for_footprint` made: the VRT, and the cells with and without tile."""

    vrt: Path
    box: LonLatBox
    tiles: dict[Glo30Tile, Path] = field(default_factory=dict)
    ocean: list[Glo30Tile] = field(default_factory=list)
    fetched: list[Glo30Tile] = field(default_factory=list)  # fetched in this call (the rest: cached)


class Glo30Provider:
    """GLO-30 tiles from ``url`` into ``cache_dir`` (the module docstring).

    Args:
        lock_timeout_s: how long to wait for another process fetching the same tile.
    """

    name = "copernicus-glo30"

    def __init__(
        self, *, cache_dir: Path, url: str = DEFAULT_URL, timeout_s: float = 60.0, max_retries: int = 5,
        lock_timeout_s: float = 1800.0, fetcher: ObjectFetcher | None = None,
    ) -> None:  # fmt: skip
        self.cache_dir = cache_dir
        self.url = url
        self.store, self.prefix = open_glo30_store(url, timeout_s=timeout_s, max_retries=max_retries)
        self.lock_timeout_s = lock_timeout_s
        self.fetcher = fetcher or ObjectFetcher(auth_settings=f"{URL_SETTING} (a public bucket needs no key)")
        self._holds_tiles = False

    def check_holds_tiles(self) -> None:
        """Before a 404 is taken for the ocean (once per provider): the first page of the bucket's listing
        must show GLO-30 tiles, or ``url`` is not a GLO-30 bucket and every cell would silently be sea level.

        Raises:
            DownloadError: no tile listed, naming the setting.
            DownloadTemporaryError, DownloadAuthError: the listing failed.
        """
        if self._holds_tiles:
            return
        shown = redact_url(self.url)
        try:
            first = next(iter(obstore.list(self.store, prefix=self.prefix or None, chunk_size=50)), [])
        except (BaseError, OSError) as exc:
            text = error_text(exc)
            if isinstance(exc, PermissionDeniedError | UnauthenticatedError) or " 403 " in f" {exc} ":
                raise DownloadAuthError(
                    f"DEM: listing {shown} refused ({text}); check {URL_SETTING}"
                ) from None
            raise DownloadTemporaryError(f"DEM: listing {shown}: {text}") from None
        if not any(str(m["path"]).endswith("_DEM.tif") for m in first):
            raise DownloadError(
                f"{URL_SETTING}={shown!r} lists no Copernicus_DSM_COG_10_*_DEM.tif: not a GLO-30 bucket (a "
                f"missing tile would be read as the ocean); the public one is {DEFAULT_URL}"
            )
        self._holds_tiles = True

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The provider of ``GEOCUBE_INGESTER_DEM_GLO30_URL`` and ``GEOCUBE_INGESTER_DEM_CACHE``: both have
        defaults, so it is never missing (never None)."""
        return cls(cache_dir=default_cache_dir(settings), url=settings.dem_glo30_url)

    def tile_path(self, tile: Glo30Tile) -> Path:
        return self.cache_dir / tile.name / f"{tile.name}.tif"

    def ocean_marker(self, tile: Glo30Tile) -> Path:
        return self.cache_dir / f"{tile.name}{OCEAN_SUFFIX}"

    def cached(self, tile: Glo30Tile) -> tuple[bool, Path | None]:
        """(whether the cache knows the cell, its tile's file or None for the ocean)."""
        if self.tile_path(tile).is_file():
            return True, self.tile_path(tile)
        return self.ocean_marker(tile).is_file(), None

    def fetch_tile(self, tile: Glo30Tile) -> tuple[Path | None, bool]:
        """(the tile's file or None for the ocean, whether this call fetched it), from the cache or the
        bucket, under the tile's lock."""
        known, hit = self.cached(tile)
        if known:
            return hit, False
        with self._locked(tile):
            known, hit = self.cached(tile)  # another process may have fetched it meanwhile
            if known:
                return hit, False
            key = f"{self.prefix}/{tile.key}" if self.prefix else tile.key
            shown = f"{redact_url(self.url).rstrip('/')}/{tile.key}"
            dest = self.tile_path(tile)
            try:
                self.fetcher.fetch(self.store, key, dest, what=f"DEM {tile.name}", shown=shown)
            except ProductNotFoundError:
                self.check_holds_tiles()
                _write_atomically(
                    self.ocean_marker(tile), f"{shown} absent {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n"
                )
                log.info("DEM %s: no tile in the bucket (ocean): height 0 above the geoid", tile.name)
                return None, True
            _check_geotiff(dest, shown)
            return dest, True

    @contextlib.contextmanager
    def _locked(self, tile: Glo30Tile) -> Iterator[None]:
        locks = self.cache_dir / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        with (locks / f"{tile.name}.lock").open("a") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise DownloadError(
                            f"DEM {tile.name}: another process has held {locks / tile.name}.lock for over "
                            f"{self.lock_timeout_s:g} s; remove the lock if no ingester runs"
                        ) from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def dem_for_footprint(
        self, footprint: str | shapely.Geometry, vrt: Path, *, margin_deg: float = 0.05, label: str = ""
    ) -> Glo30Dem:
        """Fetch the cells of ``footprint`` missing from the cache and write ``vrt`` over them."""
        box = footprint_box(footprint, margin_deg=margin_deg)
        result = Glo30Dem(vrt=vrt, box=box)
        for tile in tiles_for_box(box):
            path, fetched = self.fetch_tile(tile)
            if path is None:
                result.ocean.append(tile)
            else:
                result.tiles[tile] = path
            if fetched:
                result.fetched.append(tile)
        write_vrt(vrt, result.tiles, [*result.tiles, *result.ocean], box=box)
        log.info("%s: DEM GLO-30: %d tile(s) (%d fetched), %d ocean cell(s) -> %s", label or "footprint",
                 len(result.tiles), len(result.fetched), len(result.ocean), vrt)  # fmt: skip
        return result


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _check_geotiff(path: Path, shown: str) -> None:
    try:
        with rasterio.open(path) as src:
            if src.count < 1 or src.crs is None:
                raise RasterioError("no band or no CRS")
    except RasterioError as exc:
        path.unlink(missing_ok=True)
        raise DownloadError(
            f"DEM: {shown} is not a georeferenced GeoTIFF ({exc}); removed from the cache"
        ) from None


@dataclass(frozen=True)
class _Header:
    path: Path
    lon: int  # the tile's cell west edge in the VRT's longitude frame
    north: int  # the tile's cell north edge
    transform: tuple[float, float, float, float]  # origin x (in the frame), origin y, step x, step y
    width: int
    height: int
    dtype: str
    nodata: float | None


def _header(tile: Glo30Tile, path: Path, frame_lon: int) -> _Header:
    with rasterio.open(path) as src:
        t = src.transform
        shift = frame_lon - tile.lon  # 0, or 360 east of the antimeridian
        return _Header(path, frame_lon, tile.lat + 1, (t.c + shift, t.f, t.a, -t.e), src.width, src.height,
                       src.dtypes[0], src.nodata)  # fmt: skip


def write_vrt(vrt: Path, tiles: dict[Glo30Tile, Path], cells: Sequence[Glo30Tile], *, box: LonLatBox) -> Path:
    """A Float32 VRT over ``cells`` (1° each; in one longitude frame from ``box.west``, so past 180° east
    across the antimeridian) drawing each present tile at its place, on the finest spacing of the tiles
    (1" when none is present); no NoDataValue, so a cell without tile reads 0. Written atomically.

    Raises:
        DownloadError: a tile that cannot be read.
    """

    def frame(lon: int) -> int:
        return lon + 360 if lon < math.floor(box.west) else lon

    try:
        headers = [_header(t, p, frame(t.lon)) for t, p in sorted(tiles.items())]
    except RasterioError as exc:
        raise DownloadError(f"DEM: a cached tile cannot be read ({exc}); delete it from the cache") from None
    west, east = min(frame(c.lon) for c in cells), max(frame(c.lon) for c in cells) + 1
    south, north = min(c.lat for c in cells), max(c.lat for c in cells) + 1
    step_x = min((h.transform[2] for h in headers), default=ARC_SECOND)
    step_y = min((h.transform[3] for h in headers), default=ARC_SECOND)
    # Keep the tiles' own phase (GLO-30: pixel centres on whole seconds, origin half a pixel off).
    # The finest tile's phase, so that its pixels (and those of its spacing) are copied, not resampled.
    first = min(headers, key=lambda h: (h.transform[2], h.transform[3])) if headers else None
    phase_x = (first.transform[0] - first.lon) if first else 0.0
    phase_y = (first.transform[1] - first.north) if first else 0.0
    x0, y0 = west + phase_x, north + phase_y
    width, height = round((east - west) / step_x), round((north - south) / step_y)
    root = ET.Element("VRTDataset", rasterXSize=str(width), rasterYSize=str(height))
    ET.SubElement(root, "SRS", dataAxisToSRSAxisMapping="2,1").text = rasterio.crs.CRS.from_epsg(
        4326
    ).to_wkt()
    ET.SubElement(root, "GeoTransform").text = f"{x0!r}, {step_x!r}, 0.0, {y0!r}, 0.0, {-step_y!r}"
    band = ET.SubElement(root, "VRTRasterBand", dataType="Float32", band="1")
    for h in headers:
        ox, oy, sx, sy = h.transform
        source = ET.SubElement(band, "ComplexSource", resampling="bilinear") if (sx, sy) != (step_x, step_y) \
            else ET.SubElement(band, "ComplexSource")  # fmt: skip
        ET.SubElement(source, "SourceFilename", relativeToVRT="0").text = str(h.path.resolve())
        ET.SubElement(source, "SourceBand").text = "1"
        ET.SubElement(source, "SourceProperties", RasterXSize=str(h.width), RasterYSize=str(h.height),
                      DataType=_GDAL_TYPES.get(h.dtype, "Float32"))  # fmt: skip
        ET.SubElement(source, "SrcRect", xOff="0", yOff="0", xSize=str(h.width), ySize=str(h.height))
        ET.SubElement(source, "DstRect", xOff=repr((ox - x0) / step_x), yOff=repr((y0 - oy) / step_y),
                      xSize=repr(h.width * sx / step_x), ySize=repr(h.height * sy / step_y))  # fmt: skip
        if h.nodata is not None:
            ET.SubElement(source, "NODATA").text = repr(h.nodata)
    ET.indent(root)
    _write_atomically(vrt, ET.tostring(root, encoding="unicode") + "\n")
    return vrt


_GDAL_TYPES = {"float32": "Float32", "float64": "Float64", "int16": "Int16", "uint16": "UInt16",
               "int32": "Int32", "uint8": "Byte"}  # fmt: skip
