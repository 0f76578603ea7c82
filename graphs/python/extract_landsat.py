"""Extract the bands of a Landsat Collection 2 Level-2 product folder, one COG per band.

Usage: extract_landsat.py --product <scene> --pattern-out 20191201_<tile>_*.tif [--layers SR_B4,QA_PIXEL]

``--product`` is the product folder as a processing job imports the stored product (``__product__``
with extension ``*``: ``<scene>/`` holding ``<scene>_SR_B<n>.TIF``, ``_ST_B10.TIF``, ``_QA_PIXEL.TIF`` and
``<scene>_MTL.json|xml|txt``), or a folder holding that folder. The bands and their radiometry come from
the product's own MTL (graphs.landsat). Each band is written to ``pattern-out`` with ``*`` replaced by its
layer name (SR_B1…SR_B7, ST_B10, or ST_B6 for TM/ETM+, QA_PIXEL) as a Cloud Optimized GeoTIFF
(graphs.cog.write_cog):

- SR and ST bands keep their uint16 DNs, nodata 0 (fill), with the MTL's scale and offset as the band's
  scale/offset (reflectance = DN * 2.75e-05 - 0.2; kelvin = DN * 0.00341802 + 149); an out-file with
  ``ext_from_file`` is indexed with that mapping. Overviews average;
- QA_PIXEL is copied as it is (a bit mask: no scale, nearest-neighbour overviews), nodata 1 (fill, as
  Earth Search's landsat-c2-l2 items declare it in ``raster:bands``).

``--layers``: the comma-separated layers to write; ``*`` (the default) writes every band the product has;
names that are not Landsat bands are left out with a warning.
A band the payload does not index need not be written (ExtractLandsatBands passes its config key
``wanted_layers``). A wanted layer that the MTL lists but whose file is missing makes the product
unusable (fatal); a layer this kind of product does not have (ST_B10 of an L2SR product) is skipped.

Log convention (original-ingester.md §5.10): ``FATAL ERROR: ...`` on stderr and exit 1 when the product
has no readable MTL, is not Collection 2 Level-2, or lacks a wanted band; retrying cannot help.
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
from graphs.errors import GraphError
from graphs.landsat import KNOWN_LAYERS, QA_LAYER, LandsatMetadata, find_mtl, read_landsat_metadata
from graphs.scripting import error, fatal, log, make_parser


def find_product_folder(product: Path) -> Path | None:
    """The folder holding the MTL: ``product`` itself, or its one sub-folder that holds one."""
    if not product.is_dir():
        return None
    if find_mtl(product) is not None:
        return product
    inner = [p for p in sorted(product.iterdir()) if p.is_dir() and find_mtl(p) is not None]
    return inner[0] if len(inner) == 1 else None


def parse_layers(text: str) -> list[str] | None:
    """``*`` or empty -> None (every band); else the listed Landsat layers, in order, once each.

    Names that are not Landsat Level-2 bands (another step's layers, when the list is every layer the
    payload indexes) are left out with a warning.
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or names == ["*"]:
        return None
    unknown = [n for n in names if n not in KNOWN_LAYERS]
    if unknown:
        known = ", ".join(KNOWN_LAYERS)
        log(f"WARNING: --layers: {', '.join(unknown)} not Landsat bands ({known}); not written")
    return [n for n in dict.fromkeys(names) if n in KNOWN_LAYERS]


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--product", required=True, type=Path, help="the product folder (<scene>/)")
    parser.add_argument("--pattern-out", required=True, help="output file pattern, '*' is the layer name")
    parser.add_argument("--layers", default="*", help="comma-separated layers to write; * for all")
    args = parser.parse_args(argv)

    if "*" not in args.pattern_out:
        return fatal(f"--pattern-out {args.pattern_out!r} has no '*' to replace by the layer name")
    if Path(args.pattern_out).suffix.lower() not in (".tif", ".tiff"):
        return fatal(f"--pattern-out {args.pattern_out!r}: Landsat bands are written as COGs; end it in .tif")
    wanted = parse_layers(args.layers)
    folder = find_product_folder(args.product)
    if folder is None:
        return fatal(f"{args.product}: no Landsat product folder with an *_MTL.json, *_MTL.xml or *_MTL.txt")
    try:
        metadata = read_landsat_metadata(folder)
    except GraphError as exc:
        return fatal(str(exc))  # the product's own metadata: retrying cannot help
    log(f"INFO: {metadata.describe()} (from {metadata.source})")
    return _write_bands(metadata, folder, args.pattern_out, wanted)


def _write_bands(metadata: LandsatMetadata, folder: Path, pattern_out: str, wanted: list[str] | None) -> int:
    layers = list(metadata.bands) if wanted is None else wanted
    for layer in layers:
        band = metadata.bands.get(layer)
        if band is None:
            log(f"INFO: {layer}: not in this {metadata.processing_level} product; not written")
            continue
        src = folder / band.file_name
        if not src.is_file():
            if wanted is not None:
                return fatal(
                    f"{metadata.product_id}: {band.file_name} ({layer}) is listed in its MTL but missing"
                )
            log(f"WARNING: {layer}: {band.file_name} is listed in the MTL but missing; not written")
            continue
        dst = Path(pattern_out.replace("*", layer))
        try:
            write_cog(
                src,
                dst,
                nodata=band.nodata,
                overview_resampling="nearest" if layer == QA_LAYER else "average",
                scale_offset=band.scale_offset,
            )
        except (GraphError, OSError) as exc:
            return error(f"{layer}: {exc}")
        log(f"INFO: {layer}: {src.name} -> {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
