"""Inputs and outputs of the jobs. They travel as Prefect flow parameters, so they hold no secret."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from catalogue.models import Constellation, Scene, Tile


class SceneJob(BaseModel):
    """Download one scene, run its scene graph on each of its tiles, store the results."""

    model_config = ConfigDict(extra="forbid")

    aoi: str
    scene: Scene
    tiles: list[Tile]
    graph_name: str
    graph_config: dict[str, str] = Field(default_factory=dict)
    storage_uri: str
    is_retriable: bool = False
    retry_count: int = Field(default=0, ge=0, description="Retries of non-temporary failures if retriable")

    @property
    def label(self) -> str:
        return f"{self.aoi}/{self.scene.source_id}"


class SceneRef(BaseModel):
    """What a tile's job needs of its scene: its id, date, constellation and record, not the whole
    catalogue entry (tags, metadata, footprint), which only the download needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_id: str
    date: datetime
    constellation: Constellation
    record_id: str = ""

    @classmethod
    def of(cls, scene: Scene) -> SceneRef:
        return cls(
            source_id=scene.source_id,
            date=scene.date,
            constellation=scene.constellation,
            record_id=scene.record_id,
        )


class TileJob(BaseModel):
    """Process one tile with its tile graph, given its previous and reference tiles."""

    model_config = ConfigDict(extra="forbid")

    aoi: str
    scene: SceneRef
    tile: Tile = Field(description="The tile, with its previous/reference links (T1 and T2 of its graph)")
    graph_name: str
    graph_config: dict[str, str] = Field(default_factory=dict)
    instances_id: dict[str, str] = Field(default_factory=dict, description="layer -> Geocube instance id")
    storage_uri: str
    is_retriable: bool = False
    retry_count: int = Field(default=0, ge=0, description="Retries of non-temporary failures if retriable")

    @property
    def label(self) -> str:
        return f"{self.aoi}/{self.tile.source_id}@{self.tile.date:%Y-%m-%d}"


class JobStatus(StrEnum):
    DONE = "DONE"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class JobResult(BaseModel):
    """What a job did (returned by the child flow; shown in the parent's summary)."""

    status: JobStatus = JobStatus.DONE
    message: str = ""
    provider: str = ""
    stored: list[str] = Field(default_factory=list, description="URIs written to storage")
    indexed: list[str] = Field(default_factory=list, description="URIs indexed in the Geocube")
    deleted: list[str] = Field(default_factory=list, description="storage keys deleted")
    duration_s: float = 0.0
    bytes_fetched: int = Field(default=0, description="Size of the product as the provider delivered it")
    bytes_by_provider: dict[str, int] = Field(
        default_factory=dict, description="Bytes each provider delivered (burst services and the SLC's)"
    )
    fetch_s: float = Field(default=0.0, description="Time to get it, the providers tried first included")
