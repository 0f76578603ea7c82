"""The tile graph as DOT: series in clusters, runs of done tiles collapsed, readable at 1 000 tiles."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalogue.graphviz import GraphvizMissingError, make_dot, place_of, render, series_of
from catalogue.models import Tile

BOX = "POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))"
START = datetime(2024, 1, 3, 5, 50, tzinfo=UTC)


def burst_series(burst: str, n: int, *, scene: str = "S1A_IW_SLC__1SDV_{date}") -> list[Tile]:
    """n tiles of one burst, 6 days apart, each linked to the previous and to the first (the reference)."""
    tiles: list[Tile] = []
    for i in range(n):
        date = START + timedelta(days=6 * i)
        tile = Tile(source_id=burst, scene_id=scene.format(date=f"{date:%Y%m%dT%H%M%S}"), date=date,
                    footprint_wkt=BOX, previous=tiles[-1].link() if tiles else None,
                    reference=tiles[0].link() if tiles else None)  # fmt: skip
        tiles.append(tile)
    return tiles


def plan_of_1000() -> tuple[list[Tile], dict[str, str]]:
    """20 bursts x 50 dates; a few tiles failed, the last dates still running or new."""
    tiles = [t for b in range(20) for t in burst_series(f"A037_IW{1 + b % 3}_{300000 + b}", 50)]
    states = {t.key: "DONE" for t in tiles}
    for series in range(0, 20, 4):
        states[tiles[series * 50 + 17].key] = "FAILED"
    for t in tiles[-3:]:
        states[t.key] = "PENDING"
    states[tiles[-1].key] = "NEW"
    states[tiles[49].key] = "RETRY"
    return tiles, states


def test_series_are_the_linked_tiles_in_date_order() -> None:
    a, b = burst_series("A037_IW1_300001", 3), burst_series("A037_IW2_300002", 2)
    series = series_of([*b, *a[::-1]])
    assert [[t.key for t in s] for s in series] == [[t.key for t in a], [t.key for t in b]]
    assert place_of(a) == "A037_IW1_300001"
    s2 = [Tile(source_id=f"S2A_MSIL1C_2024010{i}T105441_N0510_R051_T31TCJ_2024010{i}T112233", scene_id="x",
               date=START + timedelta(days=i), footprint_wkt=BOX) for i in range(2)]  # fmt: skip
    assert place_of(s2) == "T31TCJ"


def test_1000_tiles_make_a_small_graph_with_every_unfinished_tile_on_its_own() -> None:
    tiles, states = plan_of_1000()
    dot = make_dot("Big-AOI:1", tiles, states)
    nodes = re.findall(r'^    "(s\d+n\d+)" \[label="([^"]*)" color=(\w+)\];$', dot, flags=re.MULTILINE)
    assert len(nodes) < 100, f"{len(nodes)} nodes for 1000 tiles"
    assert dot.count("subgraph") == 20
    colours = [c for _, _, c in nodes]
    assert colours.count("red") == 5 and colours.count("orange") == 1 and colours.count("gray") == 1
    assert colours.count("blue") == 2
    collapsed = [label for _, label, _ in nodes if " done" in label]
    done_total = sum(int(label.split(" ")[0]) for label in collapsed)
    singles = sum(1 for _, label, c in nodes if c == "green" and " done" not in label)
    assert done_total + singles == sum(1 for s in states.values() if s == "DONE")
    assert "17 done\\n2024-01-03 .. 2024-04-08" in dot  # the run before the first failure
    assert dot.startswith('digraph "Big-AOI:1" {')


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (Debian package graphviz) is not installed")
def test_graphviz_reads_the_text_and_draws_svg_and_png(tmp_path: Path) -> None:
    tiles, states = plan_of_1000()
    dot = make_dot("Big-AOI:1", tiles, states)
    svg = render(dot, "svg", tmp_path / "g.svg")
    assert svg.read_text().count('class="node"') == len(re.findall(r"^    \"s\d+n\d+\" ", dot, re.MULTILINE))
    png = render(dot, "png", tmp_path / "g.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert render(dot, "dot", tmp_path / "g.dot").read_text() == dot
    assert not list(tmp_path.glob(".*part"))


def test_svg_without_graphviz_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizMissingError, match=r"Debian package graphviz .* or use --format dot"):
        render("digraph a {}\n", "svg", tmp_path / "g.svg")


def test_small_series_keep_every_tile_and_quote_every_id() -> None:
    tiles = burst_series('A"1', 3)
    states = {t.key: "DONE" for t in tiles}
    dot = make_dot('x"y', tiles, states)
    assert dot.count("\\nDONE") == 3 and 'digraph "x\\"y"' in dot
    assert dot.count(" -> ") == 3  # two previous links, one reference that is not also a previous
    assert dot.count("style=dashed") == 1
