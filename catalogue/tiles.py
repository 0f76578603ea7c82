"""Tiles of scenes, and the previous/reference graph linking them (``link_tiles``).

A *series* is the set of tiles taken at the same place. Each tile's *previous* is the acquisition just
before it; its *reference* is the series' *root*, the tile every output of the series was computed
against (the SAR coregistration master, for instance). The original ingester's ``BurstsSort`` does the
same job (docs/original-ingester.md §2.10) but reloads only root and leaf tiles, so incremental AOIs form
branches (§9.2 item 5), and an older scene found later becomes a new root (§9.2 item 4). Our rules:

1. Grouping. Sentinel-1 bursts (tile id ``<dir><relorbit>_<swath>_<anx>``, e.g. ``A44_IW1_8951``) are
   grouped by track and swath, the id's first two ``_`` fields (the original keys on the id's first four
   characters, which mixes track and swath for tracks < 100). Each group is sorted by anx time
   (``Tile.anx_time``, deci-seconds; parsed from the id's third field when not set) and cut into *pools*:
   a pool extends while ``anx < first_anx_of_the_pool + ANX_POOL_WINDOW_DS`` (0.5 s, the original's
   tolerance; consecutive bursts are 2.76 s apart). A pool is a series. Every other tile is grouped by
   ``place_key``: the MGRS tile and relative orbit for Sentinel-2, the WRS path/row for Landsat 8/9,
   else the scene alone (a series of one).
2. Order. Within a series, tiles are ordered by (date, scene id, tile id): a total order, so the result
   never depends on the input order (the original's ``sort.Slice`` is unstable).
3. First run (no existing tile in the series): the first tile is the root (no previous, no reference);
   every other tile gets the root as reference and the preceding tile as previous.
4. Incremental AOI. ``existing`` tiles (linked by an earlier run) are immutable for their reference:
   the reference is what their outputs were computed against, so changing it would invalidate every
   processed tile. New tiles are merged into the series in date order and get the tile just before them
   as previous, and the series' existing root as reference, even a new tile older than that root (it
   gets the tile before it, if any, as previous, and the root stays root). An existing tile that now has
   a new tile just before it gets that tile as previous and is returned in ``relinked``, to be processed
   again; so the chain stays single, never a branch. A series without existing tiles follows rule 3.
   The series of an existing tile is its root (its reference, or itself when it has none), so existing
   series are never split or merged: if one pool holds tiles of several existing series, each new tile
   joins the series of the existing tile nearest in anx time (then date). Pass *every* existing tile
   of the AOI: a tile left out cannot be relinked.
5. A tile in both ``new`` and ``existing`` (same scene and tile id) is not duplicated: the existing one
   wins and the new one is reported in ``already_known``.
6. Cost: O(n log n) in the number of tiles (sorts and bisections, no quadratic scan).
7. Failures. The links set here are the *planned* ones. A tile whose previous or reference fails is
   processed with *effective* links decided when it starts (``catalogue.relink``: past a failed previous,
   and a failed root's role to the next DONE tile). The ledger passes the existing tiles with their
   effective links and without the failed ones, so a new tile never gets a failed tile as previous or
   reference, and the root of a series whose root failed is the next DONE tile.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Final

from pydantic import BaseModel, Field

from catalogue.models import Constellation, Scene, Tile, TileLink

log = logging.getLogger(__name__)

# Anx times are deci-seconds. The original ingester (Catalog.BurstsSort) pools bursts within 0.5 s of a
# pool's first burst; bursts of one swath are one burst cycle (2.758 s) apart.
ANX_POOL_WINDOW_DS: Final = 5

_S2_TILE = re.compile(r"_(R\d{3})_(T\d{2}[A-Z]{3})_")
_LANDSAT_PATH_ROW = re.compile(r"^L[COTEM]0[89]_\w{4}_(\d{6})_")
_BURST_ID = re.compile(r"^([AD]\d+)_([A-Z]+\d*)_(\d+)$")

_SeriesId = tuple[str, str]  # ("existing", root key) or ("new", pool place)


class SeriesSummary(BaseModel):
    """One series after linking, for the plan printout."""

    place: str = Field(description="Where: S2:T31TCJ:R051, LANDSAT:198030, S1:A44_IW1:8951 (first anx)...")
    count: int = Field(description="Tiles in the series, existing and new")
    root: str = Field(description="Key (scene_id/source_id) of the root, the reference of the series")
    leaf: str = Field(description="Key of the last tile by date")
    new_count: int = Field(description="New tiles in the series")


class LinkResult(BaseModel):
    """What ``link_tiles`` decided."""

    tiles: list[Tile] = Field(description="The new tiles with previous/reference set, by date")
    relinked: list[Tile] = Field(
        description="Existing tiles whose previous changed (a new tile now precedes them): process again"
    )
    series: list[SeriesSummary] = Field(description="Every series holding a new or an existing tile")
    already_known: list[str] = Field(
        default_factory=list, description="Keys of new tiles dropped because they were already known"
    )


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
    """The place a tile's series is grouped by (rule 1); S1 groups are then cut into anx pools."""
    if constellation is Constellation.SENTINEL2:
        match = _S2_TILE.search(tile.scene_id)
        if match:
            return f"S2:{match.group(2)}:{match.group(1)}"
    elif constellation is Constellation.LANDSAT89:
        match = _LANDSAT_PATH_ROW.match(tile.scene_id)
        if match:
            return f"LANDSAT:{match.group(1)}"
    elif constellation is Constellation.SENTINEL1:
        match = _BURST_ID.match(tile.source_id)
        if match:
            return f"S1:{match.group(1)}_{match.group(2)}"
    return f"SCENE:{tile.key}"


def burst_anx_time(tile: Tile) -> int | None:
    """The anx time (deci-seconds) of a burst tile: ``anx_time``, else the id's third field; else None."""
    match = _BURST_ID.match(tile.source_id)
    if match is None:
        return None
    return tile.anx_time or int(match.group(3))


def link_tiles(
    new: Sequence[Tile], *, constellation: Constellation, existing: Sequence[Tile] = ()
) -> LinkResult:
    """Set the previous and reference of ``new`` tiles, merging them into ``existing`` series.

    The rules are in the module docstring. ``existing`` tiles are not modified; those whose previous
    must change are returned, changed, in ``relinked``. A new tile that needs no change (a root given
    without links) is returned as given, not copied.
    """
    known: dict[str, Tile] = {}
    for tile in existing:
        known.setdefault(tile.key, tile)
    fresh: dict[str, Tile] = {}
    already_known: list[str] = []
    for tile in new:
        key = tile.key
        if key in known or key in fresh:
            already_known.append(key)
        else:
            fresh[key] = tile

    anx_of: dict[int, int] = {}  # id(tile) -> anx time, bursts only
    # Tiles usually come in date order, which makes this sort linear; the results keep its order.
    ordered = sorted([*known.values(), *fresh.values()], key=_order)
    pools = _cut_pools(ordered, constellation, anx_of)
    if known:
        series = _group_series(pools, known, anx_of)
    else:  # a first run: every pool is a new series
        series = [(place, None, pool) for place, pool in pools]

    linked: dict[int, Tile] = {}  # id(tile given) -> tile linked
    relinked: dict[int, Tile] = {}
    summaries: list[SeriesSummary] = []
    for place, root_key, tiles in series:
        if len(tiles) > 1:
            tiles.sort(key=_order)
        if root_key is None:
            new_count = _link_new_series(tiles, linked)
            root_key = tiles[0].key
        else:
            root = _existing_root(root_key, tiles, known)
            new_count = _link_chain(tiles, fresh, root, linked, relinked)
        summaries.append(
            SeriesSummary(
                place=place, count=len(tiles), root=root_key, leaf=tiles[-1].key, new_count=new_count
            )
        )
    summaries.sort(key=attrgetter("place", "root"))
    return LinkResult(
        tiles=[linked[id(t)] for t in ordered if id(t) in linked],
        relinked=[relinked[id(t)] for t in ordered if id(t) in relinked],
        series=summaries,
        already_known=sorted(already_known),
    )


_order: Final = attrgetter("date", "scene_id", "source_id")  # rule 2, a total order


def _root_key(tile: Tile) -> str:
    return tile.reference.key if tile.reference is not None else tile.key


def _cut_pools(
    tiles: list[Tile], constellation: Constellation, anx_of: dict[int, int]
) -> list[tuple[str, list[Tile]]]:
    """Rule 1: (place, tiles) of every pool; a place is a pool, except S1 groups, cut by anx time.

    Fills ``anx_of`` (``id(tile)`` -> anx time) for burst tiles. No object is made per tile here: at
    10^5 tiles, collecting per-tile garbage costs more than the linking itself.
    """
    groups: dict[str, list[Tile]] = defaultdict(list)
    bursts = constellation is Constellation.SENTINEL1
    burst_ids: dict[str, tuple[str, int] | None] = {}  # a burst id repeats in every acquisition
    for tile in tiles:
        burst = None
        if bursts:
            if tile.source_id not in burst_ids:
                match = _BURST_ID.match(tile.source_id)
                burst_ids[tile.source_id] = (
                    None if match is None else (f"S1:{match.group(1)}_{match.group(2)}", int(match.group(3)))
                )
            burst = burst_ids[tile.source_id]
        if burst is None:  # its own group (SCENE:...) unless S2/Landsat; never cut
            groups[place_key(tile, constellation)].append(tile)
        else:
            anx_of[id(tile)] = tile.anx_time or burst[1]
            groups[burst[0]].append(tile)
    pools: list[tuple[str, list[Tile]]] = []
    for place in sorted(groups):
        group = groups[place]
        if not place.startswith("S1:"):
            pools.append((place, group))
            continue
        # Pools depend on anx times only (equal times fall in one pool); series are ordered later.
        group.sort(key=lambda t: anx_of[id(t)])
        start, first = 0, anx_of[id(group[0])]
        for i in range(1, len(group)):
            anx = anx_of[id(group[i])]
            if anx >= first + ANX_POOL_WINDOW_DS:
                pools.append((f"{place}:{first}", group[start:i]))
                start, first = i, anx
        pools.append((f"{place}:{first}", group[start:] if start else group))
    return pools


def _group_series(
    pools: list[tuple[str, list[Tile]]], known: dict[str, Tile], anx_of: dict[int, int]
) -> list[tuple[str, str | None, list[Tile]]]:
    """(place, root key of an existing series or None for a new one, tiles) of every series."""
    members: dict[_SeriesId, list[Tile]] = defaultdict(list)
    places: dict[_SeriesId, str] = {}
    for place, pool in pools:
        for series_id, tile in _assign_series(place, pool, known, anx_of):
            members[series_id].append(tile)
            places[series_id] = min(place, places.get(series_id, place))
    return [
        (places[series_id], series_id[1] if series_id[0] == "existing" else None, tiles)
        for series_id, tiles in members.items()
    ]


def _assign_series(
    place: str, pool: list[Tile], known: dict[str, Tile], anx_of: dict[int, int]
) -> list[tuple[_SeriesId, Tile]]:
    """Rule 4: the series of every tile of a pool; an existing tile stays in its root's series."""

    def nearness(tile: Tile) -> tuple[int, datetime, str, str]:
        return (anx_of.get(id(tile), 0), tile.date, tile.scene_id, tile.source_id)

    olds = sorted((t for t in pool if t.key in known), key=nearness)
    roots = {_root_key(t) for t in olds}
    keys = [nearness(t) for t in olds]
    assigned: list[tuple[_SeriesId, Tile]] = []
    for tile in pool:
        if tile.key in known:
            assigned.append((("existing", _root_key(tile)), tile))
        elif not roots:
            assigned.append((("new", place), tile))
        elif len(roots) == 1:
            assigned.append((("existing", next(iter(roots))), tile))
        else:
            assigned.append((("existing", _root_key(_nearest(nearness(tile), olds, keys))), tile))
    return assigned


def _nearest(
    key: tuple[int, datetime, str, str], olds: list[Tile], keys: list[tuple[int, datetime, str, str]]
) -> Tile:
    """The existing tile nearest ``key`` in anx time; a tie goes to the one before it (earlier date)."""
    at = bisect_left(keys, key)
    if at == 0:
        return olds[0]
    if at == len(olds):
        return olds[-1]
    anx = key[0]
    return olds[at] if keys[at][0] - anx < anx - keys[at - 1][0] else olds[at - 1]


def _existing_root(root_key: str, tiles: list[Tile], known: dict[str, Tile]) -> TileLink:
    """The link to an existing series' root: the root tile itself, else the reference its tiles carry."""
    if root_key in known:
        return known[root_key].link()
    return next(t.reference for t in tiles if t.reference is not None and t.reference.key == root_key)


def _link_new_series(tiles: list[Tile], linked: dict[int, Tile]) -> int:
    """Rule 3 on a series of new tiles ordered by date; ``linked[id(tile)]`` is the tile linked."""
    first = tiles[0]
    root = before = first.link()
    unlinked = first.previous is None and first.reference is None
    linked[id(first)] = first if unlinked else first.model_copy(update={"previous": None, "reference": None})
    for i in range(1, len(tiles)):
        tile = tiles[i]
        linked[id(tile)] = tile.model_copy(update={"previous": before, "reference": root})
        before = tile.link()
    return len(tiles)


def _link_chain(
    tiles: list[Tile],
    fresh: Collection[str],
    root: TileLink,
    linked: dict[int, Tile],
    relinked: dict[int, Tile],
) -> int:
    """Rule 4 on an existing series ordered by date: ``linked[id(tile)]`` is a new tile linked,
    ``relinked[id(tile)]`` an existing tile relinked; return the number of new tiles in the series."""
    count = 0
    before_key = ""
    before_link: TileLink | None = None
    for tile in tiles:
        key = tile.key
        link = tile.link()
        if key in fresh:
            count += 1
            linked[id(tile)] = tile.model_copy(update={"previous": before_link, "reference": root})
        elif before_key in fresh:
            log.info("tile %s: previous is now the new tile %s, inserted before it", key, before_key)
            relinked[id(tile)] = tile.model_copy(update={"previous": before_link})
        before_key, before_link = key, link
    return count
