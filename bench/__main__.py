"""``make bench``: tile linking against a straight port of the original, and the product's hot path
against curl + unzip. Each compares against its baseline in the same run, on the same machine.

``python -m bench [tiles|transfer|bursts]`` runs one of them; ``BENCH_PRODUCT_MIB`` sizes the product.
"""

from __future__ import annotations

import os
import platform
import sys

from bench import bursts, tiles, transfer

SUITES = {"tiles": tiles.main, "transfer": transfer.main, "bursts": bursts.main}


def main(argv: list[str]) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    unknown = [name for name in argv if name not in SUITES]
    if unknown:
        raise SystemExit(f"unknown benchmark {', '.join(unknown)}: choose among {', '.join(SUITES)}")
    for name in argv or list(SUITES):
        SUITES[name]()
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
