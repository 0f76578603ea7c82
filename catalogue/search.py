"""Scene search over the configured catalogues, then the refinement of the list.

The catalogues that serve the constellation are tried in the configured order; the first one that
answers wins (as the original ingester's ``ScenesInventory``). A catalogue that fails is logged and its
error kept in the result, never skipped silently. The list is then refined (``refineInventory``): one
scene per product (newest processing baseline, then latest ingestion), scenes outside the AOI dropped,
sorted by date.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence

import shapely
from shapely.errors import ShapelyError
from shapely.geometry.base import BaseGeometry

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.geojson import search_boxes
from catalogue.models import Constellation, Scene, SceneQuery, Searcher, SearchResult
from catalogue.naming import is_s2_compact_name, product_name_key
from common.errors import IngestError, TemporaryError, is_temporary

log = logging.getLogger(__name__)


# A product name becomes a folder and file name in the storage: one path component of these characters.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")


def check_product_name(name: str, *, catalogue: str) -> None:
    """A product name a catalogue sent must be usable as one path component, never a path.

    Raises:
        CatalogueError: naming the catalogue that sent it (a traversal such as ``../x``, a separator, a
            control character, or more than 200 characters).
    """
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise CatalogueError(
            f"catalogue {catalogue} sent the product name {name[:80]!r}, which is not a plain file name "
            "(letters, digits, . _ + - only, at most 200 characters, no '..'); its answer is refused"
        )


def _search_each_side(searcher: Searcher, query: SceneQuery) -> SearchResult:
    """``searcher.search(query)``; an AOI cut at the antimeridian (RFC 7946 §3.1.9) is searched once per
    side, so that no catalogue that searches a box or a hull reads it as a band round the globe."""
    try:
        aoi = shapely.from_wkt(query.aoi_wkt)
    except ShapelyError:
        return searcher.search(query)  # refine_scenes names the problem
    sides = [aoi.intersection(side) for side in search_boxes(aoi)]
    if len(sides) < 2:
        return searcher.search(query)
    results = [searcher.search(query.model_copy(update={"aoi_wkt": side.wkt})) for side in sides]
    scenes = {s.source_id: s for result in results for s in result.scenes}
    totals = [r.total for r in results]
    return results[0].model_copy(
        update={
            "scenes": list(scenes.values()),
            "truncated": any(r.truncated for r in results),
            "total": None if None in totals else sum(t for t in totals if t is not None),
        }
    )


def search_scenes(query: SceneQuery, searchers: Sequence[Searcher]) -> SearchResult:
    """The refined scenes of the first catalogue that answers.

    Raises:
        CatalogueError: no configured catalogue serves the constellation, or every one failed for good.
        CatalogueTemporaryError: every catalogue failed and at least one failure may pass.
    """
    candidates = [s for s in searchers if s.supports(query.constellation)]
    if not candidates:
        configured = ", ".join(s.name for s in searchers) or "none"
        raise CatalogueError(
            f"no configured catalogue serves {query.constellation} (configured: {configured}); add one "
            "that does to GEOCUBE_INGESTER_CATALOGUES"
        )
    failures: dict[str, IngestError] = {}
    for searcher in candidates:
        try:
            result = _search_each_side(searcher, query)
            for scene in result.scenes:
                check_product_name(scene.source_id, catalogue=searcher.name)
        except IngestError as exc:
            log.warning("catalogue %s failed for %s: %s", searcher.name, query.constellation, exc)
            failures[searcher.name] = exc
            continue
        if failures:
            log.warning("catalogue %s answered after %s failed", searcher.name, ", ".join(failures))
        scenes = refine_scenes(result.scenes, query.aoi_wkt)
        return result.model_copy(
            update={
                "scenes": scenes,
                "failures": {**result.failures, **{name: str(exc) for name, exc in failures.items()}},
            }
        )
    details = "; ".join(f"{name}: {exc}" for name, exc in failures.items())
    message = f"every catalogue failed for {query.constellation}: {details}"
    temporary = [exc for exc in failures.values() if is_temporary(exc)]
    if temporary:
        waits = [e.retry_after_s for e in temporary if isinstance(e, TemporaryError) and e.retry_after_s]
        raise CatalogueTemporaryError(message, retry_after_s=min(waits) if waits else None)
    raise CatalogueError(message)


def refine_scenes(scenes: Iterable[Scene], aoi_wkt: str) -> list[Scene]:
    """One scene per product, only those touching the AOI, sorted by date."""
    unique = remove_double_entries(scenes)
    inside = remove_outside_aoi(unique, aoi_wkt)
    return sorted(inside, key=lambda s: (s.date, s.source_id))


def _freshness(scene: Scene) -> tuple[str, str, str]:
    """Sort key among copies of one product: processing baseline, generation time (S2), ingestion date."""
    name = scene.source_id
    is_s2 = scene.constellation is Constellation.SENTINEL2 and is_s2_compact_name(name)
    baseline = name[28:32] if is_s2 else ""  # "0500" > "0209"
    generated = name[45:] if is_s2 else ""  # the product discriminator: a later reprocessing is later
    return baseline, generated, scene.tags.get("ingestionDate", "")


def remove_double_entries(scenes: Iterable[Scene]) -> list[Scene]:
    """Keep one scene per :func:`product_name_key`: the freshest, or the first one met on a tie."""
    kept: dict[str, Scene] = {}
    for scene in scenes:
        key = product_name_key(scene)
        other = kept.get(key)
        if other is None:
            kept[key] = scene
            continue
        newer, older = (scene, other) if _freshness(scene) > _freshness(other) else (other, scene)
        kept[key] = newer
        log.info(
            "%s: dropped, same product as %s (older processing or ingestion)",
            older.source_id,
            newer.source_id,
        )
    return list(kept.values())


def _geometry(wkt: str, what: str) -> BaseGeometry:
    try:
        geometry = shapely.from_wkt(wkt)
    except ShapelyError as exc:
        raise CatalogueError(f"{what}: footprint is not valid WKT ({exc}): {wkt[:80]!r}") from exc
    return geometry if geometry.is_valid else shapely.make_valid(geometry)


def remove_outside_aoi(scenes: Iterable[Scene], aoi_wkt: str) -> list[Scene]:
    """The scenes whose footprint intersects the AOI (an empty footprint never does)."""
    aoi = _geometry(aoi_wkt, "AOI")
    kept = []
    for scene in scenes:
        if _geometry(scene.footprint_wkt, scene.source_id).intersects(aoi):
            kept.append(scene)
        else:
            log.info("%s: dropped, its footprint misses the AOI", scene.source_id)
    return kept
