"""The plan of an ingestion: what the catalogue found, the tiles and their previous/reference links."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from functools import partial

from pydantic import BaseModel, Field

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, Scene, SceneQuery, Searcher, Tile
from catalogue.payload import Payload
from catalogue.search import search_scenes
from catalogue.tiles import link_series, place_key, scene_tiles

log = logging.getLogger(__name__)


class IngestionPlan(BaseModel):
    aoi: str
    constellation: Constellation
    scenes: list[Scene]
    tiles: list[Tile]
    catalogue: str = ""
    truncated: bool = Field(default=False, description="A page/limit cut the catalogue's answer")

    def tiles_of(self, scene_id: str) -> list[Tile]:
        return [t for t in self.tiles if t.scene_id == scene_id]

    def summary(self) -> str:
        roots = sum(1 for t in self.tiles if t.reference is None)
        series = Counter((t.reference.key if t.reference else t.key) for t in self.tiles)
        text = (
            f"{self.aoi}: {len(self.scenes)} scene(s), {len(self.tiles)} tile(s) in {roots} series "
            f"(longest {max(series.values(), default=0)}) from catalogue {self.catalogue or '-'}"
        )
        if self.truncated:
            text += "; TRUNCATED by page/limit: more scenes match"
        return text


def plan_ingestion(payload: Payload, searchers: Sequence[Searcher]) -> IngestionPlan:
    """Search the scenes of a payload, cut them into tiles and link each tile's series."""
    query = SceneQuery(
        aoi_wkt=payload.aoi_wkt,
        start=payload.start_time,
        end=payload.end_time,
        constellation=payload.constellation,
        parameters=payload.scene_type.parameters,
        page=payload.page,
        limit=payload.limit,
    )
    result = search_scenes(query, searchers)
    if (
        payload.constellation is Constellation.SENTINEL1
        and payload.scene_graph_name != "CopyProductToStorage"
    ):
        raise CatalogueError(
            "scene_graph_name: Sentinel-1 burst tiles are not available yet; use "
            '"CopyProductToStorage" to ingest whole S1 products'
        )
    scenes = []
    for scene in result.scenes:
        tags = {**scene.tags}
        for key, value in payload.record_tags.items():
            tags.setdefault(key, value)
        scenes.append(scene.model_copy(update={"tags": tags}))
    tiles = [tile for scene in scenes for tile in scene_tiles(scene)]
    tiles = link_series(tiles, partial(place_key, constellation=payload.constellation))
    plan = IngestionPlan(
        aoi=payload.name,
        constellation=payload.constellation,
        scenes=scenes,
        tiles=tiles,
        catalogue=result.catalogue,
        truncated=result.truncated,
    )
    log.info("%s", plan.summary())
    return plan
