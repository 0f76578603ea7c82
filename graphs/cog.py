"""The one Cloud Optimized GeoTIFF writer of the project.

GDAL's COG driver (through rasterio) writes a tiled, compressed GeoTIFF with internal overviews,
to a temporary name that is then renamed, so a reader (Geocube, a retried step) never sees a
half-written file. rio-cogeo's ``cog_validate`` checks results.

Not rio-cogeo's ``cog_translate``: it always reads through a ``WarpedVRT``, which in rasterio 1.4 emits
an affine PendingDeprecationWarning on every call (fatal under ``-Werror``), and it is single-threaded.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader, MemoryFile
from rio_cogeo.cogeo import cog_validate

from graphs.errors import GraphError

logger = logging.getLogger(__name__)

Compression = Literal["DEFLATE", "ZSTD"]
OverviewResampling = Literal["nearest", "average", "bilinear", "cubic", "mode"]


@dataclass(frozen=True)
class _CogOptions:
    compress: str
    blocksize: int
    resampling: str


def _creation_options(dataset: DatasetReader, cog: _CogOptions) -> dict[str, Any]:
    options: dict[str, Any] = {
        "COMPRESS": cog.compress,
        "BLOCKSIZE": cog.blocksize,
        "OVERVIEW_RESAMPLING": cog.resampling.upper(),
        "NUM_THREADS": "ALL_CPUS",
        "BIGTIFF": "IF_SAFER",
    }
    dtype = np.dtype(dataset.dtypes[0])
    if dtype.kind in "iuf":
        options["PREDICTOR"] = "YES"  # 2 (horizontal) for integers, 3 (floating point) for floats
    # JPEG2000 sources declare NBITS=15 (S2 DN); carried over, it would forbid the predictor.
    if dtype.kind == "u" and dataset.tags(1, ns="IMAGE_STRUCTURE").get("NBITS"):
        options["NBITS"] = dtype.itemsize * 8
    return options


def _copy_as_cog(dataset: DatasetReader, dst: Path, options: _CogOptions) -> None:
    rasterio.shutil.copy(dataset, dst, driver="COG", **_creation_options(dataset, options))


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
        overview_resampling: ``average`` for continuous values, ``nearest`` or ``mode`` for classes.
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
    options = _CogOptions(compress=compress_name, blocksize=blocksize, resampling=overview_resampling)
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
