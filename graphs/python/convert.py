"""Cast a raster to the data format a layer is indexed with: the original ingester's convert.py, ours.

Usage: convert.py --file-in IN.tif --file-out OUT.tif --range-in a,b --dformat-out dtype,nodata,min,max
                  [--tiling 256] [--missing fail|skip]

The command line is the original's (original-ingester.md §5.14), written again on rasterio and numpy
(no osgeo). Every band is scaled linearly, ``[a, b] -> [min, max]``, and cast to ``dtype`` (the
original's aliases, §5.9: ``float32``, ``Int16``, ``u2``...). As ``gdal.Translate`` does: values outside
``[a, b]`` are scaled too (not clipped), integer outputs are rounded and clamped to the dtype's range,
and the input's nodata pixels (its nodata value, and NaN) become ``nodata``. The output is a tiled
GeoTIFF (``tiling`` x ``tiling`` blocks, ``SPARSE_OK``, DEFLATE) with ``nodata`` set, written to a
temporary name then renamed: ``--file-in`` and ``--file-out`` may be the same file.

``--missing skip`` (ours): a missing ``--file-in`` is logged and the script exits 0, for a polarisation
that a product may not have (the no-SNAP variant of S1BackscatterCoherence converts sigma0_VV and
sigma0_VH, and a single-polarisation burst has only one).

Log convention (§5.10): a bad format, range or file prints ``ERROR: ...`` and exits 1.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
import tempfile
from pathlib import Path

if importlib.util.find_spec("graphs") is None:  # run from a source checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import rasterio
from rasterio.errors import RasterioError

from common.dataformat import DataFormat, DataFormatError
from graphs.scripting import error, log, make_parser


def parse_range(text: str) -> tuple[float, float]:
    """``"a,b"`` with a < b.

    Raises:
        ValueError: the message names ``--range-in`` and what it takes.
    """
    parts = [p.strip() for p in text.split(",")]
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"--range-in {text!r}: expected two numbers a,b (e.g. 0,1)") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"--range-in {text!r}: expected finite a < b (e.g. 0,1)")
    return low, high


def convert_values(
    values: np.ndarray, invalid: np.ndarray, *, range_in: tuple[float, float], dformat: DataFormat
) -> np.ndarray:
    """``values`` scaled from ``range_in`` to ``[min, max]``, cast to the dtype, ``invalid`` -> nodata."""
    low, high = range_in
    scaled = (values.astype(np.float64) - low) * ((dformat.max_value - dformat.min_value) / (high - low))
    scaled += dformat.min_value
    dtype = np.dtype(dformat.dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        scaled = np.clip(np.rint(np.nan_to_num(scaled, nan=dformat.no_data)), info.min, info.max)
    out = scaled.astype(dtype)
    out[invalid] = dformat.no_data
    return out


def invalid_mask(values: np.ndarray, nodata: float | None) -> np.ndarray:
    """Pixels without data: NaN, or equal to the band's nodata value."""
    invalid = np.isnan(values) if values.dtype.kind in "fc" else np.zeros(values.shape, dtype=bool)
    if nodata is not None and not math.isnan(nodata):
        invalid |= values == nodata
    return invalid


def convert_file(
    source: Path, target: Path, *, range_in: tuple[float, float], dformat: DataFormat, tiling: int
) -> None:
    """Write ``target`` from ``source`` (the module docstring), block by block.

    Raises:
        rasterio.errors.RasterioError, OSError: the input cannot be read or the output written.
    """
    with rasterio.open(source) as src:
        dtype = np.dtype(dformat.dtype)
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            if not info.min <= dformat.no_data <= info.max:
                raise ValueError(f"--dformat-out: nodata {dformat.no_data:g} does not fit {dformat.dtype}")
        profile = {
            "driver": "GTiff",
            "width": src.width,
            "height": src.height,
            "count": src.count,
            "dtype": dformat.dtype,
            "crs": src.crs,
            "transform": src.transform,
            "nodata": dformat.no_data,
            "tiled": True,
            "blockxsize": tiling,
            "blockysize": tiling,
            "compress": "DEFLATE",
            "SPARSE_OK": "TRUE",
            "BIGTIFF": "IF_SAFER",
        }
        nodatas = src.nodatavals
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tif")
        os.close(fd)
        temporary = Path(name)
        try:
            with rasterio.open(temporary, "w", **profile) as dst:
                for _, window in dst.block_windows(1):
                    values = src.read(window=window)
                    for band in range(src.count):
                        invalid = invalid_mask(values[band], nodatas[band])
                        converted = convert_values(values[band], invalid, range_in=range_in, dformat=dformat)
                        dst.write(converted, band + 1, window=window)
            temporary.replace(target)
        finally:
            temporary.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--file-in", required=True, type=Path)
    parser.add_argument("--file-out", required=True, type=Path)
    parser.add_argument("--range-in", required=True, help="a,b: the input values mapped to [min, max]")
    parser.add_argument("--dformat-out", required=True, help="dtype,nodata,min,max (e.g. float32,0,0,1)")
    parser.add_argument("--tiling", default="256", help="block size of the tiled GeoTIFF (multiple of 16)")
    parser.add_argument("--missing", default="fail", help="fail, or skip: a missing --file-in is no error")
    args = parser.parse_args(argv)

    if args.missing not in ("fail", "skip"):
        return error(f"--missing {args.missing!r}: use fail or skip")
    try:
        range_in = parse_range(args.range_in)
        dformat = DataFormat.parse(args.dformat_out)
    except (ValueError, DataFormatError) as exc:
        return error(f"--dformat-out/--range-in: {exc}")
    if not args.tiling.isdigit() or int(args.tiling) < 16 or int(args.tiling) % 16:
        return error(f"--tiling {args.tiling!r}: a multiple of 16 is needed (e.g. 256)")
    if not args.file_in.is_file():
        if args.missing == "skip":
            log(f"INFO: {args.file_in}: absent, nothing to convert (--missing skip)")
            return 0
        return error(f"--file-in {args.file_in}: no such file")
    try:
        convert_file(args.file_in, args.file_out, range_in=range_in, dformat=dformat, tiling=int(args.tiling))
    except ValueError as exc:
        return error(str(exc))
    except (RasterioError, OSError) as exc:
        return error(f"{args.file_in} -> {args.file_out}: {exc}")
    low, high = range_in
    log(f"INFO: {args.file_in.name} -> {args.file_out.name} as {dformat} from [{low:g}, {high:g}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
