"""Linking tiles into series: ``catalogue.tiles.link_tiles`` against a straight port of the original.

Prepare: synthetic burst tiles over 50 tracks x 3 swaths x 9 bursts, one acquisition every 12 days, from
10^3 to 10^5 tiles. Run: ours and the port (``bench.pooling``) alternately, best of several runs each,
after checking that both give every tile the same previous and reference; then ours incrementally
(1 % new tiles merged into the rest). Report: seconds, ours / port, and seconds per n·log2(n).
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bench.pooling import bursts_sort
from catalogue.models import Constellation, Tile
from catalogue.tiles import link_tiles

BOX = "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))"
SIZES = ((1_000, 30), (10_000, 7), (100_000, 3))  # (tiles, runs)


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


def _best(run: Callable[[], object], runs: int) -> float:
    best = math.inf
    for _ in range(runs):
        gc.collect()  # each run starts from the same heap
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
        del result
    return best


def _links(tiles: list[Tile]) -> dict[str, tuple[str | None, str | None]]:
    return {
        t.key: (t.previous.key if t.previous else None, t.reference.key if t.reference else None)
        for t in tiles
    }


def main() -> None:
    print("tile linking: link_tiles (ours) against bench.pooling (a straight port of BurstsSort)")
    print(f"{'tiles':>8} {'ours s':>9} {'port s':>9} {'ours/port':>10} {'us/n.log2n':>11} {'+1 % s':>8}")
    for n, runs in SIZES:
        tiles = make_tiles(n)
        ours = link_tiles(tiles, constellation=Constellation.SENTINEL1)
        if _links(ours.tiles) != _links(bursts_sort(tiles)):
            raise SystemExit(f"{n} tiles: link_tiles and the port disagree on some link")
        ours_s = port_s = math.inf

        def run_ours(tiles: list[Tile] = tiles) -> object:
            return link_tiles(tiles, constellation=Constellation.SENTINEL1)

        def run_port(tiles: list[Tile] = tiles) -> object:
            return bursts_sort(tiles)

        for _ in range(runs):  # alternate, so both see the same machine load
            ours_s = min(ours_s, _best(run_ours, 1))
            port_s = min(port_s, _best(run_port, 1))
        cut = n - n // 100
        existing = link_tiles(tiles[:cut], constellation=Constellation.SENTINEL1).tiles

        def run_incremental(new: list[Tile] = tiles[cut:], existing: list[Tile] = existing) -> object:
            return link_tiles(new, constellation=Constellation.SENTINEL1, existing=existing)

        incremental = _best(run_incremental, runs)
        per = ours_s / (n * math.log2(n)) * 1e6
        print(
            f"{n:>8} {ours_s:>9.4f} {port_s:>9.4f} {ours_s / port_s:>9.2f}x {per:>11.3f} {incremental:>8.3f}"
            f"   ({len(ours.series)} series)"
        )
