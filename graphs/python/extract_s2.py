"""Extract the bands of a Sentinel-2 SAFE product, one file per band.

Usage: extract_s2.py --workdir DIR --pattern-out 20180101_T31TDH_*.tif [--layers B02,B03,B04]

Finds ``<workdir>/*.SAFE/GRANULE/*/IMG_DATA/*_B??.jp2`` (L1C) and
``.../IMG_DATA/R10m|R20m|R60m/*_B??_<res>m.jp2`` (L2A, best resolution of each band) and writes each
band to ``pattern-out`` with ``*`` replaced by the band code (B01…B12, B8A), only those of ``--layers``
when it names some (the graph passes the layers the job indexes or stores: config ``wanted_layers``):

- a ``.tif`` pattern writes a Cloud Optimized GeoTIFF (graphs.cog.write_cog, nodata 0: S2 DN 0 is
  "no data") whose band scale and offset are the product's radiometry, read from its own
  ``MTD_MSIL1C.xml``/``MTD_MSIL2A.xml``: reflectance = DN * scale + offset = (DN + offset) / quantification
  (graphs.sentinel2). An out-file with ``ext_from_file`` is indexed with that mapping;
- a ``.jp2`` pattern copies the JPEG2000 file as it is (the original ingester's behaviour).

Log convention (original-ingester.md §5.10): ``FATAL ERROR: ...`` on stderr and exit 1 when the
product has no band or no readable radiometry; retrying cannot help.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

if importlib.util.find_spec("graphs") is None:  # run from a source checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
if __name__ == "__main__":  # a graph step (not a test importing it): local files only
    # rasterio imports boto3 for its s3:// sessions: 0.14 s and 18 MiB of a 0.3 s start, paid per tile.
    # GDAL reads /vsis3/ without it; without it, rasterio uses its DummySession.
    sys.modules.setdefault("boto3", None)  # type: ignore[arg-type]  # `import boto3` raises ImportError

from graphs.cog import write_cog
from graphs.errors import GraphError
from graphs.scripting import error, fatal, log, make_parser
from graphs.sentinel2 import S2Radiometry, read_s2_radiometry

# T31TDH_20180101T105441_B01.jp2 (L1C), T33XWJ_20220413T150759_B02_10m.jp2 (L2A)
_BAND = re.compile(r"_(B(?:0[1-9]|1[0-2]|8A))(?:_(\d+)m)?\.jp2$")
_RESOLUTION_DIR = re.compile(r"^R(\d+)m$")


def find_bands(workdir: Path) -> dict[str, Path]:
    """Band code → JPEG2000 file, keeping the finest resolution when a band comes in several."""
    best: dict[str, tuple[int, Path]] = {}
    candidates = sorted(workdir.glob("*.SAFE/GRANULE/*/IMG_DATA/*_B??.jp2"))
    candidates += sorted(workdir.glob("*.SAFE/GRANULE/*/IMG_DATA/R*m/*_B??_*m.jp2"))
    for path in candidates:
        match = _BAND.search(path.name)
        if match is None:
            continue
        band, suffix = match.group(1), match.group(2)
        folder = _RESOLUTION_DIR.match(path.parent.name)
        resolution = int(suffix) if suffix else int(folder.group(1)) if folder else 0
        if band in best and best[band][0] <= resolution:
            if best[band][0] == resolution:
                log(f"WARNING: {band} found twice at {resolution} m; keeping {best[band][1].name}")
            continue
        best[band] = (resolution, path)
    return {band: path for band, (_, path) in sorted(best.items())}


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--workdir", required=True, type=Path, help="folder holding <scene>.SAFE")
    parser.add_argument("--pattern-out", required=True, help="output file pattern, '*' is the band code")
    parser.add_argument(
        "--layers",
        default="*",
        help="comma-separated band codes to write (the job's indexed layers); * for all",
    )
    args = parser.parse_args(argv)

    if "*" not in args.pattern_out:
        return fatal(f"--pattern-out {args.pattern_out!r} has no '*' to replace by the band code")
    as_cog = Path(args.pattern_out).suffix.lower() in (".tif", ".tiff")
    bands = find_bands(args.workdir)
    if not bands:
        return fatal(f"no band found in {args.workdir}")
    wanted = {w.strip() for w in args.layers.split(",") if w.strip()} - {"*"}
    if wanted:
        for missing in sorted(wanted - set(bands)):
            log(f"WARNING: {missing}: not a band of this product; not written")
        bands = {band: path for band, path in bands.items() if band in wanted}
    radiometry: dict[Path, S2Radiometry] = {}
    for band, src in bands.items():
        dst = Path(args.pattern_out.replace("*", band))
        scale_offset = None
        if as_cog:
            safe = next(p for p in src.parents if p.suffix == ".SAFE")
            if safe not in radiometry:
                try:
                    radiometry[safe] = read_s2_radiometry(safe)
                except GraphError as exc:
                    return fatal(str(exc))  # the product's own metadata: retrying cannot help
                log(_describe(radiometry[safe]))
            scale_offset = radiometry[safe].scale_offset(band)
        try:
            if as_cog:
                write_cog(src, dst, nodata=0, overview_resampling="average", scale_offset=scale_offset)
            else:
                shutil.copyfile(src, dst)
        except (GraphError, OSError) as exc:
            return error(f"{band}: {exc}")
        log(f"INFO: {band}: {src.name} -> {dst}")
    return 0


def _describe(radiometry: S2Radiometry) -> str:
    offsets = sorted(set(radiometry.offsets.values())) or [0.0]
    return (
        f"INFO: {radiometry.product}: baseline {radiometry.processing_baseline or '?'}, reflectance = "
        f"(DN + {'/'.join(f'{o:g}' for o in offsets)}) / {radiometry.quantification:g}"
    )


if __name__ == "__main__":
    sys.exit(main())
