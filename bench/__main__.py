"""``make bench``: growth of the previous/reference graph, from 10^3 to 10^5 Sentinel-1 burst tiles.

Prepare: synthetic burst tiles over 50 tracks x 3 swaths x 9 bursts, one acquisition every 12 days.
Run: ``link_tiles`` once from scratch, then an incremental run adding 1 % new tiles to the rest.
Report: seconds, and seconds per n·log2(n) (flat if the growth is linearithmic), with the machine.
"""

from __future__ import annotations

import math
import os
import platform
import time
from datetime import UTC, datetime, timedelta

from catalogue.models import Constellation, Tile
from catalogue.tiles import link_tiles

BOX = "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))"


def make_tiles(n: int) -> list[Tile]:
    tiles: list[Tile] = []
    start = datetime(2020, 1, 1, tzinfo=UTC)
    per_pass = 50 * 3 * 9
    for i in range(n):
        passage, place = divmod(i, per_pass)
        track, rest = divmod(place, 27)
        swath, burst = divmod(rest, 9)
        anx = 1000 + burst * 28 + (passage % 3) - 1  # within the 0.5 s pool of its burst
        date = start + timedelta(days=12 * passage, seconds=track)
        scene = f"S1A_IW_SLC__1SDV_{date:%Y%m%dT%H%M%S}_T{track:03d}"
        tiles.append(
            Tile(
                source_id=f"D{track + 1}_IW{swath + 1}_{anx}",
                scene_id=scene,
                date=date,
                footprint_wkt=BOX,
                swath_id=f"IW{swath + 1}",
                tile_nr=burst + 1,
                anx_time=anx,
            )
        )
    return tiles


def main() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'tiles':>8} {'from scratch s':>15} {'us per n.log2 n':>16} {'+1 % incremental s':>19}")
    for n in (1_000, 10_000, 100_000):
        tiles = make_tiles(n)
        started = time.perf_counter()
        first = link_tiles(tiles, constellation=Constellation.SENTINEL1)
        scratch = time.perf_counter() - started
        cut = n - n // 100
        existing = link_tiles(tiles[:cut], constellation=Constellation.SENTINEL1).tiles
        started = time.perf_counter()
        link_tiles(tiles[cut:], constellation=Constellation.SENTINEL1, existing=existing)
        incremental = time.perf_counter() - started
        per = scratch / (n * math.log2(n)) * 1e6
        print(f"{n:>8} {scratch:>15.3f} {per:>16.3f} {incremental:>19.3f}   ({len(first.series)} series)")


if __name__ == "__main__":
    main()
