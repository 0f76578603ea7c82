"""Sentinel-1 burst backscatter without SNAP: the tile graph S1Backscatter's one step.

Usage: s1_backscatter.py --workdir DIR --pattern-out 20220918_A9_IW3_18029_*.tif
                         [--scale db|linear] [--gamma gamma_nearest|gamma_bilinear|none]
                         [--resolution-m 20] [--looks 1x4] [--polarisations "VV VH"] [--crs EPSG:32626]

Reads the tile's one-burst SAFE (``<workdir>/*.SAFE``, the ``__product__`` of a burst tile) and writes,
per polarisation, σ⁰ and terrain-flattened γ⁰ (graphs.sentinel1.geocode_burst), and the layover/shadow
mask, as COGs named by ``pattern-out`` with ``*`` replaced by the layer: ``sigma0_VV``, ``gamma0_VV``,
``sigma0_VH``, ``gamma0_VH``, ``layover_shadow``. The DEM is ``GEOCUBE_INGESTER_DEM`` (a GeoTIFF/VRT, a
folder of Copernicus GLO-30 tiles, or ``glo30``: the tile's GLO-30 VRT the processing job fetched)
with ``GEOCUBE_INGESTER_DEM_DATUM`` (default EGM2008, which needs PROJ's us_nga_egm08_25.tif: graphs.dem).

Log convention (original-ingester.md §5.10): ``FATAL ERROR: ...`` on stderr and exit 1 when the SAFE,
the DEM or the geoid grid cannot serve (retrying cannot help); other failures exit 1 with ``ERROR:``.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

if importlib.util.find_spec("graphs") is None:  # run from a source checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from graphs.dem import DemSource
from graphs.errors import GraphError
from graphs.scripting import error, fatal, log, make_parser
from graphs.sentinel1 import geocode_burst, parse_options


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--workdir", required=True, type=Path, help="folder holding the one-burst SAFE")
    parser.add_argument("--pattern-out", required=True, help="output file pattern, '*' is the layer")
    parser.add_argument("--scale", default="db")
    parser.add_argument("--gamma", default="gamma_nearest")
    parser.add_argument("--resolution-m", default="20")
    parser.add_argument("--looks", default="1x4", help="AZIMUTHxRANGE samples averaged before geocoding")
    parser.add_argument("--polarisations", default="", help="e.g. 'VV VH'; empty: all of the SAFE")
    parser.add_argument("--crs", default="", help="output CRS; empty: the burst's UTM zone")
    args = parser.parse_args(argv)

    if "*" not in args.pattern_out:
        return fatal(f"--pattern-out {args.pattern_out!r} has no '*' to replace by the layer name")
    safes = sorted(p for p in args.workdir.glob("*.SAFE") if p.is_dir())
    if len(safes) != 1:
        return fatal(f"{args.workdir}: {len(safes)} SAFE folders; a burst tile has exactly one")
    try:
        options = parse_options(resolution_m=args.resolution_m, scale=args.scale, gamma=args.gamma,
                                looks=args.looks, polarisations=args.polarisations, crs=args.crs)  # fmt: skip
        dem = DemSource.from_env(workdir=args.workdir)
    except GraphError as exc:
        return fatal(str(exc))
    scratch = Path(tempfile.mkdtemp(dir=args.workdir, prefix=".s1_backscatter."))
    try:
        result = geocode_burst(safes[0], dem, scratch, options=options)
        for layer, path in result.files.items():
            target = Path(args.pattern_out.replace("*", layer))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), target)
            log(f"INFO: {layer} -> {target}")
    except GraphError as exc:  # the SAFE, the DEM or the geoid grid: retrying cannot help
        return fatal(str(exc))
    except (OSError, MemoryError) as exc:
        return error(str(exc))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    below = ", ".join(f"{k} {v:.0%}" for k, v in result.below_noise_fraction.items())
    log(f"INFO: {safes[0].name}: {result.grid.width}x{result.grid.height} px at {options.resolution_m:g} m "
         f"({result.grid.crs}); {seconds}; below the noise floor: {below}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
