"""A static STAC catalogue on local disk: the user's own archive, and the offline demo.

The folder holds a ``catalog.json`` (read with pystac, sub-catalogues and collections included), or
just item JSON files (any depth). Items are matched on their constellation, ``datetime`` (or
``start_datetime``), geometry and the payload parameters below, then mapped to Scenes by
``providers.stac.items`` (the mapping a STAC API's items get too). The product to download is the
asset ``product``, or else the first asset with the role ``data``; its href is made absolute against
the item file.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pystac
import shapely
from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, SceneQuery, SearchResult
from catalogue.parameters import normalise_parameters, parse_int, parse_range
from providers.stac.items import (
    PRODUCT_TYPE_PROPERTIES,
    Item,
    item_constellation,
    item_datetime,
    item_to_scene,
)

log = logging.getLogger(__name__)

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
ItemFilter = Callable[[Item], bool | None]


def _props(item: Item) -> Mapping[str, Any]:
    props: Mapping[str, Any] = item.get("properties") or {}
    return props


def _build_filters(params: dict[str, str]) -> dict[str, ItemFilter]:
    filters: dict[str, ItemFilter] = {}
    if "cloudcoverpercentage" in params:
        low, high = parse_range("cloudcoverpercentage", params["cloudcoverpercentage"], lowest=0, highest=100)

        def cloud(item: Item) -> bool | None:
            value = _props(item).get("eo:cloud_cover")
            return None if value is None else low <= float(value) <= high

        filters["eo:cloud_cover"] = cloud
    if "producttype" in params:
        wanted_type = params["producttype"].strip().lower()

        def product_type(item: Item) -> bool | None:
            value = next((_props(item)[n] for n in PRODUCT_TYPE_PROPERTIES if _props(item).get(n)), None)
            return None if value is None else str(value).lower() == wanted_type

        filters["/".join(PRODUCT_TYPE_PROPERTIES)] = product_type
    if "relativeorbitnumber" in params:
        orbit = parse_int("relativeorbitnumber", params["relativeorbitnumber"])

        def relative_orbit(item: Item) -> bool | None:
            value = _props(item).get("sat:relative_orbit")
            return None if value is None else int(value) == orbit

        filters["sat:relative_orbit"] = relative_orbit
    if "polarisationmode" in params:
        polarisations = {p.upper() for p in re.split(r"[\s&]+", params["polarisationmode"].strip()) if p}

        def polarisation(item: Item) -> bool | None:
            value = _props(item).get("sar:polarizations")
            return None if value is None else {str(p).upper() for p in value} == polarisations

        filters["sar:polarizations"] = polarisation
    if "sensoroperationalmode" in params:
        mode = params["sensoroperationalmode"].strip().upper()

        def instrument_mode(item: Item) -> bool | None:
            value = _props(item).get("sar:instrument_mode")
            return None if value is None else str(value).upper() == mode

        filters["sar:instrument_mode"] = instrument_mode
    if "filename" in params:
        part = params["filename"].strip().replace("*", "")
        filters["id"] = lambda item: part in str(item.get("id", ""))
    return filters


def _as_item(item: pystac.Item) -> Item:
    """The item as JSON, its asset hrefs made absolute against the item file."""
    data = item.to_dict(include_self_link=False, transform_hrefs=False)
    for key, asset in item.assets.items():
        data["assets"][key]["href"] = asset.get_absolute_href() or asset.href
    if self_href := item.get_self_href():  # where the stac-assets provider reads the item again
        data["links"] = [*data.get("links", []), {"rel": "self", "href": self_href}]
    return data


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

    def load_items(self) -> list[Item]:
        """Every item of the catalogue, as JSON with absolute asset hrefs.

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
                    return [_as_item(stac)]
                if not isinstance(stac, pystac.Catalog):
                    raise CatalogueError(
                        f"static-stac: {catalog_file} is a {type(stac).__name__}, "
                        "not a STAC catalog or collection"
                    )
                return [_as_item(item) for item in stac.get_items(recursive=True)]
            return [
                _as_item(pystac.Item.from_file(str(path)))
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
            item_to_scene(item, query.constellation, catalogue=self.name, data_role_product=True)
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
        item: Item,
        query: SceneQuery,
        aoi: BaseGeometry,
        filters: dict[str, ItemFilter],
        lacking: dict[str, int],
    ) -> bool:
        if item_constellation(item) is not query.constellation:
            return False
        try:
            when = item_datetime(item)
            geometry = shape(item["geometry"]) if item.get("geometry") else None
        except (ValueError, TypeError, KeyError, AttributeError, ShapelyError) as exc:
            log.warning(
                "static-stac: item %s: unreadable datetime or geometry (%s); skipped", item.get("id"), exc
            )
            return False
        if when is None or geometry is None:
            log.debug("static-stac: item %s has no datetime or no geometry; skipped", item.get("id"))
            return False
        if not query.start <= when < query.end:
            return False
        if not geometry.intersects(aoi):
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
