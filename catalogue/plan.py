"""The plan of an ingestion: the scenes, their tiles, and the previous/reference graph linking them.

Steps: search the scenes (or take them from an interchange document), cut them into tiles (S1 bursts
read from the annotation files, else one tile per scene), then link the tiles into series, merging
them with the tiles the AOI already holds (its ledger). Existing tiles whose previous changed
(``relinked``) are planned again, with their scenes, so every series stays one chain.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from catalogue.annotations import read_annotations, with_download_links
from catalogue.bursts import make_burst_tiles
from catalogue.interchange import InterchangeDocument
from catalogue.ledger import Ledger
from catalogue.models import Constellation, Scene, SceneQuery, Searcher, Tile
from catalogue.records import with_record_tags
from catalogue.search import refine_scenes, search_scenes
from catalogue.tiles import SeriesSummary, link_tiles, scene_tiles

log = logging.getLogger(__name__)


class PlanRequest(BaseModel):
    """What planning needs of an ingestion: the AOI, the catalogue query, the record tags, and whether
    scenes are cut into S1 bursts. The application builds it from the payload
    (``jobs.payload.Payload.plan_request``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aoi: str = Field(description="The AOI name (the payload's name)")
    query: SceneQuery
    record_tags: dict[str, str] = Field(default_factory=dict)
    split_bursts: bool = Field(default=False, description="Cut S1 scenes into bursts (tiles)")
    annotations_urls: list[str] = Field(default_factory=list, description="S1 annotation URL patterns")


class IngestionPlan(BaseModel):
    aoi: str
    constellation: Constellation
    scenes: list[Scene] = Field(description="Scenes to download: found ones and those of relinked tiles")
    tiles: list[Tile] = Field(description="Tiles to process, linked: new ones and relinked existing ones")
    relinked: list[str] = Field(default_factory=list, description="Keys of existing tiles planned again")
    series: list[SeriesSummary] = Field(default_factory=list)
    dropped: dict[str, str] = Field(default_factory=dict, description="scene -> why it was left out")
    catalogue: str = ""
    failures: dict[str, str] = Field(default_factory=dict, description="Catalogues that failed first")
    truncated: bool = Field(default=False, description="A page/limit cut the catalogue's answer")

    def tiles_by_scene(self) -> dict[str, list[Tile]]:
        """The tiles of each scene (one pass over the tiles)."""
        grouped: dict[str, list[Tile]] = {s.source_id: [] for s in self.scenes}
        for tile in self.tiles:
            grouped.setdefault(tile.scene_id, []).append(tile)
        return grouped

    def download_estimate(self) -> tuple[int, int]:
        """(bytes, scenes with a known size): what the catalogues say the downloads weigh, to check a
        run against an account's quota before it starts."""
        sizes = [s.metadata.get("size_bytes") for s in self.scenes]
        known = [size for size in sizes if isinstance(size, int) and size > 0]
        return sum(known), len(known)

    def summary(self) -> str:
        roots = sum(1 for t in self.tiles if t.reference is None)
        longest = max((s.count for s in self.series), default=0)
        text = (
            f"{self.aoi}: {len(self.scenes)} scene(s), {len(self.tiles)} tile(s) in {len(self.series)} "
            f"series ({roots} root(s), longest {longest}) from catalogue {self.catalogue or '-'}"
        )
        size, known = self.download_estimate()
        if known:
            text += f"; about {size / 1e9:.1f} GB to download ({known} of {len(self.scenes)} sizes known)"
        if self.relinked:
            text += f"; {len(self.relinked)} existing tile(s) relinked and planned again"
        if self.dropped:
            text += f"; {len(self.dropped)} scene(s) left out"
        if self.failures:
            text += f"; catalogue(s) that failed first: {', '.join(sorted(self.failures))}"
        if self.truncated:
            text += "; TRUNCATED by page/limit: more scenes match"
        return text

    def describe(self) -> str:
        """A multi-line text of the plan: scenes, series, tiles with their links, what was left out."""
        lines = [self.summary(), "", "scenes:"]
        lines += [f"  {s.date:%Y-%m-%d %H:%M:%S}  {s.source_id}" for s in self.scenes]
        lines += ["", "series (place: tiles, new, root -> leaf):"]
        lines += [f"  {s.place}: {s.count}, {s.new_count} new, {s.root} -> {s.leaf}" for s in self.series]
        lines += ["", "tiles (tile  date  previous  reference):"]
        for t in self.tiles:
            prev = t.previous.scene_id if t.previous else "-"
            ref = t.reference.scene_id if t.reference else "-"
            lines.append(f"  {t.source_id}  {t.date:%Y-%m-%d}  {prev}  {ref}")
        for scene_id, why in sorted(self.dropped.items()):
            lines.append(f"left out {scene_id}: {why}")
        return "\n".join(lines)


def cut_tiles(
    request: PlanRequest,
    scenes: Sequence[Scene],
    *,
    annotation_patterns: Sequence[str],
    timeout_s: float = 60,
) -> tuple[list[Scene], list[Tile], dict[str, str]]:
    """Tiles of the scenes; S1 scenes left with no burst in the AOI are dropped (and said why)."""
    if not request.split_bursts:
        return list(scenes), [t for s in scenes for t in scene_tiles(s)], {}
    patterns = [*annotation_patterns, *request.annotations_urls]
    kept: list[Scene] = []
    tiles: list[Tile] = []
    dropped: dict[str, str] = {}
    for scene in scenes:
        files = read_annotations(scene.source_id, patterns, area=request.aoi, timeout_s=timeout_s)
        bursts = make_burst_tiles(scene, files, aoi_wkt=request.query.aoi_wkt)
        if bursts:
            kept.append(scene)
            tiles.extend(bursts)
        else:
            dropped[scene.source_id] = "no burst intersects the AOI (buffered by 0.05°)"
    return kept, tiles, dropped


def plan_ingestion(
    request: PlanRequest,
    searchers: Sequence[Searcher],
    *,
    ledger: Ledger | None = None,
    document: InterchangeDocument | None = None,
    annotation_patterns: Sequence[str] = (),
    timeout_s: float = 60,
) -> IngestionPlan:
    """Plan an ingestion (no record, no download).

    Args:
        request: what to plan (from the validated payload).
        searchers: the catalogues, tried in order (not asked when ``document`` gives the scenes).
        ledger: what the AOI already holds, for incremental ingestions.
        document: scenes (and maybe tiles) to ingest instead of searching; its tiles, when present,
            are used as they are, with their previous/reference links (as the original does).
        annotation_patterns: server-wide URL patterns of S1 annotation files (the payload adds its own).
    """
    ledger = ledger or Ledger(aoi=request.aoi)
    constellation = request.query.constellation
    failures: dict[str, str] = {}
    truncated = False
    if document is not None and document.scenes:
        scenes, catalogue = refine_scenes(document.scenes, request.query.aoi_wkt), "interchange document"
    else:
        result = search_scenes(request.query, searchers)
        scenes, catalogue, truncated, failures = (
            result.scenes,
            result.catalogue,
            result.truncated,
            result.failures,
        )
    # Links lose their secrets here: jobs, the ledger and the Prefect UI never see them.
    # One annotations_urls pattern also gives each scene without a link its download link (§2.8).
    scenes = with_download_links(scenes, request.annotations_urls, area=request.aoi)
    scenes = [with_record_tags(s, request.record_tags).without_link_secrets() for s in scenes]

    if document is not None and document.tiles:
        wanted = {s.source_id for s in scenes}
        tiles = [t for t in document.tiles if t.scene_id in wanted]
        plan = IngestionPlan(
            aoi=request.aoi,
            constellation=constellation,
            scenes=scenes,
            tiles=tiles,
            catalogue=catalogue,
            failures=failures,
            truncated=truncated,
        )
        log.info("%s", plan.summary())
        return plan

    scenes, new_tiles, dropped = cut_tiles(
        request, scenes, annotation_patterns=annotation_patterns, timeout_s=timeout_s
    )
    linked = link_tiles(new_tiles, constellation=constellation, existing=ledger.known_tiles())
    tiles = sorted([*linked.tiles, *linked.relinked], key=lambda t: (t.date, t.scene_id, t.source_id))
    known = {scene_id: s.without_link_secrets() for scene_id, s in ledger.scenes.items()}  # older ledgers
    by_id = {**known, **{s.source_id: s for s in scenes}}
    scenes = sorted(
        {by_id[t.scene_id].source_id: by_id[t.scene_id] for t in tiles}.values(),
        key=lambda s: (s.date, s.source_id),
    )
    for key in linked.already_known:
        scene_id = key.split("/", 1)[0]
        if all(t.scene_id != scene_id for t in tiles):
            dropped.setdefault(scene_id, "already ingested in this AOI")
    plan = IngestionPlan(
        aoi=request.aoi,
        constellation=constellation,
        scenes=scenes,
        tiles=tiles,
        relinked=[t.key for t in linked.relinked],
        series=linked.series,
        dropped=dropped,
        catalogue=catalogue,
        failures=failures,
        truncated=truncated,
    )
    log.info("%s", plan.summary())
    return plan
