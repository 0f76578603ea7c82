"""Failures that don't cascade: the links a tile is processed with when its previous or reference failed.

The plan links every tile to its *previous* and its *reference* (``catalogue.tiles``). When one of them
fails, the dependant is not run against the missing outputs, and it is not blocked either: it is
re-linked around the failure, as the original ingester's ``FailTile`` does (original-ingester.md §3.6).
The *effective* links of a tile are decided from the outcomes of its two upstreams only:

1. Effective previous: the previous when it is DONE; when it failed, the failed tile's own effective
   previous (which it got by the same rule, so recursively back to the last DONE tile), possibly none.
2. Effective reference: the reference when it is DONE. When the reference failed (a failed root), the
   root's role goes to the next DONE tile of the series: the previous's effective reference when the
   previous failed; when the previous is DONE, its effective reference, or the previous itself when it
   was processed as a root (no reference). A tile left without a previous becomes a root itself (no
   previous, no reference), as the original's first dependant of a failed root does.
3. An upstream whose outcome is not known here (a tile of an earlier run: the ledger offers only DONE
   ones) counts as DONE; when its own links are unknown too and the reference failed, it becomes the
   reference (it is taken for a root).
4. A tile's effective links never name a tile that is not DONE.

The same function decides in two places, which therefore agree: the parent flow's dispatch, when the
dependant starts (``flows.dispatch``: its upstreams have finished, their outcomes carry the links they
were processed with), and after a run, from the tiles' statuses (``relink_by_status``: the AOI ledger and
the Geocube records' link tags). No Prefect here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from catalogue.models import Tile, TileLink

DONE = "DONE"


class Links(BaseModel):
    """The previous and reference a tile is (or was) processed with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    previous: TileLink | None = None
    reference: TileLink | None = None

    @classmethod
    def of(cls, tile: Tile) -> Links:
        return cls(previous=tile.previous, reference=tile.reference)


class Outcome(BaseModel):
    """What a dependant knows of one of its upstreams once it has finished."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    done: bool = Field(description="The upstream was processed (DONE); else it failed or was not run")
    links: Links | None = Field(default=None, description="The effective links it had; None: unknown")


def effective_links(tile: Tile, *, previous: Outcome | None, reference: Outcome | None) -> Links:
    """The links ``tile`` is processed with, given the outcomes of its previous and reference (module
    docstring, rules 1 to 4). ``None`` for an outcome: unknown, taken as DONE (rule 3)."""
    prev_done = previous is None or previous.done
    known = previous.links if previous is not None else None
    if tile.previous is None:
        eff_prev: TileLink | None = None
    elif prev_done:
        eff_prev = tile.previous
    else:  # rule 1: the failed previous's own effective previous
        eff_prev = known.previous if known is not None else None
    if tile.reference is None or reference is None or reference.done:
        eff_ref = tile.reference
    elif eff_prev is None:
        eff_ref = None  # rule 2: nothing DONE before it, it starts the chain again
    else:  # rule 2: the reference the previous had (it was re-linked the same way), or the previous
        eff_ref = known.reference if known is not None and known.reference is not None else eff_prev
    return Links(previous=eff_prev, reference=eff_ref)


def relink_by_status(tiles: Sequence[Tile], status: Mapping[str, str]) -> list[Tile]:
    """``tiles`` (same order) with their effective links, from each tile's status (tile key -> DONE,
    FAILED, SKIPPED; a tile without status counts as DONE). A tile whose links do not change is
    returned as given. Upstreams outside ``tiles`` count as DONE with unknown links (rule 3).

    Upstreams are resolved before their dependants whatever the order given (an older tile added later
    may reference a newer root), iteratively: a series of 10^5 tiles needs no deep recursion.
    """
    by_key = {t.key: t for t in tiles}
    done: dict[str, Links] = {}

    def outcome(link: TileLink | None) -> Outcome | None:
        if link is None or link.key not in by_key:
            return None
        return Outcome(done=status.get(link.key, DONE) == DONE, links=done[link.key])

    for start in tiles:
        if start.key in done:
            continue
        stack = [start.key]
        visiting: set[str] = set()
        while stack:
            key = stack[-1]
            if key in done:  # reached twice (a previous that is also the reference)
                stack.pop()
                continue
            tile = by_key[key]
            waiting = [
                link.key
                for link in (tile.previous, tile.reference)
                if link is not None and link.key in by_key and link.key not in done
                and link.key not in visiting  # a cycle (never planned): its links are taken as unknown
            ]  # fmt: skip
            if waiting and key not in visiting:
                visiting.add(key)
                stack.extend(waiting)
                continue
            stack.pop()
            prev, ref = (
                None if link is None or link.key not in done else outcome(link)
                for link in (tile.previous, tile.reference)
            )
            done[key] = effective_links(tile, previous=prev, reference=ref)
    result = []
    for tile in tiles:
        links = done[tile.key]
        if links == Links.of(tile):
            result.append(tile)
        else:
            result.append(tile.model_copy(update={"previous": links.previous, "reference": links.reference}))
    return result
