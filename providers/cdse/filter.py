"""The OData ``$filter`` of a CDSE search, and the sensing-time windows a long listing is cut into.

Grammar: OData v4 with the CSC functions (``OData.CSC.Intersects``, typed
``Attributes/OData.CSC.<Type>Attribute/any(...)``), as documented at
https://documentation.dataspace.copernicus.eu/APIs/OData.html. Keys of ``scene_type.parameters`` are
the original ingester's (DHuS words); each becomes one clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, SceneQuery
from catalogue.parameters import (
    SENTINEL_PLATFORMS,
    check_platform,
    normalise_parameters,
    parse_int,
    parse_orbit_direction,
    parse_range,
)

# CDSE names its Sentinel collections by the platform: "SENTINEL-1", "SENTINEL-2".
COLLECTIONS = SENTINEL_PLATFORMS
DEFAULT_PRODUCT_TYPES = {Constellation.SENTINEL1: "SLC", Constellation.SENTINEL2: "S2MSI1C"}
# Short spellings of the Sentinel-2 levels; CDSE only knows the ESA product types.
PRODUCT_TYPE_ALIASES = {"L1C": "S2MSI1C", "L2A": "S2MSI2A"}
_COMMON_PARAMETERS = ("producttype", "relativeorbitnumber", "filename", "platformname")
KNOWN_PARAMETERS = {
    Constellation.SENTINEL1: frozenset(
        (*_COMMON_PARAMETERS, "polarisationmode", "sensoroperationalmode", "orbitdirection")
    ),
    Constellation.SENTINEL2: frozenset((*_COMMON_PARAMETERS, "cloudcoverpercentage", "tileid")),
}
_TILE_RE = re.compile(r"^T\d\d[A-Z]{3}$")
_DATETIME_RE = re.compile(r"^(.+T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")
_MILLISECOND = timedelta(milliseconds=1)


def format_odata_datetime(value: datetime) -> str:
    """``2014-04-05T00:00:00.000Z``: UTC with milliseconds, as CDSE expects in ``$filter``."""
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_odata_datetime(text: str) -> datetime:
    """An OData ``DateTimeOffset`` (any number of fraction digits) as an aware UTC datetime."""
    match = _DATETIME_RE.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an OData date-time")
    head, fraction, zone = match.groups()
    iso = head + (f".{(fraction or '')[:6].ljust(6, '0')}" if fraction else "")
    iso += "+00:00" if zone in (None, "Z") else zone
    return datetime.fromisoformat(iso).astimezone(UTC)


@dataclass(frozen=True)
class TimeWindow:
    """Sensing starts ``start < t < end`` (the query's own window, as the original ingester), or
    ``start <= t < end`` (``start_inclusive``: a later slice of a cut window, so slices tile exactly).
    """

    start: datetime
    end: datetime
    start_inclusive: bool = False

    def clauses(self) -> list[str]:
        low = "ge" if self.start_inclusive else "gt"
        return [
            f"ContentDate/Start {low} {format_odata_datetime(self.start)}",
            f"ContentDate/Start lt {format_odata_datetime(self.end)}",
        ]

    def split(self, parts: int, *, catalogue: str = "cdse") -> list[TimeWindow]:
        """``parts`` consecutive slices of equal length that tile this window.

        Cut points are whole milliseconds, the precision of the ``$filter`` dates, so that a product
        sensed exactly at a cut falls in exactly one slice.

        Args:
            catalogue: the name the error gives (the searcher's ``name``).

        Raises:
            CatalogueError: the window is too short to be cut (less than ``parts`` milliseconds).
        """
        step = (self.end - self.start) / parts
        cuts = [_floor_ms(self.start + step * i) for i in range(1, parts)]
        bounds = [self.start, *cuts, self.end]
        if any(b <= a for a, b in pairwise(bounds)):
            raise CatalogueError(
                f"{catalogue}: too many products sensed between {format_odata_datetime(self.start)} and "
                f"{format_odata_datetime(self.end)} to list them; narrow the search (smaller AOI, "
                "more scene_type.parameters)"
            )
        return [
            TimeWindow(lo, hi, start_inclusive=self.start_inclusive if i == 0 else True)
            for i, (lo, hi) in enumerate(pairwise(bounds))
        ]


def _floor_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _attribute(kind: str, name: str, *conditions: str) -> str:
    tests = " and ".join(f"att/OData.CSC.{kind}Attribute/Value {c}" for c in conditions)
    return f"Attributes/OData.CSC.{kind}Attribute/any(att:att/Name eq '{name}' and {tests})"


def build_filter(query: SceneQuery, window: TimeWindow | None = None, *, catalogue: str = "cdse") -> str:
    """The OData ``$filter`` of a query (clauses joined with `` and ``), over ``window`` if given.

    Args:
        catalogue: the name errors give (the searcher's ``name``: Creodias serves the same API).

    Raises:
        CatalogueError: the constellation is not on the catalogue, or a parameter is unknown or malformed.
    """
    constellation = query.constellation
    if constellation not in COLLECTIONS:
        raise CatalogueError(
            f"catalogue {catalogue!r} has no {constellation} products; it serves {', '.join(COLLECTIONS)}"
        )
    params = normalise_parameters(
        query.parameters, known=KNOWN_PARAMETERS[constellation], catalogue=catalogue
    )
    if "platformname" in params:
        check_platform(params["platformname"], constellation)
    product_type = params.get("producttype", DEFAULT_PRODUCT_TYPES[constellation]).strip()
    product_type = PRODUCT_TYPE_ALIASES.get(product_type.upper(), product_type)
    window = window or TimeWindow(query.start, query.end)
    clauses = [
        f"Collection/Name eq '{COLLECTIONS[constellation]}'",
        f"OData.CSC.Intersects(area=geography'SRID=4326;{query.aoi_wkt.strip()}')",
        *window.clauses(),
        _attribute("String", "productType", f"eq {_quote(product_type)}"),
    ]
    if "polarisationmode" in params:
        # CDSE writes dual polarisations "VV&VH" where DHuS wrote "VV VH".
        channels = "&".join(params["polarisationmode"].split())
        clauses.append(_attribute("String", "polarisationChannels", f"eq {_quote(channels)}"))
    if "sensoroperationalmode" in params:
        mode = params["sensoroperationalmode"].strip()
        clauses.append(_attribute("String", "operationalMode", f"eq {_quote(mode)}"))
    if "orbitdirection" in params:
        direction = parse_orbit_direction(params["orbitdirection"])
        clauses.append(_attribute("String", "orbitDirection", f"eq {_quote(direction)}"))
    if "relativeorbitnumber" in params:
        orbit = parse_int("relativeorbitnumber", params["relativeorbitnumber"])
        clauses.append(_attribute("Integer", "relativeOrbitNumber", f"eq {orbit}"))
    if "cloudcoverpercentage" in params:
        low, high = parse_range("cloudcoverpercentage", params["cloudcoverpercentage"], lowest=0, highest=100)
        clauses.append(_attribute("Double", "cloudCover", f"ge {low:g}", f"le {high:g}"))
    if "tileid" in params:
        tile = params["tileid"].strip().upper()
        tile = tile[1:] if _TILE_RE.match(tile) else tile  # CDSE says "33TUM" where names say "T33TUM"
        clauses.append(_attribute("String", "tileId", f"eq {_quote(tile)}"))
    if "filename" in params:
        clauses.append(f"contains(Name,{_quote(params['filename'].strip().replace('*', ''))})")
    return " and ".join(clauses)
