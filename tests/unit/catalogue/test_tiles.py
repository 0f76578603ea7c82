"""Tile series: previous/reference links (``catalogue.tiles``, no Prefect)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalogue.models import Constellation, Scene, Tile
from catalogue.tiles import LinkResult, link_tiles, place_key, scene_tiles

BOX = "POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))"
S1 = Constellation.SENTINEL1
S2 = Constellation.SENTINEL2
START = datetime(2024, 1, 1, 10, 54, tzinfo=UTC)


def s2_scene(day: int, tile: str = "T31TCJ", orbit: str = "R051", baseline: str = "N0510") -> Scene:
    date = START + timedelta(days=day)
    name = f"S2A_MSIL1C_{date:%Y%m%dT%H%M%S}_{baseline}_{orbit}_{tile}_{date:%Y%m%dT%H%M%S}"
    return Scene(source_id=name, date=date, constellation=S2, footprint_wkt=BOX)


def s2_tile(day: int, tile: str = "T31TCJ", orbit: str = "R051", baseline: str = "N0510") -> Tile:
    return scene_tiles(s2_scene(day, tile, orbit, baseline))[0]


def burst(day: int, anx: int, *, track: str = "A44", swath: str = "IW1", set_anx: bool = True) -> Tile:
    """A burst of the scene of ``day`` (one pass every 6 days), named as the original names it."""
    date = datetime(2022, 1, 11, 17, 1, 24, tzinfo=UTC) + timedelta(days=6 * day)
    scene = f"S1A_IW_SLC__1SDV_{date:%Y%m%dT%H%M%S}_{date:%Y%m%dT%H%M%S}_0{41416 + day:05d}_04ECAD_F4D7"
    return Tile(
        source_id=f"{track}_{swath}_{anx}",
        scene_id=scene,
        date=date,
        footprint_wkt=BOX,
        swath_id=swath,
        anx_time=anx if set_anx else 0,
    )


def by_key(result: LinkResult) -> dict[str, Tile]:
    return {t.key: t for t in result.tiles}


def assert_single_chains(tiles: Sequence[Tile], truth: dict[str, Hashable]) -> None:
    """Each true series has one root that all its other tiles reference, and is one chain by date."""
    state = {t.key: t for t in tiles}
    series: dict[Hashable, list[Tile]] = defaultdict(list)
    for tile in tiles:
        series[truth[tile.key]].append(tile)
    children: dict[str, int] = defaultdict(int)
    for tile in tiles:
        if tile.previous is not None:
            children[tile.previous.key] += 1
    assert all(n == 1 for n in children.values()), "a tile is the previous of two tiles: a branch"
    for members in series.values():
        roots = [t for t in members if t.reference is None]
        assert len(roots) == 1, f"{len(roots)} roots in {[t.key for t in members]}"
        assert all(t.reference == roots[0].link() for t in members if t is not roots[0])
        ordered = sorted(members, key=lambda t: (t.date, t.scene_id, t.source_id))
        walk, cur = [], ordered[-1]
        while True:
            walk.append(cur)
            if cur.previous is None:
                break
            cur = state[cur.previous.key]
        assert walk == ordered[::-1], "following previous from the leaf must visit the series by date"


# --- Rule 1: grouping ------------------------------------------------------------------------------


def test_one_tile_per_scene_with_the_scene_id() -> None:
    scene = s2_scene(0)
    (tile,) = scene_tiles(scene)
    assert tile.source_id == tile.scene_id == scene.source_id
    assert tile.date == scene.date


def test_place_keys() -> None:
    assert place_key(s2_tile(0), S2) == "S2:T31TCJ:R051"
    landsat = Tile(
        source_id="LC08_L1TP_198030_20240101_20240110_02_T1",
        scene_id="LC08_L1TP_198030_20240101_20240110_02_T1",
        date=START,
        footprint_wkt=BOX,
    )
    assert place_key(landsat, Constellation.LANDSAT89) == "LANDSAT:198030"
    assert place_key(burst(0, 8951, track="A8"), S1) == "S1:A8_IW1"
    assert place_key(burst(0, 8951, track="A117", swath="IW3"), S1) == "S1:A117_IW3"
    phr = Tile(source_id="DS_PHR1A_2024", scene_id="DS_PHR1A_2024", date=START, footprint_wkt=BOX)
    assert place_key(phr, Constellation.PHR) == "SCENE:DS_PHR1A_2024/DS_PHR1A_2024"


def test_series_per_place_reference_first_previous_preceding() -> None:
    tiles = [s2_tile(20), s2_tile(0), s2_tile(10), s2_tile(5, tile="T31TDJ")]
    linked = by_key(link_tiles(tiles, constellation=S2))
    first, second, third = (linked[s2_tile(d).key] for d in (0, 10, 20))
    assert first.previous is None and first.reference is None
    assert second.previous == first.link() and second.reference == first.link()
    assert third.previous == second.link() and third.reference == first.link()
    other = linked[s2_tile(5, tile="T31TDJ").key]
    assert other.previous is None and other.reference is None


def test_other_relative_orbit_is_another_series() -> None:
    result = link_tiles([s2_tile(0), s2_tile(3, orbit="R008")], constellation=S2)
    assert all(t.reference is None for t in result.tiles)
    assert [s.place for s in result.series] == ["S2:T31TCJ:R008", "S2:T31TCJ:R051"]


def test_same_date_is_ordered_by_scene_id() -> None:
    result = link_tiles([s2_tile(0, baseline="N0510"), s2_tile(0, baseline="N0500")], constellation=S2)
    first, second = result.tiles
    assert "N0500" in first.scene_id and second.previous == first.link()


def test_unparsable_names_are_series_of_one() -> None:
    tiles = [
        Tile(source_id=f"DS_PHR1A_{d}", scene_id=f"DS_PHR1A_{d}", date=START, footprint_wkt=BOX)
        for d in range(3)
    ]
    result = link_tiles(tiles, constellation=Constellation.PHR)
    assert all(t.previous is None and t.reference is None for t in result.tiles)
    assert len(result.series) == 3


def test_bursts_with_jitter_pool_and_next_burst_is_another_series() -> None:
    tiles = [burst(0, 8951), burst(1, 8953), burst(2, 8949, set_anx=False), burst(1, 8979)]
    result = link_tiles(tiles, constellation=S1)
    linked = by_key(result)
    root = linked[burst(0, 8951).key]
    assert linked[burst(1, 8953).key].previous == root.link()
    assert linked[burst(2, 8949).key].previous == linked[burst(1, 8953).key].link()
    assert linked[burst(2, 8949).key].reference == root.link()
    assert linked[burst(1, 8979).key].reference is None
    assert [(s.place, s.count) for s in result.series] == [("S1:A44_IW1:8949", 3), ("S1:A44_IW1:8979", 1)]


def test_pools_are_cut_at_half_a_second_from_the_first_burst() -> None:
    # The original's rule: 8951 + 5 starts a new pool, even though 8955 chains to 8951 within 0.5 s.
    result = link_tiles([burst(0, 8951), burst(1, 8955), burst(2, 8956)], constellation=S1)
    assert [s.count for s in result.series] == [2, 1]


def test_tracks_and_swaths_are_separate_series() -> None:
    # The original keyed on the id's first 4 characters plus the swath: A8_I... mixed into "A8_I".
    tiles = [burst(0, 8951, track="A8"), burst(1, 8951, track="A81"), burst(2, 8951, track="A8", swath="IW2")]
    result = link_tiles(tiles, constellation=S1)
    assert len(result.tiles) == 3 and len(result.series) == 3
    assert all(t.reference is None for t in result.tiles)


def test_whole_s1_scenes_are_series_of_one() -> None:
    scenes = [burst(d, 8951).model_copy(update={"source_id": burst(d, 8951).scene_id}) for d in range(2)]
    linked = link_tiles(scenes, constellation=S1).tiles
    assert len(linked) == 2
    assert all(t.reference is None for t in linked)


# --- Rule 4: incremental AOIs ----------------------------------------------------------------------


def test_a_later_tile_extends_the_chain() -> None:
    first = link_tiles([s2_tile(0), s2_tile(10)], constellation=S2)
    result = link_tiles([s2_tile(20)], constellation=S2, existing=first.tiles)
    (new,) = result.tiles
    assert new.previous == s2_tile(10).link() and new.reference == s2_tile(0).link()
    assert result.relinked == []
    assert result.series[0].model_dump() == {
        "place": "S2:T31TCJ:R051",
        "count": 3,
        "root": s2_tile(0).key,
        "leaf": s2_tile(20).key,
        "new_count": 1,
    }


def test_a_tile_between_existing_ones_relinks_the_next_one() -> None:
    first = link_tiles([s2_tile(0), s2_tile(10), s2_tile(20)], constellation=S2)
    result = link_tiles([s2_tile(15)], constellation=S2, existing=first.tiles)
    (new,) = result.tiles
    assert new.previous == s2_tile(10).link() and new.reference == s2_tile(0).link()
    (relinked,) = result.relinked
    assert relinked.key == s2_tile(20).key
    assert relinked.previous == new.link() and relinked.reference == s2_tile(0).link()


def test_an_older_tile_keeps_the_existing_root() -> None:
    first = link_tiles([s2_tile(10), s2_tile(20)], constellation=S2)
    result = link_tiles([s2_tile(0), s2_tile(5)], constellation=S2, existing=first.tiles)
    linked = by_key(result)
    oldest, older = linked[s2_tile(0).key], linked[s2_tile(5).key]
    assert oldest.previous is None and oldest.reference == s2_tile(10).link()
    assert older.previous == oldest.link() and older.reference == s2_tile(10).link()
    (root,) = result.relinked
    assert root.key == s2_tile(10).key and root.previous == older.link() and root.reference is None
    assert result.series[0].root == s2_tile(10).key
    assert_single_chains([*result.tiles, root, *first.tiles[1:]], defaultdict(int))


def test_a_known_tile_is_not_duplicated() -> None:
    first = link_tiles([s2_tile(0), s2_tile(10)], constellation=S2)
    result = link_tiles([s2_tile(10), s2_tile(20)], constellation=S2, existing=first.tiles)
    assert [t.key for t in result.tiles] == [s2_tile(20).key]
    assert result.already_known == [s2_tile(10).key]
    assert result.series[0].count == 3


def test_existing_series_whose_root_is_absent_keep_its_reference() -> None:
    first = link_tiles([s2_tile(0), s2_tile(10)], constellation=S2)
    result = link_tiles([s2_tile(20)], constellation=S2, existing=first.tiles[1:])
    assert result.tiles[0].reference == s2_tile(0).link()
    assert result.series[0].root == s2_tile(0).key


def test_a_pool_holding_two_existing_series_never_merges_them() -> None:
    # Two series an earlier pooling kept apart now share a pool: each new burst joins the nearer one.
    low = link_tiles([burst(0, 100), burst(1, 100)], constellation=S1).tiles
    high = link_tiles([burst(2, 104), burst(3, 104)], constellation=S1).tiles
    result = link_tiles([burst(4, 101), burst(5, 103)], constellation=S1, existing=[*low, *high])
    linked = by_key(result)
    assert linked[burst(4, 101).key].reference == burst(0, 100).link()
    assert linked[burst(5, 103).key].reference == burst(2, 104).link()
    assert result.relinked == []
    truth = {t.key: t.source_id[-3:] in ("100", "101") for t in [*low, *high, *result.tiles]}
    assert_single_chains([*low, *high, *result.tiles], truth)


# --- Properties: random tile sets, random splits into runs, random orders --------------------------


def run_increments(
    tiles: list[Tile], batches: list[int], constellation: Constellation, rng: random.Random
) -> list[list[Tile]]:
    """Link ``tiles`` in runs (tile i in run batches[i]); each run's existing is all tiles so far.

    Checks at each run that shuffling the input changes nothing and that references never change.
    Returns the state after each run.
    """
    state: dict[str, Tile] = {}
    states = []
    for run in sorted(set(batches)):
        new = [t for t, b in zip(tiles, batches, strict=True) if b == run]
        existing = list(state.values())
        result = link_tiles(new, constellation=constellation, existing=existing)
        rng.shuffle(new)
        rng.shuffle(existing)
        assert link_tiles(new, constellation=constellation, existing=existing) == result
        assert result.already_known == []
        assert sum(s.new_count for s in result.series) == len(new)
        for tile in result.relinked:
            assert tile.reference == state[tile.key].reference
            assert tile.previous is not None and tile.previous.key in {t.key for t in result.tiles}
        state.update({t.key: t for t in result.tiles})
        state.update({t.key: t for t in result.relinked})
        states.append(list(state.values()))
    return states


def expected_roots(tiles: list[Tile], batches: list[int], truth: dict[str, Hashable]) -> set[str]:
    """The root of each series: its earliest tile of the first run that had any."""
    first: dict[Hashable, tuple[int, tuple[datetime, str, str], str]] = {}
    for tile, run in zip(tiles, batches, strict=True):
        cand = (run, (tile.date, tile.scene_id, tile.source_id), tile.key)
        first[truth[tile.key]] = min(first.get(truth[tile.key], cand), cand)
    return {key for _, _, key in first.values()}


@settings(max_examples=80, deadline=None)
@given(
    acquisitions=st.lists(
        st.tuples(
            st.integers(0, 400),
            st.sampled_from(["T31TCJ", "T31TDJ"]),
            st.sampled_from(["R051", "R008"]),
            st.sampled_from(["N0500", "N0510"]),
        ),
        min_size=1,
        max_size=30,
        unique=True,
    ),
    data=st.data(),
    rng=st.randoms(use_true_random=False),
)
def test_s2_series_stay_single_chains_whatever_the_runs(acquisitions, data, rng) -> None:
    tiles = [s2_tile(day, tile, orbit, baseline) for day, tile, orbit, baseline in acquisitions]
    batches = data.draw(st.lists(st.integers(0, 3), min_size=len(tiles), max_size=len(tiles)))
    truth: dict[str, Hashable] = {t.key: place_key(t, S2) for t in tiles}
    states = run_increments(tiles, batches, S2, rng)
    for state in states:
        assert_single_chains(state, truth)
    assert len(states[-1]) == len(tiles)
    assert {t.key for t in states[-1] if t.reference is None} == expected_roots(tiles, batches, truth)


@settings(max_examples=80, deadline=None)
@given(
    acquisitions=st.lists(
        st.tuples(
            st.integers(0, 60),  # pass
            st.sampled_from(["IW1", "IW2"]),
            st.integers(0, 2),  # burst along the swath
            st.integers(-2, 2),  # anx jitter (ds): ±3 would span 6 ≥ the 5 ds pool window
            st.booleans(),  # anx_time set, or parsed from the id
        ),
        min_size=1,
        max_size=30,
        unique_by=lambda a: a[:3],
    ),
    spacing=st.integers(28, 40),
    data=st.data(),
    rng=st.randoms(use_true_random=False),
)
def test_s1_series_stay_single_chains_whatever_the_runs(acquisitions, spacing, data, rng) -> None:
    tiles = [
        burst(day, 8951 + spacing * slot + jitter, swath=swath, set_anx=set_anx)
        for day, swath, slot, jitter, set_anx in acquisitions
    ]
    truth: dict[str, Hashable] = {t.key: (a[1], a[2]) for t, a in zip(tiles, acquisitions, strict=True)}
    batches = data.draw(st.lists(st.integers(0, 3), min_size=len(tiles), max_size=len(tiles)))
    states = run_increments(tiles, batches, S1, rng)
    for state in states:
        assert_single_chains(state, truth)
    assert {t.key for t in states[-1] if t.reference is None} == expected_roots(tiles, batches, truth)


@pytest.mark.slow  # about 2 s
def test_twenty_thousand_tiles_link() -> None:
    # 200 passes x 2 swaths x 50 bursts; on a laptop this takes well under 2 s.
    tiles = [
        burst(day, 8951 + 28 * slot + (day % 5) - 2, swath=swath)
        for day in range(200)
        for swath in ("IW1", "IW2")
        for slot in range(50)
    ]
    random.Random(7).shuffle(tiles)  # noqa: S311 (test data, not cryptography)
    first = link_tiles(tiles[:15_000], constellation=S1)
    result = link_tiles(tiles[15_000:], constellation=S1, existing=first.tiles)
    assert len(first.series) == len(result.series) == 100
    assert len(result.tiles) == 5_000 and len(result.relinked) > 0
