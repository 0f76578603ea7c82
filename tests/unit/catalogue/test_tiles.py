"""Tile series: previous/reference links (no Prefect)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

from hypothesis import given, settings
from hypothesis import strategies as st

from catalogue.models import Constellation, Scene, Tile
from catalogue.tiles import link_series, place_key, scene_tiles

BOX = "POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))"


def s2_scene(day: int, tile: str = "T31TCJ", orbit: str = "R051") -> Scene:
    date = datetime(2024, 1, 1, 10, 54, tzinfo=UTC) + timedelta(days=day)
    name = f"S2A_MSIL1C_{date:%Y%m%dT%H%M%S}_N0510_{orbit}_{tile}_{date:%Y%m%dT%H%M%S}"
    return Scene(source_id=name, date=date, constellation=Constellation.SENTINEL2, footprint_wkt=BOX)


def link(tiles: list[Tile]) -> list[Tile]:
    return link_series(tiles, partial(place_key, constellation=Constellation.SENTINEL2))


def test_one_tile_per_scene_with_the_scene_id() -> None:
    scene = s2_scene(0)
    (tile,) = scene_tiles(scene)
    assert tile.source_id == tile.scene_id == scene.source_id
    assert tile.date == scene.date


def test_series_per_place_reference_first_previous_preceding() -> None:
    tiles = [t for day in (20, 0, 10) for t in scene_tiles(s2_scene(day))]
    tiles += scene_tiles(s2_scene(5, tile="T31TDJ"))
    linked = {t.scene_id: t for t in link(tiles)}
    first, second, third = (linked[s2_scene(d).source_id] for d in (0, 10, 20))
    assert first.previous is None and first.reference is None
    assert second.previous == first.link() and second.reference == first.link()
    assert third.previous == second.link() and third.reference == first.link()
    other = linked[s2_scene(5, tile="T31TDJ").source_id]
    assert other.previous is None and other.reference is None


def test_other_relative_orbit_is_another_series() -> None:
    linked = link([*scene_tiles(s2_scene(0)), *scene_tiles(s2_scene(3, orbit="R008"))])
    assert all(t.reference is None for t in linked)


@settings(max_examples=60, deadline=None)
@given(
    days=st.lists(st.integers(0, 400), min_size=1, max_size=25, unique=True),
    places=st.lists(st.sampled_from(["T31TCJ", "T31TDJ", "T30TYP"]), min_size=25, max_size=25),
    order=st.randoms(use_true_random=False),
)
def test_every_series_is_a_single_chain_whatever_the_order(days: list[int], places: list[str], order) -> None:
    tiles = [t for i, d in enumerate(days) for t in scene_tiles(s2_scene(d, tile=places[i]))]
    order.shuffle(tiles)
    linked = link(tiles)
    assert len(linked) == len(tiles)
    by_key = {t.key: t for t in linked}
    children: dict[str, int] = {}
    for t in linked:
        if t.previous is not None:
            prev = by_key[t.previous.key]
            assert prev.date <= t.date
            assert place_key(prev, Constellation.SENTINEL2) == place_key(t, Constellation.SENTINEL2)
            children[prev.key] = children.get(prev.key, 0) + 1
            root = by_key[t.reference.key]
            assert root.reference is None and root.previous is None
        else:
            assert t.reference is None
    assert all(n == 1 for n in children.values()), "a tile is the previous of two tiles: a branch"
    # Linking does not depend on the input order.
    order.shuffle(tiles)
    assert link(tiles) == linked
