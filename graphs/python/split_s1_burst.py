"""Cut one burst out of a Sentinel-1 IW SLC SAFE: the scene graph S1BurstSplit's one step.

Usage: split_s1_burst.py --workdir DIR --product S.SAFE --swath IW2 --number 3 --out S.SAFE
                         [--polarisations "VV VH"]

Reads ``<workdir>/<product>`` (the whole SLC, unpacked) and writes the one-burst SAFE of burst
``number`` (1-based, the tile's ``tile_nr``) of ``swath`` to ``<workdir>/<out>``
(:func:`catalogue.burst_safe.cut_burst_safe`); ``--polarisations`` (space or comma separated; empty:
every polarisation of the swath) selects the polarisations kept.

A burst tile's product and its cut have the same name (``<scene>.SAFE``, what the storage layout
stores as the tile's ``__product__``), so the download job runs each tile in a folder of its own where
``<product>`` is a symbolic link to the scene's unpacked product: the link is replaced by the cut and
the product is left whole for the next tile. A real folder at ``<out>`` that is also the product is
refused (cutting it would destroy the product).

Log convention (original-ingester.md §5.10): ``FATAL ERROR: ...`` on stderr and exit 1 when the product
cannot give that burst (no such swath or burst, annotation and measurement disagree): retrying cannot help.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

if importlib.util.find_spec("graphs") is None:  # run from a source checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from catalogue.burst_safe import BurstSafeError, cut_burst_safe
from graphs.scripting import fatal, log, make_parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--product", required=True, help="the SAFE folder of the whole SLC, in workdir")
    parser.add_argument("--swath", required=True, help="IW1, IW2 or IW3 (the tile's swath)")
    parser.add_argument("--number", required=True, type=int, help="burst number, 1-based (the tile's)")
    parser.add_argument("--out", required=True, help="the one-burst SAFE folder to write, in workdir")
    parser.add_argument("--polarisations", default="", help="e.g. 'VV VH'; empty: all of the swath")
    args = parser.parse_args(argv)

    source = args.workdir / args.product
    out = args.workdir / args.out
    if not source.is_dir():
        return fatal(f"{args.product}: no such SAFE folder in {args.workdir}")
    if out.exists() and not out.is_symlink() and out.resolve() == source.resolve():
        return fatal(
            f"{args.out}: the output would replace the product itself; run the tile in a folder of its "
            f"own where {args.product} links to the product"
        )
    if not args.swath or args.number < 1:
        return fatal(f"tile swath {args.swath!r} burst {args.number}: not an S1 burst tile")
    pols = [p for p in re.split(r"[\s,]+", args.polarisations) if p]
    cut = args.workdir / f".{args.out}.cut"
    try:
        burst = cut_burst_safe(source.resolve(), cut, swath=args.swath, burst=args.number, polarisations=pols)
    except BurstSafeError as exc:
        return fatal(str(exc))
    size = burst.size_bytes
    if out.is_symlink() or out.is_file():
        out.unlink()
    elif out.is_dir():
        shutil.rmtree(out)
    cut.replace(out)
    log(
        f"INFO: {args.swath} burst {args.number} ({'/'.join(burst.polarisations)}, {burst.lines} lines of "
        f"{burst.samples} samples): {len(burst.files)} files, {size} bytes -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
