"""The catalogue's domain objects: constellations, scenes, tiles and the search boundary.

A *scene* is one satellite product (one download). A *tile* is one processing unit: a Sentinel-1
burst, or the whole scene for the other constellations. Tiles are linked to a *previous* tile (the
preceding acquisition at the same place) and a *reference* tile (the first of the series).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.redaction import strip_url_secrets


class Constellation(StrEnum):
    """Constellations the ingester knows; the values are the original ingester's enum names."""

    SENTINEL1 = "Sentinel1"
    SENTINEL2 = "Sentinel2"
    PHR = "PHR"
    SPOT = "SPOT"
    LANDSAT89 = "Landsat89"


# Accepted spellings (case-insensitive), as the original's GetConstellationFromString.
CONSTELLATION_ALIASES: dict[str, Constellation] = {
    "sentinel1": Constellation.SENTINEL1,
    "sentinel-1": Constellation.SENTINEL1,
    "s1": Constellation.SENTINEL1,
    "sentinel2": Constellation.SENTINEL2,
    "sentinel-2": Constellation.SENTINEL2,
    "s2": Constellation.SENTINEL2,
    "landsat89": Constellation.LANDSAT89,
    "landsat": Constellation.LANDSAT89,
    "phr": Constellation.PHR,
    "pleiades": Constellation.PHR,
    "spot": Constellation.SPOT,
}


def parse_constellation(value: str) -> Constellation | None:
    """The constellation named by ``value`` (any accepted alias, any case), or None."""
    return CONSTELLATION_ALIASES.get(value.strip().lower())


def format_tag_value(value: Any) -> str:
    """A catalogue's value as a record tag: ``true``/``false``, and whole floats without ``.0`` (``12``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Scene(BaseModel):
    """One product found by a catalogue.

    ``metadata`` holds what the downloader needs and is not a record tag: ``uuid`` (CDSE product id),
    ``download_link``, ``online``, ``checksums`` ({algorithm: value}), ``size_bytes``, STAC ``assets``.
    """

    model_config = ConfigDict(extra="forbid")

    source_id: str = Field(description="Product name without .SAFE, e.g. S2A_MSIL1C_2021...")
    date: datetime = Field(description="Acquisition (sensing start) time, UTC")
    constellation: Constellation
    footprint_wkt: str = Field(description="Footprint in EPSG:4326 as WKT")
    tags: dict[str, str] = Field(default_factory=dict, description="Geocube record tags")
    metadata: dict[str, Any] = Field(default_factory=dict)
    catalogue: str = Field(default="", description="Name of the catalogue that found it")
    record_id: str = Field(default="", description="Geocube record id, once created or reused")

    @field_validator("date")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _as_utc(value)

    def without_link_secrets(self) -> Scene:
        """The scene with its links (``download_link``, ``download_alternates``, ``assets``) stripped of
        user info and secret query parameters: what jobs, the ledger and the UI may hold."""
        metadata = without_link_secrets(self.metadata)
        if metadata == self.metadata:
            return self
        return self.model_copy(update={"metadata": metadata})


class TileLink(BaseModel):
    """A reference to another tile: the key the original ingester uses (tile id, scene id, date)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_id: str
    scene_id: str
    date: datetime

    @field_validator("date")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _as_utc(value)

    @property
    def key(self) -> str:
        return f"{self.scene_id}/{self.source_id}"


class Tile(BaseModel):
    """One processing unit of a scene (an S1 burst, or the whole scene)."""

    model_config = ConfigDict(extra="forbid")

    source_id: str = Field(description="Tile id: the scene id, or <dir><relorbit>_<swath>_<anx> for a burst")
    scene_id: str = Field(description="source_id of the scene this tile belongs to")
    date: datetime
    footprint_wkt: str
    swath_id: str = ""
    tile_nr: int = 0
    anx_time: int = 0
    burst_id: int | None = Field(default=None, description="ESA burst id (S1 only)")
    previous: TileLink | None = None
    reference: TileLink | None = None

    @field_validator("date")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _as_utc(value)

    @property
    def key(self) -> str:
        """Unique within an AOI: a burst id repeats across scenes."""
        return f"{self.scene_id}/{self.source_id}"

    def link(self) -> TileLink:
        return TileLink(source_id=self.source_id, scene_id=self.scene_id, date=self.date)


class SceneQuery(BaseModel):
    """What a catalogue is asked for."""

    model_config = ConfigDict(extra="forbid")

    aoi_wkt: str = Field(description="Search area in EPSG:4326, WKT")
    start: datetime
    end: datetime
    constellation: Constellation
    parameters: dict[str, str] = Field(default_factory=dict)
    page: int = Field(default=0, ge=0)
    limit: int = Field(default=0, ge=0, description="0: no limit, every page is read")

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _as_utc(value)


class SearchResult(BaseModel):
    """Scenes found by one catalogue, and whether a limit cut the list."""

    scenes: list[Scene]
    catalogue: str
    truncated: bool = Field(default=False, description="More scenes matched than were returned")
    total: int | None = Field(default=None, description="Count announced by the catalogue, if any")
    failures: dict[str, str] = Field(
        default_factory=dict, description="Catalogues tried before this one that failed: name -> error"
    )


class Searcher(Protocol):
    """A catalogue: one module, this one boundary."""

    name: str

    def supports(self, constellation: Constellation) -> bool: ...

    def search(self, query: SceneQuery) -> SearchResult: ...


_LINK_KEYS = frozenset({"download_link", "download_alternates", "assets", "stac_item_href"})


def without_link_secrets(document: Any) -> Any:
    """A copy of a document (an interchange document, any JSON) whose links (``download_link``,
    ``download_alternates``, ``assets``) lost their user info and secret query parameters, as
    ``Scene.without_link_secrets`` does for scenes: for a document about to become a flow parameter."""
    if isinstance(document, dict):
        return {
            key: _strip_links(value) if key in _LINK_KEYS else without_link_secrets(value)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [without_link_secrets(item) for item in document]
    return document


def _strip_links(value: Any) -> Any:
    if isinstance(value, str):
        return strip_url_secrets(value)
    if isinstance(value, dict):
        return {key: _strip_links(link) for key, link in value.items()}
    return value
