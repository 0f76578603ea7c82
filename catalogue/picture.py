"""A picture of an ingestion plan: the AOI, the scene footprints and their tiles (bursts), as a PNG.

For a person checking a plan before running it: does the AOI sit inside the scenes, which bursts
were kept, which series do they form. The figure is drawn with matplotlib's Agg canvas directly (no
``pyplot``, so no global state and no screen) and written through a temporary file then renamed,
so a reader never sees half a PNG.

Tiles are coloured per series (tiles sharing a reference) when there are few series, otherwise per
swath (Sentinel-1), otherwise all alike: a legend of hundreds of series helps nobody.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from catalogue.errors import CatalogueError
from catalogue.models import Scene, Tile

log = logging.getLogger(__name__)

FIGURE_SIZE_IN = (11.0, 8.0)
DPI = 100
MAX_SERIES_COLOURS = 12
_AOI_EDGE = "#d94801"
_AOI_FILL = "#fdae6b"
_SCENE_COLOURS = ("#252525", "#3f007d", "#00441b", "#67000d", "#08306b", "#7f2704")
_TILE_COLOURS = (
    "#1f77b4",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#17becf",
    "#bcbd22",
    "#e377c2",
    "#8c564b",
    "#7f7f7f",
    "#ff7f0e",
    "#393b79",
    "#637939",
)


def _parse(wkt: str, what: str) -> BaseGeometry:
    try:
        return shapely.from_wkt(wkt)
    except shapely.errors.GEOSException as exc:
        raise CatalogueError(f"{what}: not valid WKT ({exc}): {wkt[:60]!r}") from exc


def _polygons(geometry: BaseGeometry) -> list[Polygon]:
    if isinstance(geometry, Polygon):
        return [geometry]
    if isinstance(geometry, MultiPolygon):
        return list(geometry.geoms)
    # A GeometryCollection (e.g. an intersection) may mix polygons with lines: keep the polygons.
    return [p for g in getattr(geometry, "geoms", []) for p in _polygons(g)]


def _path(geometry: BaseGeometry) -> MplPath | None:
    """One compound path of every ring (holes included), or None when there is no polygon."""
    rings = [
        MplPath(list(ring.coords), closed=True)
        for polygon in _polygons(geometry)
        for ring in (polygon.exterior, *polygon.interiors)
        if len(ring.coords) >= 3
    ]
    return MplPath.make_compound_path(*rings) if rings else None


def _tile_groups(tiles: Sequence[Tile]) -> dict[str, list[Tile]]:
    """Tiles by legend label: per series when few, else per swath, else one group."""
    series: dict[str, list[Tile]] = defaultdict(list)
    for tile in tiles:
        root = tile.reference.source_id if tile.reference else tile.source_id
        series[f"series {root}"].append(tile)
    if len(series) <= MAX_SERIES_COLOURS:
        return dict(sorted(series.items()))
    swaths: dict[str, list[Tile]] = defaultdict(list)
    for tile in tiles:
        swaths[f"swath {tile.swath_id}" if tile.swath_id else f"{len(tiles)} tiles"].append(tile)
    return dict(sorted(swaths.items()))


def _label_offsets(anchors: Sequence[tuple[float, float]], span: float) -> list[int]:
    """How many labels already sit near each anchor, to stack labels of near-identical footprints."""
    near = 0.04 * span
    counts: list[int] = []
    for i, (x, y) in enumerate(anchors):
        counts.append(sum(1 for u, v in anchors[:i] if abs(u - x) < near and abs(v - y) < near))
    return counts


def _draw(
    figure: Figure, *, aoi: BaseGeometry, scenes: Sequence[Scene], tiles: Sequence[Tile], title: str
) -> None:
    axes = figure.add_subplot()
    handles: list[Patch | Line2D] = []
    shapes: list[BaseGeometry] = [aoi]

    groups = _tile_groups(tiles)
    for colour_index, (label, members) in enumerate(groups.items()):
        colour = _TILE_COLOURS[colour_index % len(_TILE_COLOURS)]
        for tile in members:
            geometry = _parse(tile.footprint_wkt, f"tile {tile.key}: footprint_wkt")
            path = _path(geometry)
            if path is not None:
                shapes.append(geometry)
                axes.add_patch(
                    PathPatch(path, facecolor=to_rgba(colour, 0.08), edgecolor=colour, linewidth=0.6)
                )
        handles.append(Patch(facecolor=to_rgba(colour, 0.08), edgecolor=colour, linewidth=0.6, label=label))

    aoi_path = _path(aoi)
    if aoi_path is not None:
        axes.add_patch(
            PathPatch(aoi_path, facecolor=to_rgba(_AOI_FILL, 0.6), edgecolor=_AOI_EDGE, linewidth=1.8)
        )
    handles.insert(0, Patch(facecolor=to_rgba(_AOI_FILL, 0.6), edgecolor=_AOI_EDGE, label="AOI"))

    anchors: list[tuple[float, float]] = []
    scene_geometries = []
    for scene in scenes:
        geometry = _parse(scene.footprint_wkt, f"scene {scene.source_id}: footprint_wkt")
        scene_geometries.append(geometry)
        shapes.append(geometry)
        # Label at the northernmost vertex: inside the view and away from the AOI, usually central.
        coords = [c for p in _polygons(geometry) for c in p.exterior.coords] or [(0.0, 0.0)]
        anchors.append(max(coords, key=lambda c: c[1]))

    minx, miny, maxx, maxy = shapely.GeometryCollection(shapes).bounds
    span = max(maxx - minx, maxy - miny, 1e-6)
    for i, (scene, geometry, anchor, stacked) in enumerate(
        zip(scenes, scene_geometries, anchors, _label_offsets(anchors, span), strict=True)
    ):
        colour = _SCENE_COLOURS[i % len(_SCENE_COLOURS)]
        path = _path(geometry)
        if path is not None:
            axes.add_patch(PathPatch(path, facecolor="none", edgecolor=colour, linewidth=1.3, linestyle="--"))
        date = f"{scene.date:%Y-%m-%d %H:%M}"
        axes.annotate(
            date,
            xy=anchor,
            xytext=(4, 4 - 12 * stacked),
            textcoords="offset points",
            fontsize=8,
            color=colour,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        )
        handles.append(Line2D([], [], color=colour, linestyle="--", linewidth=1.3, label=f"scene {date}"))

    margin = 0.05 * span
    axes.set_xlim(minx - margin, maxx + margin)
    axes.set_ylim(miny - margin, maxy + margin)
    axes.set_aspect("equal")
    axes.set_xlabel("longitude (°)")
    axes.set_ylabel("latitude (°)")
    axes.grid(True, linewidth=0.3, alpha=0.5)
    axes.set_title(title or f"{len(scenes)} scene(s), {len(tiles)} tile(s)")
    figure.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)


def draw_plan(
    path_png: str | Path,
    *,
    aoi_wkt: str,
    scenes: Sequence[Scene],
    tiles: Sequence[Tile],
    title: str = "",
) -> Path:
    """Draw the AOI, the scene footprints (labelled with their date) and the tiles into a PNG.

    The picture is ``FIGURE_SIZE_IN`` at ``DPI`` (1100 x 800 pixels); the file is replaced
    atomically.

    Returns:
        The path written.

    Raises:
        CatalogueError: a WKT (AOI, scene or tile footprint) cannot be parsed.
    """
    target = Path(path_png)
    aoi = _parse(aoi_wkt, "aoi_wkt")
    figure = Figure(figsize=FIGURE_SIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    _draw(figure, aoi=aoi, scenes=scenes, tiles=tiles, title=title)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        tmp.chmod(0o644)  # mkstemp makes it 0600; a picture is meant to be looked at
        with os.fdopen(fd, "wb") as handle:
            figure.savefig(handle, format="png", dpi=DPI)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("%s: drew %d scene(s), %d tile(s)", target, len(scenes), len(tiles))
    return target
