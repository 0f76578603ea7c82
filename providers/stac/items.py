"""STAC items (as JSON objects) as Scenes, with the original ingester's tags: the one mapping, for a
STAC API's search and for a static catalogue on disk.

Landsat (the original's ``landsataws/scenes.go``): ``source_id`` is the item id, ``productType`` is
``<id[0:2]>_C<landsat:collection_number>_<landsat:correction>``; tags ``cloudCoverPercentage``,
``landCloudCoverPercentage``, ``ingestionDate``, ``sunAzimuth``, ``sunElevation``. Sentinel items get the
tags the CDSE OData searcher writes, where the STAC properties exist: ``productType``
(``s2:product_type``, ``product:type``), ``relativeOrbit``/``orbit`` (``sat:relative_orbit``,
``sat:absolute_orbit``), ``orbitDirection`` (``sat:orbit_state``), ``tileId`` (``s2:mgrs_tile``,
``mgrs:*`` or ``grid:code``), ``cloudCoverPercentage`` (``eo:cloud_cover``), ``polarisationMode``
(``sar:polarizations``). Older property names (STAC 0.7 ``eo:platform``, ``eo:sun_azimuth``, a
date-only ``datetime``, as in the USGS-published items) are read too.

The constellation comes from the STAC ``constellation`` property, else the platform, else the
collection id, else the item id (Landsat counts only for Landsat 8 and 9).

Metadata for the downloader: ``assets`` ({key: href}), ``download_link`` (the asset named ``product``
in any case, e.g. CDSE's ``Product``; in a static catalogue, else the first asset with the role
``data``), ``download_alternates`` (its ``alternate`` hrefs), ``uuid`` (the CDSE product id in a
``.../Products(<uuid>)/$value`` link), ``size_bytes`` (``file:size``), ``stac_item_href`` (the item's
``self`` link, where ``providers.stac.assets`` reads its assets' roles and checksums).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shapely.errors import ShapelyError
from shapely.geometry import shape

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, Scene, parse_constellation
from catalogue.naming import (
    constellation_from_product_id,
    make_scene_tags,
)
from catalogue.shapes import AnswerShapeError, mapping_at, reading
from providers.cdse.filter import parse_odata_datetime

Item = Mapping[str, Any]

_DATE_RE = re.compile(r"^\d{4}-\d\d-\d\d$")
_UUID_RE = re.compile(r"Products\(([0-9a-fA-F-]{36})\)")
_S2_ORBIT_RE = re.compile(r"_R(\d{3})_")
_PLATFORMS: list[tuple[re.Pattern[str], Constellation]] = [
    (re.compile(r"^sentinel-?1[a-z]?$"), Constellation.SENTINEL1),
    (re.compile(r"^sentinel-?2[a-z]?$"), Constellation.SENTINEL2),
    (re.compile(r"^landsat-?0?[89]$"), Constellation.LANDSAT89),
    (re.compile(r"^(pleiades|phr)"), Constellation.PHR),
    (re.compile(r"^spot"), Constellation.SPOT),
]
PRODUCT_TYPE_PROPERTIES = ("s2:product_type", "product:type", "product_type", "sar:product_type")
_COLLECTION_PREFIXES = {
    "sentinel-1": Constellation.SENTINEL1,
    "sentinel-2": Constellation.SENTINEL2,
    "landsat": Constellation.LANDSAT89,
}


def _first(props: Mapping[str, Any], *names: str) -> Any:
    return next((props[n] for n in names if props.get(n) is not None), None)


def parse_stac_datetime(text: str) -> datetime:
    """An RFC 3339 date-time, or a bare date (midnight UTC) as STAC 0.7 items have."""
    text = text.strip()
    if _DATE_RE.match(text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    return parse_odata_datetime(text)


def item_datetime(item: Item) -> datetime | None:
    """``datetime``, else ``start_datetime`` (a range item); None when it has neither.

    Raises:
        ValueError: the value is not a date-time.
    """
    props = item.get("properties") or {}
    when = _first(props, "datetime", "start_datetime")
    return None if when is None else parse_stac_datetime(str(when))


def item_constellation(item: Item) -> Constellation | None:
    """The constellation of an item: its ``constellation`` property, else its platform, else its
    collection id, else its id.

    Landsat counts only for Landsat 8 and 9 (``Landsat89``): a platform must say 8 or 9, a collection
    (``landsat-c2-l2``) needs an id reading ``L?08``/``L?09``.
    """
    props = item.get("properties") or {}
    declared = props.get("constellation")
    if isinstance(declared, str) and (found := parse_constellation(declared)) is not None:
        return found
    platform = str(_first(props, "platform", "eo:platform") or "").strip().lower()
    for pattern, constellation in _PLATFORMS:
        if pattern.match(platform):
            return constellation
    hint = f"{item.get('collection') or ''} {platform}".replace("_", "-").lower()
    by_hint = next((c for prefix, c in _COLLECTION_PREFIXES.items() if prefix in hint), None)
    by_id = constellation_from_product_id(str(item.get("id", "")))
    if by_hint is Constellation.LANDSAT89 or (by_hint is None and by_id is Constellation.LANDSAT89):
        return by_id if by_id is Constellation.LANDSAT89 else None
    return by_hint or by_id


def _asset_metadata(item: Item, *, data_role_product: bool) -> dict[str, Any]:
    raw_assets = mapping_at(item, "assets", where=f"item {item.get('id')}")
    assets = {k: str(a["href"]) for k, a in raw_assets.items() if a.get("href")}
    metadata: dict[str, Any] = {"assets": assets, "stac_id": str(item.get("id"))}
    links = [link for link in item.get("links") or [] if isinstance(link, Mapping)]
    if self_href := next((link.get("href") for link in links if link.get("rel") == "self"), None):
        metadata["stac_item_href"] = str(self_href)  # the stac-assets provider reads the item there
    if item.get("collection"):
        metadata["collection"] = str(item["collection"])
    product_key = next((k for k in assets if k.lower() == "product"), None)
    if product_key is None and data_role_product:
        product_key = next((k for k in assets if "data" in (raw_assets[k].get("roles") or [])), None)
    if product_key is not None:
        product = item["assets"][product_key]
        metadata["download_link"] = assets[product_key]
        alternates = {k: v["href"] for k, v in (product.get("alternate") or {}).items() if v.get("href")}
        if alternates:
            metadata["download_alternates"] = alternates
        if isinstance(product.get("file:size"), int):
            metadata["size_bytes"] = product["file:size"]
        if match := _UUID_RE.search(assets[product_key]):
            metadata["uuid"] = match.group(1)
    return metadata


def _tile_id(props: Mapping[str, Any]) -> str | None:
    if props.get("s2:mgrs_tile"):
        return str(props["s2:mgrs_tile"]).removeprefix("T")
    zone, band, square = (props.get(k) for k in ("mgrs:utm_zone", "mgrs:latitude_band", "mgrs:grid_square"))
    if zone is not None and band and square:
        return f"{int(zone):02d}{band}{square}"
    code = str(props.get("grid:code") or "")
    return code.removeprefix("MGRS-") if code.startswith("MGRS-") else None


def _landsat_tags(item_id: str, props: Mapping[str, Any]) -> dict[str, Any]:
    correction = props.get("landsat:correction") or [*item_id.split("_"), ""][1]
    return {
        "productType": f"{item_id[0:2]}_C{props.get('landsat:collection_number', '')}_{correction}",
        "cloudCoverPercentage": props.get("eo:cloud_cover"),
        "landCloudCoverPercentage": props.get("landsat:cloud_cover_land"),
        "sunAzimuth": _first(props, "view:sun_azimuth", "eo:sun_azimuth"),
        "sunElevation": _first(props, "view:sun_elevation", "eo:sun_elevation"),
    }


def _sentinel_tags(source_id: str, props: Mapping[str, Any], constellation: Constellation) -> dict[str, Any]:
    orbit_state = props.get("sat:orbit_state")
    tags: dict[str, Any] = {
        "productType": _first(props, *PRODUCT_TYPE_PROPERTIES),
        "relativeOrbit": props.get("sat:relative_orbit"),
        "orbit": props.get("sat:absolute_orbit"),
        "orbitDirection": str(orbit_state).upper() if orbit_state else None,
    }
    if constellation is Constellation.SENTINEL2:
        if tags["relativeOrbit"] is None and (match := _S2_ORBIT_RE.search(source_id)):
            tags["relativeOrbit"] = int(match.group(1))  # the ESA name says it: _R141_
        tags |= {"cloudCoverPercentage": props.get("eo:cloud_cover"), "tileId": _tile_id(props)}
    else:
        polarisations = props.get("sar:polarizations")
        tags["polarisationMode"] = " ".join(polarisations) if polarisations else None
    return tags


def item_to_scene(
    item: Item, constellation: Constellation, *, catalogue: str, data_role_product: bool = False
) -> Scene:
    """See :func:`_item_to_scene`; a wrong shape anywhere in the answer is an ``AnswerShapeError`` naming it.

    Raises:
        CatalogueError: as ``_item_to_scene``, and ``AnswerShapeError`` for JSON of the wrong shape.
    """
    if not isinstance(item, Mapping):
        raise AnswerShapeError(f"{catalogue}: item is {type(item).__name__}, not an object")
    shown = str(item.get("id") or "(no id)")[:120]
    with reading(f"{catalogue}: item {shown}"):
        return _item_to_scene(item, constellation, catalogue=catalogue, data_role_product=data_role_product)


def _item_to_scene(
    item: Item, constellation: Constellation, *, catalogue: str, data_role_product: bool = False
) -> Scene:
    """A STAC item of ``constellation`` as a Scene.

    ``data_role_product``: without a ``product`` asset, the first asset with the role ``data`` is the
    product (a static catalogue's convention; a STAC API's data assets are single bands).

    Raises:
        CatalogueError: the item has no id, no datetime or an unreadable geometry.
    """
    item_id = str(item.get("id") or "")
    props: Mapping[str, Any] = mapping_at(item, "properties", where=f"{catalogue}: item {item_id}")
    when = _first(props, "datetime", "start_datetime")
    if not item_id or when is None:
        raise CatalogueError(f"{catalogue}: item {item_id or '(no id)'} has no id or no datetime")
    try:
        date = parse_stac_datetime(str(when))
        footprint = str(shape(item["geometry"]).wkt) if item.get("geometry") else "POLYGON EMPTY"
    except (ValueError, TypeError, KeyError, ShapelyError) as exc:
        raise CatalogueError(f"{catalogue}: item {item_id}: unreadable datetime or geometry: {exc}") from exc
    source_id = item_id.removesuffix(".SAFE")
    if constellation is Constellation.SENTINEL2 and props.get("s2:product_uri"):
        source_id = str(props["s2:product_uri"]).removesuffix(".SAFE")  # Earth Search ids are not ESA's
    if constellation is Constellation.LANDSAT89:
        extra = _landsat_tags(item_id, props)
    else:
        extra = _sentinel_tags(source_id, props, constellation)
    platform = _first(props, "platform", "eo:platform")
    platform_tag = str(platform).upper().replace("-", "").replace("_", "") if platform else None
    metadata = _asset_metadata(item, data_role_product=data_role_product)
    fields = {"ingestionDate": str(when), **extra, "uuid": metadata.get("uuid")}
    tags = make_scene_tags(source_id, constellation, fields, satellite=platform_tag)
    return Scene(
        source_id=source_id,
        date=date,
        constellation=constellation,
        footprint_wkt=footprint,
        tags=tags,
        metadata=metadata,
        catalogue=catalogue,
    )
