"""One CDSE OData product (``$expand=Attributes``) as a Scene.

The product entity is that of https://documentation.dataspace.copernicus.eu/APIs/OData.html
(``Id``, ``Name``, ``ContentDate``, ``GeoFootprint``/``Footprint``, ``Online``, ``Checksum``,
``ContentLength``, ``S3Path``, and the typed ``Attributes``). Creodias serves the same schema.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import shapely
from shapely.errors import ShapelyError
from shapely.geometry import shape

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, Scene
from catalogue.naming import CONSTELLATION_TAGS, make_scene_tags
from catalogue.shapes import AnswerShapeError, list_of_mappings, mapping_at, reading
from providers.cdse.filter import parse_odata_datetime

log = logging.getLogger(__name__)

# Attributes without which a product cannot become a scene (as the original ingester).
REQUIRED_ATTRIBUTES: tuple[str, ...] = ("relativeOrbitNumber", "orbitNumber", "productType")
_FOOTPRINT_RE = re.compile(r"^geography'(?:SRID=\d+;)?(.*)'$", re.DOTALL)


def footprint_wkt(product: Mapping[str, Any]) -> str | None:
    """The footprint of an OData product as WKT, from ``GeoFootprint`` (GeoJSON) or ``Footprint``."""
    geojson = product.get("GeoFootprint")
    if isinstance(geojson, Mapping) and geojson.get("type"):
        return str(shape(geojson).wkt)
    text = product.get("Footprint")
    if isinstance(text, str) and text.strip():
        match = _FOOTPRINT_RE.match(text.strip())
        return str(shapely.from_wkt(match.group(1) if match else text).wkt)
    return None


def parse_product(
    product: Mapping[str, Any],
    constellation: Constellation,
    *,
    catalogue: str = "cdse",
    required_attributes: Sequence[str] = REQUIRED_ATTRIBUTES,
) -> Scene:
    """See :func:`_parse_product`; a wrong shape anywhere in the answer is an ``AnswerShapeError`` naming it.

    Raises:
        CatalogueError: as ``_parse_product``, and ``AnswerShapeError`` for JSON of the wrong shape.
    """
    if not isinstance(product, Mapping):
        raise AnswerShapeError(f"{catalogue}: a product is {type(product).__name__}, not an object")
    shown = str(product.get("Name") or product.get("Id") or "(no Name)")[:120]
    with reading(f"{catalogue}: a product {shown}"):
        return _parse_product(
            product, constellation, catalogue=catalogue, required_attributes=required_attributes
        )


def _parse_product(
    product: Mapping[str, Any],
    constellation: Constellation,
    *,
    catalogue: str = "cdse",
    required_attributes: Sequence[str] = REQUIRED_ATTRIBUTES,
) -> Scene:
    """One OData product (with ``$expand=Attributes``) as a Scene.

    Raises:
        CatalogueError: the product lacks its name, id, sensing start or a required attribute.
    """
    name = product.get("Name")
    if not isinstance(name, str) or not name:
        raise CatalogueError(f"{catalogue}: a product has no Name (keys: {', '.join(sorted(product))})")
    source_id = name.removesuffix(".SAFE")
    where = f"{catalogue}: product {source_id}"
    attrs = {
        a["Name"]: a.get("Value") for a in list_of_mappings(product, "Attributes", where=where) if "Name" in a
    }
    missing = [a for a in required_attributes if attrs.get(a) is None]
    uuid = product.get("Id")
    start = mapping_at(product, "ContentDate", where=where).get("Start")
    missing += [key for key, value in (("Id", uuid), ("ContentDate.Start", start)) if not value]
    if missing:
        raise CatalogueError(
            f"{catalogue}: product {source_id}: missing attribute(s) {', '.join(missing)} "
            "in the answer (was $expand=Attributes sent?)"
        )
    try:
        date = parse_odata_datetime(str(start))
        wkt = footprint_wkt(product)
    except (ValueError, TypeError, KeyError, ShapelyError) as exc:
        raise CatalogueError(
            f"{catalogue}: product {source_id}: unreadable date or footprint: {exc}"
        ) from exc
    if wkt is None:
        log.warning("%s: product %s has no footprint; it will match no AOI", catalogue, source_id)
        wkt = "POLYGON EMPTY"

    wanted = {
        "orbitDirection": "orbitDirection",
        "relativeOrbit": "relativeOrbitNumber",
        "orbit": "orbitNumber",
        "productType": "productType",
    }
    if constellation is Constellation.SENTINEL1:
        wanted |= {"polarisationMode": "polarisationChannels", "sliceNumber": "sliceNumber"}
    else:
        wanted |= {"cloudCoverPercentage": "cloudCover", "tileId": "tileId"}
    fields: dict[str, Any] = {"uuid": str(uuid), "ingestionDate": str(start)}
    fields |= {tag: attrs.get(a) for tag, a in wanted.items()}
    if isinstance(fields.get("polarisationMode"), str):  # the tag keeps the payload's spelling, "VV VH"
        fields["polarisationMode"] = fields["polarisationMode"].replace("&", " ")
    serial = attrs.get("platformSerialIdentifier")
    platform = (
        f"{CONSTELLATION_TAGS[constellation]}{serial}"
        if isinstance(serial, str) and serial.isalpha()
        else None
    )
    tags = make_scene_tags(source_id, constellation, fields, satellite=platform)

    metadata: dict[str, Any] = {"uuid": str(uuid)}
    checksums = {
        c["Algorithm"]: c["Value"]
        for c in list_of_mappings(product, "Checksum", where=where)
        if c.get("Algorithm") and c.get("Value")
    }
    optional = {
        "online": product.get("Online"),
        "checksums": checksums or None,
        "size_bytes": product.get("ContentLength"),
        "s3_path": product.get("S3Path"),
    }
    metadata |= {key: value for key, value in optional.items() if value is not None}
    return Scene(
        source_id=source_id,
        date=date,
        constellation=constellation,
        footprint_wkt=wkt,
        tags=tags,
        metadata=metadata,
        catalogue=catalogue,
    )
