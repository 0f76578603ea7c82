"""``make bench``: tile linking against a straight port of the original, downloads against curl, the
product's hot path against curl + unzip, the bytes of an S1 burst against its SLC's, S1 burst
backscatter against reading the burst and warping its DEM, COG writing against ``gdal_translate``, the
``ingest`` flow's orchestration of trivial tiles against plain function calls, and the demo in
deployments mode against local mode. Each compares against its baseline in the same run, on the same
machine.

``python -m bench [tiles|transfer|bursts|s1|cog|orchestration|demo-deployments]`` runs some of them;
``BENCH_PRODUCT_MIB`` sizes the product, ``BENCH_TILES`` the orchestration's tiles (default 1 000).
"""

from __future__ import annotations

import os
import platform
import sys

from bench import bursts, cog, demo_deployments, orchestration, s1, tiles, transfer

SUITES = {
    "tiles": tiles.main,
    "transfer": transfer.main,
    "bursts": bursts.main,
    "s1": s1.main,
    "cog": cog.main,
    "orchestration": orchestration.main,
    "demo-deployments": demo_deployments.main,
}


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
