"""Copernicus Data Space Ecosystem (CDSE) catalogue: the OData Products API, searched anonymously.

Implements ``GET {base_url}/Products?$filter=...&$orderby=...&$top=...&$skip=...&$expand=Attributes`` as
documented at https://documentation.dataspace.copernicus.eu/APIs/OData.html (OData v4 with the CSC
functions ``OData.CSC.Intersects`` and typed ``Attributes/OData.CSC.<Type>Attribute/any(...)``). Limits
of the service: ``$top`` at most 1000, ``$skip`` at most 10 000.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import shapely
from shapely.errors import ShapelyError
from shapely.geometry import shape

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.models import Constellation, Scene, SceneQuery, SearchResult
from catalogue.naming import CONSTELLATION_TAGS, satellite_from_product_id
from catalogue.parameters import normalise_parameters, parse_int, parse_range

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://catalogue.dataspace.copernicus.eu/odata/v1"
# CDSE caps $top at 1000 rows per page.
MAX_PAGE_SIZE = 1000
# CDSE refuses $skip above 10 000: a longer listing must be cut into smaller date windows.
CDSE_MAX_SKIP = 10_000
# A Retry-After longer than this is not waited for here: the error goes up, the task retries later.
MAX_RETRY_WAIT_S = 60.0
# Attributes without which a product cannot become a scene (as the original ingester).
REQUIRED_ATTRIBUTES: tuple[str, ...] = ("relativeOrbitNumber", "orbitNumber", "productType")

COLLECTIONS = {Constellation.SENTINEL1: "SENTINEL-1", Constellation.SENTINEL2: "SENTINEL-2"}
DEFAULT_PRODUCT_TYPES = {Constellation.SENTINEL1: "SLC", Constellation.SENTINEL2: "S2MSI1C"}
_COMMON_PARAMETERS = ("producttype", "relativeorbitnumber", "filename")
KNOWN_PARAMETERS = {
    Constellation.SENTINEL1: frozenset((*_COMMON_PARAMETERS, "polarisationmode", "sensoroperationalmode")),
    Constellation.SENTINEL2: frozenset((*_COMMON_PARAMETERS, "cloudcoverpercentage", "tileid")),
}
_TILE_RE = re.compile(r"^T\d\d[A-Z]{3}$")
_FOOTPRINT_RE = re.compile(r"^geography'(?:SRID=\d+;)?(.*)'$", re.DOTALL)
_DATETIME_RE = re.compile(r"^(.+T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


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


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _attribute(kind: str, name: str, *conditions: str) -> str:
    tests = " and ".join(f"att/OData.CSC.{kind}Attribute/Value {c}" for c in conditions)
    return f"Attributes/OData.CSC.{kind}Attribute/any(att:att/Name eq '{name}' and {tests})"


def build_filter(query: SceneQuery) -> str:
    """The OData ``$filter`` of a query (clauses joined with `` and ``).

    Raises:
        CatalogueError: the constellation is not on CDSE, or a parameter is unknown or malformed.
    """
    constellation = query.constellation
    if constellation not in COLLECTIONS:
        raise CatalogueError(
            f"catalogue 'cdse' has no {constellation} products; it serves {', '.join(COLLECTIONS)}"
        )
    params = normalise_parameters(query.parameters, known=KNOWN_PARAMETERS[constellation], catalogue="cdse")
    clauses = [
        f"Collection/Name eq '{COLLECTIONS[constellation]}'",
        f"OData.CSC.Intersects(area=geography'SRID=4326;{query.aoi_wkt.strip()}')",
        f"ContentDate/Start gt {format_odata_datetime(query.start)}",
        f"ContentDate/Start lt {format_odata_datetime(query.end)}",
        _attribute(
            "String",
            "productType",
            f"eq {_quote(params.get('producttype', DEFAULT_PRODUCT_TYPES[constellation]).strip())}",
        ),
    ]
    if "polarisationmode" in params:
        # CDSE writes dual polarisations "VV&VH" where DHuS wrote "VV VH".
        clauses.append(
            _attribute(
                "String", "polarisationChannels", f"eq {_quote('&'.join(params['polarisationmode'].split()))}"
            )
        )
    if "sensoroperationalmode" in params:
        clauses.append(
            _attribute("String", "operationalMode", f"eq {_quote(params['sensoroperationalmode'].strip())}")
        )
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


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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
    """One OData product (with ``$expand=Attributes``) as a Scene.

    Raises:
        CatalogueError: the product lacks its name, id, sensing start or a required attribute.
    """
    name = product.get("Name")
    if not isinstance(name, str) or not name:
        raise CatalogueError(f"{catalogue}: a product has no Name (keys: {', '.join(sorted(product))})")
    source_id = name.removesuffix(".SAFE")
    attrs = {a["Name"]: a.get("Value") for a in product.get("Attributes") or [] if "Name" in a}
    missing = [a for a in required_attributes if attrs.get(a) is None]
    uuid = product.get("Id")
    start = (product.get("ContentDate") or {}).get("Start")
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

    tags = {
        "sourceID": source_id,
        "uuid": str(uuid),
        "ingestionDate": str(start),
        "constellation": CONSTELLATION_TAGS[constellation],
    }
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
    tags |= {tag: _format_value(attrs[a]) for tag, a in wanted.items() if attrs.get(a) is not None}
    if "polarisationMode" in tags:  # the tag keeps the payload's spelling, "VV VH"
        tags["polarisationMode"] = tags["polarisationMode"].replace("&", " ")
    serial = attrs.get("platformSerialIdentifier")
    if isinstance(serial, str) and serial.isalpha():  # "A", "B", "C"
        satellite: str | None = f"{CONSTELLATION_TAGS[constellation]}{serial}"
    else:
        satellite = satellite_from_product_id(source_id)
    if satellite:
        tags["satellite"] = satellite

    metadata: dict[str, Any] = {"uuid": str(uuid)}
    checksums = {
        c["Algorithm"]: c["Value"]
        for c in product.get("Checksum") or []
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


def parse_retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or HTTP date) in seconds from now, or None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _shown(url: str) -> str:
    """The URL without its query string (STYLE.md §7)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _skip_of(url: str) -> int:
    values = parse_qs(urlsplit(url).query).get("$skip")
    return int(values[0]) if values and values[0].isdigit() else 0


def _check_skip(skip: int) -> None:
    if skip > CDSE_MAX_SKIP:
        raise CatalogueError(
            f"cdse: the listing needs $skip={skip}, but CDSE refuses $skip above {CDSE_MAX_SKIP}; "
            "narrow the search (shorter start_time..end_time window, smaller AOI, or page/limit)"
        )


class CdseODataSearcher:
    """Searches Sentinel-1 and Sentinel-2 products on the CDSE OData catalogue.

    Every page is read (following ``@odata.nextLink``) unless the query has a ``limit``; then the rows
    ``page*limit .. page*limit+limit-1`` are returned and ``truncated`` says whether more matched.
    """

    name = "cdse"

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        client: httpx.Client | None = None,
        timeout_s: float = 60.0,
        page_size: int = MAX_PAGE_SIZE,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        required_attributes: Sequence[str] = REQUIRED_ATTRIBUTES,
    ) -> None:
        """
        Args:
            base_url: the OData root, without ``/Products``.
            client: an httpx client to use (not closed here); by default one is made per search.
            timeout_s: timeout of each request.
            page_size: ``$top`` of each request, at most 1000.
            max_retries: retries of a request that failed temporarily (429, 5xx, timeout).
            backoff_s: wait before the first retry; doubled at each retry (a Retry-After overrides it).
            required_attributes: attributes every product must have. CDSE also lists auxiliary products
                (orbit files, AUX_*) without orbit attributes: a caller listing those passes fewer.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be within 1..{MAX_PAGE_SIZE}, not {page_size}")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.page_size = page_size
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.required_attributes = tuple(required_attributes)
        self._client = client

    def supports(self, constellation: Constellation) -> bool:
        return constellation in COLLECTIONS

    def search(self, query: SceneQuery) -> SearchResult:
        """Raises CatalogueTemporaryError (after retries) or CatalogueError."""
        odata_filter = build_filter(query)
        wanted = query.limit or None
        first_row = query.page * query.limit
        _check_skip(first_row)
        # One row more than wanted tells whether the limit cut the listing.
        top = self.page_size if wanted is None else min(self.page_size, wanted + 1)
        url = f"{self.base_url}/Products"
        first: dict[str, str] = {
            "$filter": odata_filter,
            "$orderby": "ContentDate/Start asc",
            "$top": str(top),
            "$expand": "Attributes",
        }
        if first_row:
            first["$skip"] = str(first_row)
        params: dict[str, str] | None = first
        log.debug("cdse: $filter=%s", odata_filter)
        products: list[Mapping[str, Any]] = []
        total: int | None = None
        seen: set[str] = set()
        with self._session() as client:
            while True:
                body = self._get_json(client, url, params)
                if total is None and isinstance(body.get("@odata.count"), int):
                    total = body["@odata.count"]
                page = body.get("value")
                if not isinstance(page, list):
                    raise CatalogueError(f"cdse: {_shown(url)} answered JSON without a 'value' list")
                products.extend(page)
                next_link = body.get("@odata.nextLink")
                if not page or not next_link or (wanted is not None and len(products) > wanted):
                    break
                url, params = self._follow(str(next_link)), None
                if url in seen:
                    raise CatalogueError(f"cdse: @odata.nextLink repeats a page already read ({_shown(url)})")
                seen.add(url)
                _check_skip(_skip_of(url))
        truncated = wanted is not None and len(products) > wanted
        products = products[:wanted]
        scenes = [
            parse_product(
                p, query.constellation, catalogue=self.name, required_attributes=self.required_attributes
            )
            for p in products
        ]
        log.info(
            "cdse: %d %s product(s) from %s to %s%s",
            len(scenes),
            query.constellation,
            format_odata_datetime(query.start),
            format_odata_datetime(query.end),
            " (truncated by page/limit)" if truncated else "",
        )
        return SearchResult(scenes=scenes, catalogue=self.name, truncated=truncated, total=total)

    def _follow(self, next_link: str) -> str:
        """The next page's URL, kept on our own host (a nextLink elsewhere is moved to ``base_url``)."""
        link, base = urlsplit(next_link), urlsplit(self.base_url)
        if (link.scheme, link.netloc) == (base.scheme, base.netloc):
            return next_link
        log.warning("cdse: @odata.nextLink points at %s; reading it from %s", link.netloc, base.netloc)
        return urlunsplit((base.scheme, base.netloc, link.path, link.query, ""))

    @contextmanager
    def _session(self) -> Iterator[httpx.Client]:
        if self._client is not None:
            yield self._client
            return
        with httpx.Client(timeout=self.timeout_s, headers={"Accept": "application/json"}) as client:
            yield client

    def _get_json(self, client: httpx.Client, url: str, params: dict[str, str] | None) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                return self._get_once(client, url, params)
            except CatalogueTemporaryError as exc:
                if attempt >= self.max_retries:
                    raise
                delay = self.backoff_s * 2**attempt
                if exc.retry_after_s is not None:
                    delay = max(delay, exc.retry_after_s)
                if delay > MAX_RETRY_WAIT_S:
                    raise
                attempt += 1
                log.warning("%s; retry %d/%d in %.1f s", exc, attempt, self.max_retries, delay)
                time.sleep(delay)

    def _get_once(self, client: httpx.Client, url: str, params: dict[str, str] | None) -> dict[str, Any]:
        shown = _shown(url)
        try:
            response = client.get(url, params=params, timeout=self.timeout_s)
        except httpx.TimeoutException as exc:
            raise CatalogueTemporaryError(f"cdse: {shown} timed out after {self.timeout_s:g} s") from exc
        except httpx.TransportError as exc:
            raise CatalogueTemporaryError(f"cdse: {shown}: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        snippet = " ".join(response.text[:200].split())
        if status in (408, 429) or status >= 500:
            raise CatalogueTemporaryError(
                f"cdse: {shown} answered {status}: {snippet}",
                retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status != 200:
            raise CatalogueError(f"cdse: {shown} answered {status}: {snippet}")
        try:
            body = response.json()
        except ValueError as exc:
            raise CatalogueError(
                f"cdse: {shown} answered 200 with a body that is not JSON: {snippet}"
            ) from exc
        if not isinstance(body, dict):
            raise CatalogueError(f"cdse: {shown} answered JSON that is not an object: {snippet}")
        return body
