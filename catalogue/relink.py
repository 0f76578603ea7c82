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


_Pair = tuple[TileLink | None, TileLink | None]  # (previous, reference): no model in the hot loop


def _decide(tile: _Pair, prev_done: bool, prev_links: _Pair | None, ref_done: bool) -> _Pair:
    """Rules 1 and 2 on plain pairs; ``prev_links`` are the previous's effective links (None: unknown)."""
    previous, reference = tile
    if previous is None:
        eff_prev = None
    elif prev_done:
        eff_prev = previous
    else:  # rule 1: the failed previous's own effective previous
        eff_prev = prev_links[0] if prev_links is not None else None
    if reference is None or ref_done:
        eff_ref = reference
    elif eff_prev is None:
        eff_ref = None  # rule 2: nothing DONE before it, it starts the chain again
    else:  # rule 2: the reference the previous had (it was re-linked the same way), or the previous
        eff_ref = prev_links[1] if prev_links is not None and prev_links[1] is not None else eff_prev
    return eff_prev, eff_ref


def effective_links(tile: Tile, *, previous: Outcome | None, reference: Outcome | None) -> Links:
    """The links ``tile`` is processed with, given the outcomes of its previous and reference (module
    docstring, rules 1 to 4). ``None`` for an outcome: unknown, taken as DONE (rule 3)."""
    known = previous.links if previous is not None else None
    eff_prev, eff_ref = _decide(
        (tile.previous, tile.reference),
        previous is None or previous.done,
        (known.previous, known.reference) if known is not None else None,
        reference is None or reference.done,
    )
    return Links(previous=eff_prev, reference=eff_ref)


def relink_by_status(tiles: Sequence[Tile], status: Mapping[str, str]) -> list[Tile]:
    """``tiles`` (same order) with their effective links, from each tile's status (tile key -> DONE,
    FAILED, SKIPPED; a tile without status counts as DONE). A tile whose links do not change is
    returned as given. Upstreams outside ``tiles`` count as DONE with unknown links (rule 3).

    Upstreams are resolved before their dependants whatever the order given (an older tile added later
    may reference a newer root), iteratively: a series of 10^5 tiles needs no deep recursion.
    """
    links: dict[str, _Pair] = {}  # tile key -> (previous, reference) as planned
    upstream: dict[str, tuple[str | None, str | None]] = {}
    for tile in tiles:
        key = tile.key
        links[key] = (tile.previous, tile.reference)
        upstream[key] = (
            tile.previous.key if tile.previous is not None else None,
            tile.reference.key if tile.reference is not None else None,
        )
    effective: dict[str, _Pair] = {}
    for start in links:
        if start in effective:
            continue
        stack = [start]
        visiting: set[str] = set()
        while stack:
            key = stack[-1]
            if key in effective:  # reached twice (a previous that is also the reference)
                stack.pop()
                continue
            prev_key, ref_key = upstream[key]
            if key not in visiting:
                # A key being visited is a cycle (never planned): its links are then taken as unknown.
                waiting = [
                    k for k in (prev_key, ref_key)
                    if k is not None and k in links and k not in effective and k not in visiting
                ]  # fmt: skip
                if waiting:
                    visiting.add(key)
                    stack.extend(waiting)
                    continue
            stack.pop()
            prev_known = prev_key is not None and prev_key in effective
            effective[key] = _decide(
                links[key],
                not prev_known or status.get(prev_key, DONE) == DONE,  # type: ignore[arg-type]
                effective[prev_key] if prev_known else None,  # type: ignore[index]
                ref_key is None or ref_key not in effective or status.get(ref_key, DONE) == DONE,
            )
    result = []
    for tile in tiles:
        pair = effective[tile.key]
        if pair == links[tile.key]:
            result.append(tile)
        else:
            result.append(tile.model_copy(update={"previous": pair[0], "reference": pair[1]}))
    return result
