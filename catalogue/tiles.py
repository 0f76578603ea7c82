"""Tiles of scenes, and the previous/reference graph linking them.

A *series* is the list of tiles taken at the same place, ordered by date. In a series the first tile
is the *reference* of every other one, and each tile's *previous* is the tile just before it. So every
series is a single chain: no branch, whatever order the tiles arrive in.

Place of a tile (``place_key``):
- Sentinel-2: the MGRS tile (``T31TCJ``) and the relative orbit, so that a series holds comparable views;
- Landsat 8/9: the WRS path/row;
- others (and S2 names that cannot be parsed): the scene itself, i.e. a series of one.
Sentinel-1 bursts are grouped by track, swath and anx time (``catalogue.bursts``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import pairwise

from catalogue.models import Constellation, Scene, Tile

_S2_TILE = re.compile(r"_(R\d{3})_(T\d{2}[A-Z]{3})_")
_LANDSAT_PATH_ROW = re.compile(r"^L[COTEM]0[89]_\w{4}_(\d{6})_")


def scene_tiles(scene: Scene) -> list[Tile]:
    """One tile covering the whole scene (every constellation but S1 bursts)."""
    return [
        Tile(
            source_id=scene.source_id,
            scene_id=scene.source_id,
            date=scene.date,
            footprint_wkt=scene.footprint_wkt,
        )
    ]


def place_key(tile: Tile, constellation: Constellation) -> str:
    """The place a tile's series is grouped by (see the module docstring)."""
    if constellation is Constellation.SENTINEL2:
        match = _S2_TILE.search(tile.scene_id)
        if match:
            return f"S2:{match.group(2)}:{match.group(1)}"
    elif constellation is Constellation.LANDSAT89:
        match = _LANDSAT_PATH_ROW.match(tile.scene_id)
        if match:
            return f"LANDSAT:{match.group(1)}"
    elif constellation is Constellation.SENTINEL1 and tile.swath_id:
        return f"S1:{tile.source_id}"
    return f"SCENE:{tile.key}"


def link_series(tiles: Iterable[Tile], key: Callable[[Tile], str]) -> list[Tile]:
    """Set ``previous`` and ``reference`` of every tile, series by series (O(n log n)).

    Ties in date are broken by scene id then tile id, so the result does not depend on input order.
    """
    groups: dict[str, list[Tile]] = defaultdict(list)
    for tile in tiles:
        groups[key(tile)].append(tile)
    linked: list[Tile] = []
    for series in groups.values():
        series.sort(key=lambda t: (t.date, t.scene_id, t.source_id))
        root = series[0]
        linked.append(root.model_copy(update={"previous": None, "reference": None}))
        for before, tile in pairwise(series):
            linked.append(tile.model_copy(update={"previous": before.link(), "reference": root.link()}))
    linked.sort(key=lambda t: (t.date, t.scene_id, t.source_id))
    return linked
