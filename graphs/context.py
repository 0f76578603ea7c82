"""The three tiles a graph runs on (T0, T1 previous, T2 reference) and how arguments read them.

original-ingester.md §5.3 (arg types), §5.5 (tile keys) and §5.6 (tile conditions). File names come
from :func:`storage.layout.layer_file_name`, the one naming function shared with the storage layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from catalogue.models import Constellation, Tile, TileLink
from graphs.errors import GraphError
from graphs.model import Arg, ArgType, Condition
from storage.layout import LayerRef, layer_file_name

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_snap_date(value: datetime) -> str:
    """``02Jan2006`` (Go layout), e.g. ``05Sep2019``; English months whatever the locale."""
    return f"{value.day:02d}{_MONTHS[value.month - 1]}{value.year:04d}"


@dataclass(frozen=True)
class TileContext:
    """What a step argument may need from one of the three tiles (T0, T1 previous, T2 reference)."""

    tile_id: str
    scene_id: str
    date: datetime  # the scene date: file names and the `date` arg use it
    swath_id: str = ""
    tile_nr: int = 0
    constellation: str = ""

    @classmethod
    def from_tile(
        cls, tile: Tile, *, constellation: Constellation | str, scene_date: datetime | None = None
    ) -> TileContext:
        return cls(
            tile_id=tile.source_id,
            scene_id=tile.scene_id,
            date=scene_date or tile.date,
            swath_id=tile.swath_id,
            tile_nr=tile.tile_nr,
            constellation=str(constellation),
        )

    @classmethod
    def from_link(cls, link: TileLink, *, like: TileContext) -> TileContext:
        """The previous or reference tile: same swath, burst number and constellation as ``like``."""
        return cls(
            tile_id=link.source_id,
            scene_id=link.scene_id,
            date=link.date,
            swath_id=like.swath_id,
            tile_nr=like.tile_nr,
            constellation=like.constellation,
        )

    def layer_ref(self, aoi: str, layer: str, ext: str) -> LayerRef:
        """The address of one of this tile's layers in the AOI ``aoi``."""
        return LayerRef(
            aoi=aoi, scene_id=self.scene_id, tile_id=self.tile_id, date=self.date, layer=layer, ext=ext
        )

    def file_name(self, layer: str, ext: str) -> str:
        return layer_file_name(
            scene_id=self.scene_id, tile_id=self.tile_id, date=self.date, layer=layer, ext=ext
        )


TileContexts = tuple[TileContext, TileContext, TileContext]


def make_tile_contexts(
    tile: Tile, *, constellation: Constellation | str, scene_date: datetime | None = None
) -> TileContexts:
    """(T0, T1, T2): T1 is the previous tile and T2 the reference, each T0 when absent (§5.1 step 4)."""
    t0 = TileContext.from_tile(tile, constellation=constellation, scene_date=scene_date)
    t1 = TileContext.from_link(tile.previous, like=t0) if tile.previous and tile.previous.source_id else t0
    t2 = TileContext.from_link(tile.reference, like=t0) if tile.reference and tile.reference.source_id else t0
    return (t0, t1, t2)


def format_arg(arg: Arg, *, config: Mapping[str, str], tiles: Sequence[TileContext], field_name: str) -> str:
    """The string value of an argument (§5.3, §5.5).

    Raises:
        GraphError: a config key is missing (the message names the field and the fix).
    """
    if arg.type == ArgType.FIXED:
        return arg.value
    if arg.type == ArgType.CONFIG:
        if arg.value not in config:
            raise GraphError(
                f"{field_name}: key {arg.value!r} not found in config; add it to the graph's config "
                f"or to the payload's graph_config"
            )
        return config[arg.value]
    if arg.type == ArgType.IN:
        return tiles[arg.tile_index].file_name(arg.layer, arg.extension)
    if arg.type == ArgType.OUT:
        return tiles[0].file_name(arg.layer, arg.extension)
    return _tile_value(arg.value, tiles)


def _tile_value(key: str, tiles: Sequence[TileContext]) -> str:
    t0, t1, t2 = tiles
    values = {
        "swath": lambda: t0.swath_id,
        "number": lambda: str(t0.tile_nr),
        "scene": lambda: t0.scene_id,
        "date": lambda: format_snap_date(t0.date),
        "cohdate": lambda: format_snap_date(t0.date if t1.scene_id == t2.scene_id else t2.date),
        "constellation": lambda: t0.constellation,
    }
    return values[key]()


def is_tile_condition_met(condition: Condition, tiles: Sequence[TileContext]) -> bool:
    """A tile condition on the scenes of T0, T1, T2 (§5.6)."""
    t0, t1, t2 = (t.scene_id for t in tiles)
    pairs = {
        Condition.DIFFERENT_T0_T1: (t0, t1, False),
        Condition.DIFFERENT_T0_T2: (t0, t2, False),
        Condition.DIFFERENT_T1_T2: (t1, t2, False),
        Condition.EQUAL_T0_T1: (t0, t1, True),
        Condition.EQUAL_T0_T2: (t0, t2, True),
        Condition.EQUAL_T1_T2: (t1, t2, True),
    }
    if condition == Condition.PASS:
        return True
    if condition not in pairs:
        raise GraphError(f"condition {condition.value!r} is not a tile condition")
    a, b, equal = pairs[condition]
    return (a == b) == equal
