"""A static STAC catalogue on local disk: the user's own archive, and the offline demo.

The folder holds a ``catalog.json`` (read with pystac, sub-catalogues and collections included), or
just item JSON files (any depth). Items are matched on STAC properties: ``constellation`` or
``platform`` (STAC common metadata), ``datetime`` (or ``start_datetime``), the item geometry, and the
payload parameters below. The product to download is the asset ``product``, or else the first asset
with the role ``data``; its href is made absolute against the item file.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pystac
import shapely
from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, Scene, SceneQuery, SearchResult, parse_constellation
from catalogue.naming import (
    constellation_from_product_id,
    make_scene_tags,
)
from catalogue.parameters import normalise_parameters, parse_int, parse_range

log = logging.getLogger(__name__)

_PLATFORMS: list[tuple[re.Pattern[str], Constellation]] = [
    (re.compile(r"^sentinel-?1[a-z]?$"), Constellation.SENTINEL1),
    (re.compile(r"^sentinel-?2[a-z]?$"), Constellation.SENTINEL2),
    (re.compile(r"^landsat-?0?[89]$"), Constellation.LANDSAT89),
    (re.compile(r"^(pleiades|phr)"), Constellation.PHR),
    (re.compile(r"^spot"), Constellation.SPOT),
]
_PRODUCT_TYPE_PROPERTIES = ("s2:product_type", "product_type", "sar:product_type")
KNOWN_PARAMETERS = frozenset(
    {
        "cloudcoverpercentage",
        "producttype",
        "relativeorbitnumber",
        "polarisationmode",
        "sensoroperationalmode",
        "filename",
    }
)

# A filter answers True (keep), False (drop) or None (the item lacks the property: dropped, and counted).
ItemFilter = Callable[[pystac.Item], bool | None]


def _first_property(item: pystac.Item, names: tuple[str, ...]) -> Any:
    return next((item.properties[n] for n in names if item.properties.get(n) is not None), None)


def item_constellation(item: pystac.Item) -> Constellation | None:
    """The constellation of an item: property ``constellation``, else ``platform``, else the item id."""
    value = item.properties.get("constellation")
    if isinstance(value, str) and (found := parse_constellation(value)) is not None:
        return found
    platform = item.properties.get("platform")
    if isinstance(platform, str):
        for pattern, constellation in _PLATFORMS:
            if pattern.match(platform.strip().lower()):
                return constellation
    return constellation_from_product_id(item.id)


def item_datetime(item: pystac.Item) -> datetime | None:
    """``datetime``, or ``start_datetime`` for a range item; a zone-less value is taken as UTC."""
    when = item.datetime or item.common_metadata.start_datetime
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def _build_filters(params: dict[str, str]) -> dict[str, ItemFilter]:
    filters: dict[str, ItemFilter] = {}
    if "cloudcoverpercentage" in params:
        low, high = parse_range("cloudcoverpercentage", params["cloudcoverpercentage"], lowest=0, highest=100)

        def cloud(item: pystac.Item) -> bool | None:
            value = item.properties.get("eo:cloud_cover")
            return None if value is None else low <= float(value) <= high

        filters["eo:cloud_cover"] = cloud
    if "producttype" in params:
        wanted_type = params["producttype"].strip().lower()

        def product_type(item: pystac.Item) -> bool | None:
            value = _first_property(item, _PRODUCT_TYPE_PROPERTIES)
            return None if value is None else str(value).lower() == wanted_type

        filters["/".join(_PRODUCT_TYPE_PROPERTIES)] = product_type
    if "relativeorbitnumber" in params:
        orbit = parse_int("relativeorbitnumber", params["relativeorbitnumber"])

        def relative_orbit(item: pystac.Item) -> bool | None:
            value = item.properties.get("sat:relative_orbit")
            return None if value is None else int(value) == orbit

        filters["sat:relative_orbit"] = relative_orbit
    if "polarisationmode" in params:
        polarisations = {p.upper() for p in re.split(r"[\s&]+", params["polarisationmode"].strip()) if p}

        def polarisation(item: pystac.Item) -> bool | None:
            value = item.properties.get("sar:polarizations")
            return None if value is None else {str(p).upper() for p in value} == polarisations

        filters["sar:polarizations"] = polarisation
    if "sensoroperationalmode" in params:
        mode = params["sensoroperationalmode"].strip().upper()

        def instrument_mode(item: pystac.Item) -> bool | None:
            value = item.properties.get("sar:instrument_mode")
            return None if value is None else str(value).upper() == mode

        filters["sar:instrument_mode"] = instrument_mode
    if "filename" in params:
        part = params["filename"].strip().replace("*", "")
        filters["id"] = lambda item: part in item.id
    return filters


def _download_assets(item: pystac.Item) -> tuple[str | None, dict[str, str]]:
    hrefs = {key: asset.get_absolute_href() or asset.href for key, asset in item.assets.items()}
    if "product" in hrefs:
        return hrefs["product"], hrefs
    data = next((key for key, asset in item.assets.items() if "data" in (asset.roles or [])), None)
    return (hrefs[data] if data else None), hrefs


def item_to_scene(
    item: pystac.Item, constellation: Constellation, *, catalogue: str = "static-stac"
) -> Scene:
    """A STAC item as a Scene (the caller has checked its datetime and geometry exist)."""
    when = item_datetime(item)
    if when is None or item.geometry is None:
        raise CatalogueError(f"{catalogue}: item {item.id} has no datetime or no geometry")
    props = item.properties
    platform = props.get("platform")
    fields = {
        "productType": _first_property(item, _PRODUCT_TYPE_PROPERTIES),
        "cloudCoverPercentage": props.get("eo:cloud_cover"),
        "relativeOrbit": props.get("sat:relative_orbit"),
        "orbitDirection": str(props["sat:orbit_state"]).upper() if props.get("sat:orbit_state") else None,
    }
    platform_tag = platform.upper().replace("-", "") if isinstance(platform, str) else None
    tags = make_scene_tags(item.id, constellation, fields, satellite=platform_tag)
    link, assets = _download_assets(item)
    metadata: dict[str, Any] = {"assets": assets}
    if link:
        metadata["download_link"] = link
    return Scene(
        source_id=item.id,
        date=when,
        constellation=constellation,
        footprint_wkt=str(shape(item.geometry).wkt),
        tags=tags,
        metadata=metadata,
        catalogue=catalogue,
    )


class StaticStacSearcher:
    """Searches a static STAC catalogue in a local folder (any constellation)."""

    name = "static-stac"

    def __init__(self, catalog: str | Path) -> None:
        """
        Args:
            catalog: the folder holding ``catalog.json`` (or item JSON files), or ``catalog.json`` itself.
        """
        self.catalog = Path(catalog)

    def supports(self, constellation: Constellation) -> bool:
        return True

    def load_items(self) -> list[pystac.Item]:
        """Every item of the catalogue.

        Raises:
            CatalogueError: the folder is missing, or a file is not valid STAC.
        """
        root = self.catalog
        if not root.exists():
            raise CatalogueError(
                f"static-stac: {root} does not exist; point "
                "GEOCUBE_INGESTER_STATIC_STAC_CATALOG at the folder holding catalog.json"
            )
        catalog_file = root / "catalog.json" if root.is_dir() else root
        try:
            if catalog_file.is_file():
                stac = pystac.read_file(str(catalog_file))
                if isinstance(stac, pystac.Item):
                    return [stac]
                if not isinstance(stac, pystac.Catalog):
                    raise CatalogueError(
                        f"static-stac: {catalog_file} is a {type(stac).__name__}, "
                        "not a STAC catalog or collection"
                    )
                return list(stac.get_items(recursive=True))
            return [
                pystac.Item.from_file(str(path))
                for path in sorted(root.rglob("*.json"))
                if _is_item_file(path)
            ]
        except (pystac.STACError, OSError, ValueError, KeyError, TypeError) as exc:
            raise CatalogueError(
                f"static-stac: cannot read the catalogue in {root}: {type(exc).__name__}: {exc}"
            ) from exc

    def search(self, query: SceneQuery) -> SearchResult:
        params = normalise_parameters(query.parameters, known=KNOWN_PARAMETERS, catalogue=self.name)
        filters = _build_filters(params)
        try:
            aoi = shapely.from_wkt(query.aoi_wkt)
        except ShapelyError as exc:
            raise CatalogueError(f"static-stac: the AOI is not valid WKT: {exc}") from exc
        lacking: dict[str, int] = {}
        scenes = [
            item_to_scene(item, query.constellation, catalogue=self.name)
            for item in self.load_items()
            if self._matches(item, query, aoi, filters, lacking)
        ]
        for prop, count in lacking.items():
            log.warning(
                "static-stac: %d item(s) of %s lack %s, needed by the payload parameters; they were left out",
                count,
                self.catalog,
                prop,
            )
        scenes.sort(key=lambda s: (s.date, s.source_id))
        total = len(scenes)
        truncated = False
        if query.limit:
            first = query.page * query.limit
            truncated = total > first + query.limit
            scenes = scenes[first : first + query.limit]
        log.info(
            "static-stac: %d %s item(s) in %s (%d match)%s",
            len(scenes),
            query.constellation,
            self.catalog,
            total,
            " (truncated by page/limit)" if truncated else "",
        )
        return SearchResult(scenes=scenes, catalogue=self.name, truncated=truncated, total=total)

    @staticmethod
    def _matches(
        item: pystac.Item,
        query: SceneQuery,
        aoi: BaseGeometry,
        filters: dict[str, ItemFilter],
        lacking: dict[str, int],
    ) -> bool:
        if item_constellation(item) is not query.constellation:
            return False
        when = item_datetime(item)
        if when is None or item.geometry is None:
            log.debug("static-stac: item %s has no datetime or no geometry; skipped", item.id)
            return False
        if not query.start <= when < query.end:
            return False
        if not shape(item.geometry).intersects(aoi):
            return False
        for prop, keep in filters.items():
            verdict = keep(item)
            if verdict is None:
                lacking[prop] = lacking.get(prop, 0) + 1
            if not verdict:
                return False
        return True


def _is_item_file(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text(encoding="utf-8")).get("type") == "Feature")
    except (ValueError, AttributeError):
        return False
