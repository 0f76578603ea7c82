"""Failures that don't cascade: effective links (``catalogue.relink``), the ledger across runs. No Prefect."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from catalogue.ledger import Ledger
from catalogue.models import Constellation, Scene, Tile
from catalogue.records import link_tag_updates
from catalogue.relink import Links, Outcome, effective_links, relink_by_status
from catalogue.tiles import link_tiles, scene_tiles

BOX = "POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))"
S2 = Constellation.SENTINEL2
START = datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC)


def s2_scene(day: int, mgrs: str = "T31TCJ") -> Scene:
    date = START + timedelta(days=day)
    name = f"S2A_MSIL1C_{date:%Y%m%dT%H%M%S}_N0510_R051_{mgrs}_{date:%Y%m%dT%H%M%S}"
    return Scene(source_id=name, date=date, constellation=S2, footprint_wkt=BOX)


def series(count: int, mgrs: str = "T31TCJ", first_day: int = 0) -> list[Tile]:
    """``count`` acquisitions 10 days apart of one MGRS tile, linked as the plan links them."""
    tiles = [scene_tiles(s2_scene(first_day + 10 * i, mgrs))[0] for i in range(count)]
    return link_tiles(tiles, constellation=S2).tiles


def names(tiles: list[Tile], chain: list[Tile]) -> dict[str, tuple[str | None, str | None]]:
    """Each tile as (previous, reference), tiles named by their letter in ``chain``."""
    letter = {t.key: "ABCDEFGH"[i] for i, t in enumerate(chain)}
    return {
        letter[t.key]: (
            letter[t.previous.key] if t.previous else None,
            letter[t.reference.key] if t.reference else None,
        )
        for t in tiles
    }


def test_a_failed_middle_tile_hands_its_previous_to_its_dependant() -> None:
    a, b, _, d = chain = series(4)
    relinked = relink_by_status(chain, {b.key: "FAILED"})
    assert names(relinked, chain) == {
        "A": (None, None),
        "B": ("A", "A"),  # what it was tried with
        "C": ("A", "A"),  # runs against A, not against the failed B
        "D": ("C", "A"),
    }
    assert relinked[0] is a and relinked[3] is d, "tiles whose links do not change are returned as given"


def test_a_failed_root_hands_the_reference_to_the_next_done_tile() -> None:
    chain = series(4)
    relinked = relink_by_status(chain, {chain[0].key: "FAILED"})
    assert names(relinked, chain) == {"A": (None, None), "B": (None, None), "C": ("B", "B"), "D": ("C", "B")}


def test_failures_in_a_row_are_skipped_to_the_last_done_tile() -> None:
    chain = series(6)
    a, b, _, d, e, _ = chain
    relinked = relink_by_status(chain, {a.key: "FAILED", b.key: "FAILED", d.key: "SKIPPED", e.key: "FAILED"})
    assert names(relinked, chain) == {
        "A": (None, None),
        "B": (None, None),
        "C": (None, None),  # the new root
        "D": ("C", "C"),
        "E": ("C", "C"),
        "F": ("C", "C"),  # past the not-run D and the failed E
    }


def test_getting_root_tiles_as_the_original_workflow_test() -> None:
    """The original's workflow test: failing the first two tiles of a chain leaves exactly 2 root tiles
    among the tiles not failed (the other chain's root, and the re-rooted leaf)."""
    one, other = series(3, "T31TCJ"), series(3, "T31TDJ", first_day=1)
    tiles = sorted([*one, *other], key=lambda t: t.date)  # interleaved: the order must not matter
    status = {other[0].key: "FAILED", other[1].key: "FAILED"}
    relinked = relink_by_status(tiles, status)
    roots = [
        t for t in relinked if status.get(t.key) != "FAILED" and t.previous is None and t.reference is None
    ]
    assert [t.key for t in roots] == [one[0].key, other[2].key]
    leaves = {t.key for t in relinked if status.get(t.key) != "FAILED"} - {
        t.previous.key for t in relinked if t.previous and status.get(t.key) != "FAILED"
    }
    assert leaves == {one[2].key, other[2].key}


def test_the_dispatch_decision_from_two_outcomes_matches_the_whole_series_decision() -> None:
    """What a dispatch decides from its previous's and reference's outcomes (links included) equals
    what ``relink_by_status`` decides from the statuses of the whole series."""
    chain = series(5)
    status = {chain[0].key: "FAILED", chain[2].key: "FAILED"}
    whole = {t.key: Links.of(t) for t in relink_by_status(chain, status)}
    for tile in chain[1:]:
        assert tile.previous is not None and tile.reference is not None
        prev = Outcome(done=tile.previous.key not in status, links=whole[tile.previous.key])
        ref = Outcome(done=tile.reference.key not in status, links=whole[tile.reference.key])
        assert effective_links(tile, previous=prev, reference=ref) == whole[tile.key], tile.key


def test_an_upstream_of_an_earlier_run_counts_as_done() -> None:
    *_, c = series(3)
    assert effective_links(c, previous=None, reference=None) == Links.of(c)
    # Its previous is an earlier run's tile (links unknown) and its reference failed: the previous
    # becomes the reference.
    failed_root = Outcome(done=False, links=Links())
    assert effective_links(c, previous=None, reference=failed_root) == Links(
        previous=c.previous, reference=c.previous
    )
    # An upstream that crashed without saying its links: nothing DONE is known before the tile.
    assert effective_links(c, previous=Outcome(done=False), reference=None) == Links(
        previous=None, reference=c.reference
    )


def test_an_older_tile_that_references_a_newer_root_is_resolved_in_any_order() -> None:
    a, b, c = series(3)
    older = scene_tiles(s2_scene(-10))[0].model_copy(update={"reference": b.link()})  # a late older scene
    tiles = [older, c, b, a]
    relinked = relink_by_status(tiles, {b.key: "FAILED"})
    assert relinked[0].reference is None, "no DONE tile before it: it starts the chain"
    assert relinked[1].previous == a.link() and relinked[1].reference == a.link()


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=12),
    failed=st.sets(st.integers(min_value=0, max_value=11)),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_effective_links_never_name_a_failed_tile(count: int, failed: set[int], seed: int) -> None:
    chain = series(count)
    status = {chain[i].key: "FAILED" for i in failed if i < count}
    tiles = list(chain)
    random.Random(seed).shuffle(tiles)  # noqa: S311 - a test order, not a secret
    relinked = relink_by_status(tiles, status)
    done = [t for t in relinked if t.key not in status]
    for tile in relinked:
        for link in (tile.previous, tile.reference):
            assert link is None or link.key not in status, (tile.key, link)
    # The DONE tiles still form one chain with one root that every other one references.
    roots = [t for t in done if t.reference is None]
    assert len(roots) == (1 if done else 0)
    ordered = sorted(done, key=lambda t: t.date)
    for i, tile in enumerate(ordered[1:], start=1):
        assert tile.previous == ordered[i - 1].link()
        assert tile.reference == ordered[0].link()


def test_the_ledger_keeps_failed_tiles_out_of_a_later_runs_links() -> None:
    """Run 1: A B C D with the root A and the middle C failed. Run 2 adds E: its previous and reference
    are DONE tiles (D and the new root B), never A or C."""
    chain = series(4)
    a, b, c, d = chain
    ledger = Ledger(aoi="Cascade")
    scenes = [s2_scene(10 * i) for i in range(5)]
    ledger.record(scenes[:4], chain, {a.key: "FAILED", b.key: "DONE", c.key: "FAILED", d.key: "DONE"})
    kept = {t.key: t for t in ledger.known_tiles()}
    assert set(kept) == {b.key, d.key}
    assert kept[b.key].previous is None and kept[b.key].reference is None, "B is the series' root"
    assert kept[d.key].previous == b.link() and kept[d.key].reference == b.link()

    e = scene_tiles(scenes[4])[0]
    linked = link_tiles([e], constellation=S2, existing=ledger.known_tiles())
    (new,) = linked.tiles
    assert new.previous == d.link() and new.reference == b.link()
    assert linked.relinked == []
    assert [s.root for s in linked.series] == [b.key]


def test_only_the_records_of_re_linked_scenes_get_new_link_tags() -> None:
    chain = series(4)
    scenes = [s2_scene(10 * i) for i in range(4)]
    status = {chain[1].key: "FAILED"}
    updates = link_tag_updates(scenes, chain, relink_by_status(chain, status))
    a, c = scenes[0].source_id, scenes[2].source_id
    assert updates == {c: {"previous_scenes": f'["{a}"]', "reference_scenes": f'["{a}"]'}}
    assert link_tag_updates(scenes, chain, relink_by_status(chain, {})) == {}
