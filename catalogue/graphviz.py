"""The tile graph of an AOI as Graphviz DOT, coloured by state, legible at 1 000 tiles.

The original's ``GET /aoi/{aoi}/dot`` (original-ingester.md §3.10) draws one node per scene and per tile,
ids unquoted (an AOI or id with ``-`` or ``:`` gives invalid DOT) and some ``style=dotted`` outside the
brackets. Here every id is quoted, scenes are left out (a tile whose scene failed is failed itself) and
the tiles are grouped so that a large AOI stays readable:

- one cluster per series (the tiles joined by previous/reference links: one place, e.g. an MGRS tile or a
  burst), its tiles left to right in date order;
- in a cluster, a run of ``collapse_at`` or more consecutive DONE tiles is one node ``n done`` with its
  first and last dates; failed, pending or new tiles always keep their own node;
- previous links are solid edges, reference links (when not also the previous) dashed ones.

Colours are the original's: NEW gray, PENDING blue, RETRY orange, DONE green, FAILED red.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from catalogue.models import Tile
from common.errors import PermanentError

COLOURS = {"NEW": "gray", "PENDING": "blue", "RETRY": "orange", "DONE": "green", "FAILED": "red"}
FORMATS = ("dot", "svg", "png")
_MGRS = re.compile(r"_(T\d{2}[A-Z]{3})(_|$)")


class GraphvizMissingError(PermanentError):
    """``dot`` is needed for svg and png and is not installed."""


def quote(text: str) -> str:
    """A DOT double-quoted string (any id or label, ``-`` and ``:`` included)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass
class _Node:
    id: str
    state: str
    keys: list[str] = field(default_factory=list)
    label: str = ""


def series_of(tiles: Sequence[Tile]) -> list[list[Tile]]:
    """The series of an AOI: tiles joined by previous/reference links (union-find), each in date order,
    the series in order of their first date then place."""
    parent = {t.key: t.key for t in tiles}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for tile in tiles:
        for link in (tile.previous, tile.reference):
            if link is not None and link.key in parent:
                parent[root(tile.key)] = root(link.key)
    groups: dict[str, list[Tile]] = {}
    for tile in tiles:
        groups.setdefault(root(tile.key), []).append(tile)
    series = [sorted(g, key=lambda t: (t.date, t.key)) for g in groups.values()]
    return sorted(series, key=lambda s: (s[0].date, s[0].source_id))


def place_of(series: Sequence[Tile]) -> str:
    """A series' place: its tiles' common id (a burst), else the MGRS tile of its products' names."""
    ids = {t.source_id for t in series}
    if len(ids) == 1:
        return next(iter(ids))
    tiles = {m.group(1) for t in series if (m := _MGRS.search(t.source_id))}
    return next(iter(tiles)) if len(tiles) == 1 else series[0].source_id


def _nodes(series: Sequence[Tile], states: Mapping[str, str], collapse_at: int, prefix: str) -> list[_Node]:
    nodes: list[_Node] = []
    run: list[Tile] = []

    def flush() -> None:
        if len(run) >= collapse_at:
            label = f"{len(run)} done\n{run[0].date:%Y-%m-%d} .. {run[-1].date:%Y-%m-%d}"
            nodes.append(_Node(f"{prefix}n{len(nodes)}", "DONE", [t.key for t in run], label))
        else:
            for t in run:
                nodes.append(_Node(f"{prefix}n{len(nodes)}", "DONE", [t.key], f"{t.date:%Y-%m-%d}\nDONE"))
        run.clear()

    for tile in series:
        state = states.get(tile.key, "NEW")
        if state == "DONE":
            run.append(tile)
            continue
        flush()
        nodes.append(_Node(f"{prefix}n{len(nodes)}", state, [tile.key], f"{tile.date:%Y-%m-%d}\n{state}"))
    flush()
    return nodes


def make_dot(aoi: str, tiles: Sequence[Tile], states: Mapping[str, str], *, collapse_at: int = 5) -> str:
    """The DOT text of the AOI's tiles (``states``: tile key -> NEW|PENDING|RETRY|DONE|FAILED)."""
    lines = [
        f"digraph {quote(aoi)} {{",
        "  rankdir=LR;",
        f"  label={quote(f'AOI {aoi}: {len(tiles)} tiles')}; labelloc=t;",
        '  node [shape=box style="rounded,filled" fillcolor=white fontsize=10];',
    ]
    node_of: dict[str, str] = {}
    edges: dict[tuple[str, str], str] = {}
    for number, series in enumerate(series_of(tiles)):
        nodes = _nodes(series, states, collapse_at, f"s{number}")
        lines.append(f"  subgraph {quote(f'cluster_{number}')} {{")
        lines.append(f"    label={quote(f'{place_of(series)} ({len(series)} tiles)')};")
        for node in nodes:
            colour = COLOURS.get(node.state, "black")
            lines.append(f"    {quote(node.id)} [label={quote(node.label)} color={colour}];")
            node_of.update(dict.fromkeys(node.keys, node.id))
        lines.append("  }")
    by_key = {t.key: t for t in tiles}
    for tile in tiles:
        head = node_of[tile.key]
        for link, style in ((tile.previous, "solid"), (tile.reference, "dashed")):
            if link is None or link.key not in by_key:
                continue
            if style == "dashed" and tile.previous is not None and tile.previous.key == link.key:
                continue
            tail = node_of[link.key]
            if tail != head:
                edges.setdefault((tail, head), style)
    for (tail, head), style in edges.items():
        extra = " constraint=false" if style == "dashed" else ""
        lines.append(f"  {quote(tail)} -> {quote(head)} [style={style}{extra}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_text: str, fmt: str, out: Path, *, timeout_s: float = 300) -> Path:
    """Write ``dot_text`` to ``out`` as ``fmt`` (dot: as it is; svg, png: through Graphviz's ``dot``).

    Raises:
        GraphvizMissingError: svg or png without ``dot`` on the PATH.
        PermanentError: an unknown format, or ``dot`` refused the text.
    """
    if fmt not in FORMATS:
        raise PermanentError(f"--format {fmt!r}: unknown; use one of {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.part")
    if fmt == "dot":
        part.write_text(dot_text)
        part.replace(out)
        return out
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissingError(
            f"--format {fmt} needs Graphviz's dot, which is not installed: install the Debian package "
            "graphviz (apt-get install graphviz), or use --format dot"
        )
    done = subprocess.run(  # dot from the PATH, our own text on stdin
        [dot, f"-T{fmt}", "-o", str(part)],
        input=dot_text.encode(),
        capture_output=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        part.unlink(missing_ok=True)
        reason = done.stderr.decode(errors="replace").strip()[:300]
        raise PermanentError(f"Graphviz's dot failed ({done.returncode}) drawing {out}: {reason}")
    part.replace(out)
    return out
