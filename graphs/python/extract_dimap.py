"""Extract the MS and P images of a Pléiades or SPOT 6/7 DIMAP bundle, one COG each.

Usage: extract_dimap.py --workdir DIR --file-ms-out MS.tif --file-pan-out P.tif --constellation PHR|SPOT

The original's command line (original-ingester.md §5.12, §5.14). Finds the bundle's volume (``VOL_PHR.XML``,
``SPOT_VOL.XML``...) or, without one, its ``DIM_*.XML`` products under ``--workdir`` (graphs.dimap), and
writes the product whose SPECTRAL_PROCESSING is ``MS`` to ``--file-ms-out`` and the ``P`` one to
``--file-pan-out``: Cloud Optimized GeoTIFFs (graphs.cog.write_cog) with the product's CRS, geotransform,
pixel type and values, and its NODATA special value (0) as nodata. Tiled products come mosaicked by GDAL's
DIMAP driver.

Log convention (original-ingester.md §5.10): ``FATAL ERROR: ...`` on stderr and exit 1 when the delivery
has no MS or P product, or one that cannot be read: retrying cannot help.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("graphs") is None:  # run from a source checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
if __name__ == "__main__":  # a graph step: local files only (rasterio's boto3 import costs 0.14 s)
    sys.modules.setdefault("boto3", None)  # type: ignore[arg-type]  # `import boto3` raises ImportError

from graphs.cog import write_cog
from graphs.dimap import CONSTELLATIONS, DimapImage, list_dimap_images, select_ms_and_pan
from graphs.errors import GraphError
from graphs.scripting import error, fatal, log, make_parser


def _describe(image: DimapImage) -> str:
    x, y = image.transform.c, image.transform.f
    return (
        f"{image.dim_path.name}: {image.count} band(s) {image.width}x{image.height} {image.dtype}, "
        f"{image.crs.to_string()}, {image.transform.a:g} m, upper-left ({x:.2f}, {y:.2f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--workdir", required=True, type=Path, help="folder holding the unpacked delivery")
    parser.add_argument("--file-ms-out", required=True, type=Path, help="the multispectral COG to write")
    parser.add_argument("--file-pan-out", required=True, type=Path, help="the panchromatic COG to write")
    parser.add_argument("--constellation", required=True, type=str.upper, choices=CONSTELLATIONS)
    args = parser.parse_args(argv)

    try:
        images = list_dimap_images(args.workdir, constellation=args.constellation)
        ms, pan = select_ms_and_pan(images, where=args.workdir)
    except GraphError as exc:
        return fatal(str(exc))  # the delivery itself: retrying cannot help
    for label, image, dst in (("MS", ms, args.file_ms_out), ("P", pan, args.file_pan_out)):
        log(f"INFO: {label}: {_describe(image)}")
        try:
            write_cog(image.dim_path, dst, nodata=image.nodata, overview_resampling="average")
        except (GraphError, OSError) as exc:
            return error(f"{label}: {exc}")
        log(f"INFO: {label}: -> {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
