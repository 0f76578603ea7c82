"""Trim the border of a raster's valid footprint: the original ingester's erodeMask.py, ours.

Usage: erode_mask.py --file-in IN.tif --file-out OUT.tif --no-data N --iterations K

The command line is the original's ``erodeMask.py`` (original-ingester.md §5.14), written again on
rasterio and numpy (no osgeo, no scipy); its graphs' ``python/erodeMask.py`` resolves to this script
(``graphs.engines.ORIGINAL_SCRIPTS``). SNAP's terrain-corrected outputs have a ragged band of artefacts
along their footprint; as the original does:

1. band 1's nodata mask (NaN-aware: NaN pixels, and those equal to ``--no-data``);
2. the valid footprint approximated by the convex hull of the valid pixels (holes inside it, e.g. calm
   water at 0, are not eroded from); the original took the hull of the mask's polygons;
3. the area outside the footprint dilated by ``K`` iterations of a 3x3 (8-connected) structure;
4. every band set to ``--no-data`` there (and where it had no data), written with nodata set, to a
   temporary name then renamed: ``--file-in`` and ``--file-out`` may be the same file.

``--iterations 0`` copies the file. No valid pixel left: ``FATAL ERROR: <file> empty`` (retrying
cannot help). Other failures: ``ERROR: ...``, exit 1.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

if importlib.util.find_spec("graphs") is None:  # run from a source checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import rasterio
from rasterio.errors import RasterioError

from graphs.scripting import error, fatal, log, make_parser


def invalid_pixels(values: np.ndarray, no_data: float) -> np.ndarray:
    """Pixels without data: NaN, or equal to ``no_data`` (NaN itself allowed)."""
    invalid = np.isnan(values) if values.dtype.kind in "fc" else np.zeros(values.shape, dtype=bool)
    if not math.isnan(no_data):
        invalid |= values == no_data
    return invalid


def convex_hull(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The convex hull of ``points``, counter-clockwise, without collinear points (Andrew's monotone
    chain)."""
    ordered = sorted(set(points))
    if len(ordered) < 3:
        return ordered

    def cross(o: tuple[int, int], a: tuple[int, int], b: tuple[int, int]) -> int:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[int, int]] = []
    upper: list[tuple[int, int]] = []
    for chain, sequence in ((lower, ordered), (upper, reversed(ordered))):
        for point in sequence:
            while len(chain) >= 2 and cross(chain[-2], chain[-1], point) <= 0:
                chain.pop()
            chain.append(point)
    return lower[:-1] + upper[:-1]


def hull_footprint(valid: np.ndarray) -> np.ndarray:
    """The convex hull of the valid pixels (pixel centres, (col, row)), as a mask of the raster's shape."""
    rows = np.flatnonzero(valid.any(axis=1))
    if rows.size == 0:
        return np.zeros(valid.shape, dtype=bool)
    first = valid[rows].argmax(axis=1)
    last = valid.shape[1] - 1 - valid[rows, ::-1].argmax(axis=1)
    # The first and last valid column of each row hold every vertex of the hull.
    points = [(int(c), int(r)) for c, r in zip(first, rows, strict=True)]
    points += [(int(c), int(r)) for c, r in zip(last, rows, strict=True)]
    hull = convex_hull(points)
    if len(hull) < 3:  # one pixel, or all on one line: the valid pixels themselves
        return valid.copy()
    inside = np.zeros(valid.shape, dtype=bool)
    start = np.array(hull, dtype=np.float64)
    edge = np.roll(start, -1, axis=0) - start
    cols = np.arange(valid.shape[1], dtype=np.float64)
    for row in range(int(rows[0]), int(rows[-1]) + 1):
        # counter-clockwise: inside (or on) every edge when the cross product is >= 0
        side = edge[:, 0:1] * (row - start[:, 1:2]) - edge[:, 1:2] * (cols - start[:, 0:1])
        inside[row] = (side >= -1e-9).all(axis=0)
    footprint: np.ndarray = inside | valid
    return footprint


def _dilate_along(mask: np.ndarray, k: int, axis: int) -> np.ndarray:
    """``mask`` grown by ``k`` pixels both ways along ``axis`` (a sliding window sum)."""
    counts = np.cumsum(mask, axis=axis, dtype=np.int64)
    pad = [(0, 0), (0, 0)]
    pad[axis] = (k + 1, k)
    padded = np.pad(counts, pad, mode="edge")
    padded = np.moveaxis(padded, axis, 0)
    padded[: k + 1] = 0
    n = mask.shape[axis]
    window = padded[2 * k + 1 : 2 * k + 1 + n] - padded[:n]
    grown: np.ndarray = np.moveaxis(window, 0, axis) > 0
    return grown


def dilate(mask: np.ndarray, iterations: int) -> np.ndarray:
    """``iterations`` binary dilations by a 3x3 (8-connected) structure: one (2k+1) x (2k+1) square
    dilation, done as two separable passes (what scipy.ndimage.binary_dilation gives, border outside)."""
    if iterations <= 0:
        return mask.copy()
    return _dilate_along(_dilate_along(mask, iterations, 0), iterations, 1)


def eroded_invalid(values: np.ndarray, no_data: float, iterations: int) -> np.ndarray:
    """The pixels to set to nodata: those without data, and the band of ``iterations`` pixels inside
    the footprint's edge."""
    invalid = invalid_pixels(values, no_data)
    outside = ~hull_footprint(~invalid)
    dropped: np.ndarray = dilate(outside, iterations) | invalid
    return dropped


def erode_file(source: Path, target: Path, *, no_data: float, iterations: int) -> bool:
    """Write ``target`` from ``source`` (the module docstring); False when no valid pixel is left.

    Raises:
        rasterio.errors.RasterioError, OSError: the input cannot be read or the output written.
    """
    with rasterio.open(source) as src:
        values = src.read()
        profile = src.profile
    drop = eroded_invalid(values[0], no_data, iterations)
    if drop.all():
        return False
    if values.dtype.kind in "iu" and not math.isnan(no_data):
        info = np.iinfo(values.dtype)
        if not info.min <= no_data <= info.max:
            raise ValueError(f"--no-data {no_data:g} does not fit the file's {values.dtype}")
    elif values.dtype.kind in "iu":
        raise ValueError(f"--no-data NaN does not fit the file's {values.dtype}")
    values[:, drop] = no_data
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tif")
    os.close(fd)
    temporary = Path(name)
    try:
        with rasterio.open(temporary, "w", **{**profile, "nodata": no_data}) as dst:
            dst.write(values)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--file-in", required=True, type=Path)
    parser.add_argument("--file-out", required=True, type=Path)
    parser.add_argument("--no-data", required=True, help="the nodata value (NaN allowed)")
    parser.add_argument("--iterations", required=True, help="pixels trimmed along the footprint's edge")
    args = parser.parse_args(argv)

    try:
        no_data = float(args.no_data)
    except ValueError:
        return error(f"--no-data {args.no_data!r}: a number (or NaN) is needed")
    if not args.iterations.isdigit():
        return error(f"--iterations {args.iterations!r}: a whole number >= 0 is needed (e.g. 10)")
    iterations = int(args.iterations)
    if not args.file_in.is_file():
        return error(f"--file-in {args.file_in}: no such file")
    try:
        if iterations == 0:
            if args.file_in.resolve() != args.file_out.resolve():
                shutil.copyfile(args.file_in, args.file_out)
            log(f"INFO: {args.file_in.name}: --iterations 0, copied as it is")
            return 0
        if not erode_file(args.file_in, args.file_out, no_data=no_data, iterations=iterations):
            return fatal(f"{args.file_in} empty")
    except ValueError as exc:
        return error(str(exc))
    except (RasterioError, OSError) as exc:
        return error(f"{args.file_in} -> {args.file_out}: {exc}")
    log(f"INFO: {args.file_in.name} -> {args.file_out.name}: {iterations} pixel(s) trimmed along its edge")
    return 0


if __name__ == "__main__":
    sys.exit(main())
