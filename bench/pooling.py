"""The baseline for ``bench.tiles``: a straight port of the original ingester's ``Catalog.BurstsSort``.

original-ingester.md §2.10 on a first run: group bursts by the id's first four characters and the
swath, sort each group by anx time, cut pools of 0.5 s from a pool's first burst, sort each pool by date;
every burst after the first gets the pool's first as reference and the burst before it as previous. It
has none of our rules (no total order, no incremental merge, no series summary, no de-duplication); it
exists only to measure how much more ``catalogue.tiles.link_tiles`` costs for the same links.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from catalogue.models import Tile
from catalogue.tiles import ANX_POOL_WINDOW_DS


def bursts_sort(tiles: Sequence[Tile]) -> list[Tile]:
    """The tiles with previous/reference set as the original sets them, pool by pool."""
    groups: dict[str, list[Tile]] = defaultdict(list)
    for tile in tiles:
        groups[tile.source_id[:4] + tile.swath_id].append(tile)
    out: list[Tile] = []
    for group in groups.values():
        group.sort(key=lambda t: t.anx_time)
        low = 0
        while low < len(group):
            high = low + 1
            while high < len(group) and group[high].anx_time < group[low].anx_time + ANX_POOL_WINDOW_DS:
                high += 1
            pool = sorted(group[low:high], key=lambda t: t.date)
            reference = previous = pool[0].link()
            out.append(pool[0])
            for tile in pool[1:]:
                out.append(tile.model_copy(update={"previous": previous, "reference": reference}))
                previous = tile.link()
            low = high
    return out
