"""The one Cloud Optimized GeoTIFF writer of the project.

GDAL's COG driver (through rasterio) writes a tiled, compressed GeoTIFF with internal overviews,
to a temporary name that is then renamed, so a reader (Geocube, a retried step) never sees a
half-written file. rio-cogeo's ``cog_validate`` checks results.

Not rio-cogeo's ``cog_translate``: it always reads through a ``WarpedVRT``, which in rasterio 1.4 emits
an affine PendingDeprecationWarning on every call (fatal under ``-Werror``), and it is single-threaded.

Memory and threads (``make bench``, ``bench/cog.py``: a 10980² uint16 band, 230 MiB):

- GDAL's block cache is bounded while a COG is written: 64 MiB (:data:`DEFAULT_CACHEMAX_BYTES`), or two
  rows of the source's blocks when more (:func:`cache_bound_bytes`), unless the environment sets
  ``GDAL_CACHEMAX`` (GDAL's own syntax: MB below 100000, bytes above, or ``5%``), which then applies as
  GDAL applies it. GDAL's default is 5 % of the RAM, read once per process: 1.2 GB on a 24 GB machine,
  where a band's copy grew the process to 2.05x the band (``gdal_translate``: 2.0x); bounded, 1.0x
  (0.83x from a JPEG2000), in no more time. The size from before is restored afterwards.
- ``NUM_THREADS`` (compression, and overview computation) is ``GDAL_NUM_THREADS`` when the environment
  sets it, as GDAL's drivers read it, else ``ALL_CPUS``.
- A file source gets its nodata (and scale/offset) from a VRT of a few hundred bytes. The VRT also
  exposes the source's own overviews (a JPEG2000's reduced resolutions, which the COG driver's
  ``OVERVIEWS=AUTO`` then takes as the overviews, as ``gdal_translate -a_nodata`` does), and the copies
  of those levels it opens fill the block cache too: +73 MiB on a JPEG2000 band under GDAL's default
  cache, +20 MiB under the bounded one (against the same copy without nodata, hence without a VRT).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.env import get_gdal_config, set_gdal_config
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader, MemoryFile

from graphs.errors import GraphError

logger = logging.getLogger(__name__)

Compression = Literal["DEFLATE", "ZSTD"]
OverviewResampling = Literal["nearest", "average", "bilinear", "cubic", "mode"]

DEFAULT_CACHEMAX_BYTES = 64 * 2**20
"""GDAL's block cache while a COG is written, unless ``GDAL_CACHEMAX`` is set in the environment."""


@dataclass(frozen=True)
class _CogOptions:
    compress: Compression
    blocksize: int
    resampling: OverviewResampling


def cog_creation_options(
    dataset: DatasetReader,
    *,
    compress: Compression = "DEFLATE",
    blocksize: int = 512,
    overview_resampling: OverviewResampling = "nearest",
) -> dict[str, str]:
    """The COG driver's creation options that :func:`write_cog` gives GDAL for ``dataset``.

    ``bench/cog.py`` gives the same to ``gdal_translate -of COG``.
    """
    options = {
        "COMPRESS": str(compress).upper(),
        "BLOCKSIZE": str(blocksize),
        "OVERVIEW_RESAMPLING": str(overview_resampling).upper(),
        "NUM_THREADS": os.environ.get("GDAL_NUM_THREADS") or "ALL_CPUS",
        "BIGTIFF": "IF_SAFER",
    }
    dtype = np.dtype(dataset.dtypes[0])
    if dtype.kind in "iuf":
        options["PREDICTOR"] = "YES"  # 2 (horizontal) for integers, 3 (floating point) for floats
    # JPEG2000 sources declare NBITS=15 (S2 DN); carried over, it would forbid the predictor.
    if dtype.kind == "u" and dataset.tags(1, ns="IMAGE_STRUCTURE").get("NBITS"):
        options["NBITS"] = str(dtype.itemsize * 8)
    return options


def cache_bound_bytes(dataset: DatasetReader) -> int:
    """The block cache :func:`write_cog` gives GDAL to copy ``dataset``: :data:`DEFAULT_CACHEMAX_BYTES`,
    or two rows of the source's blocks when that is more.

    GDAL copies by swaths of lines: a source block row must stay in the cache while the swaths cross it,
    or its blocks are read (a JPEG2000's, decoded) again. A 10980² S2 band's row of 1024² JPEG2000
    tiles is 22 MiB; a 40 000 px wide 4-band uint16 image's is 312 MiB.
    """
    block_rows = dataset.block_shapes[0][0] if dataset.block_shapes else 1
    itemsize = max(np.dtype(dtype).itemsize for dtype in dataset.dtypes)
    row_bytes = dataset.width * block_rows * dataset.count * itemsize
    return max(DEFAULT_CACHEMAX_BYTES, 2 * int(row_bytes))


_cache_lock = threading.Lock()
_cache_users = 0
_cache_before: Any = None
_cache_bound = 0


@contextmanager
def bounded_gdal_cache(bound_bytes: int = DEFAULT_CACHEMAX_BYTES) -> Iterator[None]:
    """GDAL's block cache bounded to ``bound_bytes`` inside (never more than it was), unless
    ``GDAL_CACHEMAX`` is in the environment; the size from before is restored when the last writer
    leaves.

    Not ``rasterio.Env(GDAL_CACHEMAX=...)``: GDAL reads ``GDAL_CACHEMAX`` once per process (set later, it
    changes nothing), so rasterio calls ``GDALSetCacheMax64`` instead, and nested in the ``Env`` that
    ``rasterio.open`` makes it is never set back. The cache is process-wide: concurrent writers share
    one bound (the largest asked for), and the first to come saves the size to restore.
    """
    global _cache_users, _cache_before, _cache_bound
    if os.environ.get("GDAL_CACHEMAX"):  # GDAL applies it itself, in its own syntax
        yield
        return
    with _cache_lock:
        if _cache_users == 0:
            _cache_before = get_gdal_config("GDAL_CACHEMAX")  # GDALGetCacheMax64: bytes
            _cache_bound = 0
        bound_bytes = min(bound_bytes, int(_cache_before))  # lowered, never raised
        if bound_bytes > _cache_bound:
            _cache_bound = bound_bytes
            set_gdal_config("GDAL_CACHEMAX", bound_bytes)
        _cache_users += 1
    try:
        yield
    finally:
        with _cache_lock:
            _cache_users -= 1
            if _cache_users == 0:
                set_gdal_config("GDAL_CACHEMAX", _cache_before)


def _copy_as_cog(dataset: DatasetReader, dst: Path, options: _CogOptions) -> None:
    with bounded_gdal_cache(cache_bound_bytes(dataset)):
        rasterio.shutil.copy(
            dataset,
            dst,
            driver="COG",
            **cog_creation_options(
                dataset,
                compress=options.compress,
                blocksize=options.blocksize,
                overview_resampling=options.resampling,
            ),
        )


def write_cog(
    src: str | Path | np.ndarray,
    dst_path: str | Path,
    *,
    crs: CRS | str | None = None,
    transform: Any = None,
    nodata: float | None = None,
    compress: Compression = "DEFLATE",
    blocksize: int = 512,
    overview_resampling: OverviewResampling = "nearest",
    scale_offset: tuple[float, float] | None = None,
) -> Path:
    """Write ``src`` (a raster file GDAL can read, or an array) as a COG at ``dst_path``.

    Args:
        src: a raster path, or an array of shape (rows, cols) or (bands, rows, cols).
        dst_path: the COG to write; replaced atomically if it exists (``src`` may be the same file).
        crs: CRS of an array source (required for arrays, ignored for files).
        transform: affine geotransform of an array source (required for arrays, ignored for files).
        nodata: nodata value of the output; None keeps the source's.
        compress: DEFLATE (read everywhere) or ZSTD (smaller and faster; needs a recent libtiff).
        blocksize: tile size in pixels, a multiple of 16.
        overview_resampling: ``average`` for continuous values, ``nearest`` or ``mode`` for classes. A
            source with overviews of its own (a JPEG2000's resolution levels) keeps those instead.
        scale_offset: GDAL band ``(scale, offset)`` written on every band (physical = DN * scale + offset),
            e.g. a Sentinel-2 product's radiometry; None keeps the source's.

    Raises:
        GraphError: unreadable source, bad options, or a GDAL failure.
    """
    compress_name = str(compress).upper()
    if compress_name not in ("DEFLATE", "ZSTD"):
        raise GraphError(f"write_cog: compress {compress!r} is not supported; use DEFLATE or ZSTD")
    if blocksize <= 0 or blocksize % 16:
        raise GraphError(f"write_cog: blocksize {blocksize} must be a positive multiple of 16 (e.g. 512)")
    dst = Path(dst_path)
    dst.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}."))
    tmp = scratch / f"{uuid.uuid4().hex}.tif"
    options = _CogOptions(compress=compress, blocksize=blocksize, resampling=overview_resampling)
    try:
        if isinstance(src, np.ndarray):
            _write_array(
                src,
                tmp,
                crs=crs,
                transform=transform,
                nodata=nodata,
                options=options,
                scale_offset=scale_offset,
            )
        else:
            _write_file(
                Path(src), tmp, scratch=scratch, nodata=nodata, options=options, scale_offset=scale_offset
            )
        tmp.replace(dst)
    except (RasterioError, CPLE_BaseError) as exc:
        what = f"an array of shape {src.shape}" if isinstance(src, np.ndarray) else str(src)
        raise GraphError(f"write_cog: cannot write {dst} from {what}: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.debug("COG written: %s", dst)
    return dst


def _write_file(
    src: Path,
    dst: Path,
    *,
    scratch: Path,
    nodata: float | None,
    options: _CogOptions,
    scale_offset: tuple[float, float] | None,
) -> None:
    with rasterio.open(src) as dataset:
        if (nodata is None or dataset.nodata == nodata) and scale_offset is None:
            _copy_as_cog(dataset, dst, options)
            return
    # Set nodata (and scale/offset) on a VRT of the source (a few hundred bytes), not on a copy of its pixels.
    vrt = scratch / "source.vrt"
    rasterio.shutil.copy(src, vrt, driver="VRT")
    with rasterio.open(vrt, "r+") as editable:
        if nodata is not None:
            editable.nodata = nodata
        if scale_offset is not None:
            editable.scales = (scale_offset[0],) * editable.count
            editable.offsets = (scale_offset[1],) * editable.count
    with rasterio.open(vrt) as dataset:
        _copy_as_cog(dataset, dst, options)


def _write_array(
    array: np.ndarray,
    dst: Path,
    *,
    crs: CRS | str | None,
    transform: Any,
    nodata: float | None,
    options: _CogOptions,
    scale_offset: tuple[float, float] | None = None,
) -> None:
    if crs is None or transform is None:
        raise GraphError("write_cog: an array source needs crs= and transform=")
    if array.ndim not in (2, 3):
        raise GraphError(
            f"write_cog: array of shape {array.shape}; expected (rows, cols) or (bands, rows, cols)"
        )
    bands = array[np.newaxis] if array.ndim == 2 else array
    count, height, width = bands.shape
    with MemoryFile() as memfile:
        with memfile.open(
            driver="GTiff",
            width=width,
            height=height,
            count=count,
            dtype=bands.dtype,
            crs=crs,
            transform=transform,
            nodata=nodata,
        ) as mem:
            mem.write(bands)
            if scale_offset is not None:
                mem.scales = (scale_offset[0],) * count
                mem.offsets = (scale_offset[1],) * count
        with memfile.open() as mem:
            _copy_as_cog(mem, dst, options)


def read_scale_offset(path: str | Path) -> tuple[float, float] | None:
    """The GDAL ``(scale, offset)`` of a raster's bands, or None when it has none (1, 0).

    Raises:
        GraphError: unreadable file, or bands whose scales or offsets differ (one mapping per dataset).
    """
    try:
        with rasterio.open(path) as dataset:
            pairs = set(zip(dataset.scales, dataset.offsets, strict=True))
    except (RasterioError, CPLE_BaseError) as exc:
        raise GraphError(f"{path}: cannot be read: {exc}") from exc
    if len(pairs) != 1:
        raise GraphError(f"{path}: its bands have different scales/offsets {sorted(pairs)}; one is needed")
    scale, offset = pairs.pop()
    return None if (scale, offset) == (1.0, 0.0) else (float(scale), float(offset))


def is_valid_cog(path: str | Path) -> bool:
    """Whether ``path`` is a valid Cloud Optimized GeoTIFF (rio-cogeo's ``cog_validate``).

    False too when the file cannot be read.
    """
    from rio_cogeo.cogeo import cog_validate  # 0.1 s and 22 MiB (pydantic, morecantile): not for writing

    try:
        is_valid, errors, warnings = cog_validate(path, quiet=True)
    except (RasterioError, CPLE_BaseError) as exc:
        logger.debug("%s: not readable: %s", path, exc)
        return False
    for message in errors:
        logger.debug("%s: COG error: %s", path, message)
    for message in warnings:
        logger.debug("%s: COG warning: %s", path, message)
    return bool(is_valid)
