"""DHuS catalogues (Sentinels Data Hub Software: the former SciHub/apihub and its national mirrors).

Searched with sentinelsat's ``SentinelAPI`` (OpenSearch ``GET {api_url}search?format=json&rows=..&start=..
&q=...``, HTTP Basic auth), which reads every page itself (100 rows a page). The query words are the
DHuS full-text search keywords (https://scihub.copernicus.eu/twiki/do/view/SciHubUserGuide/FullTextSearch),
the same words as the payload's ``scene_type.parameters``.

The password is a ``SecretStr``: it is unwrapped only to hand it to sentinelsat, and never logged or put in
an error message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
import shapely
from pydantic import SecretStr
from sentinelsat import SentinelAPI
from sentinelsat.exceptions import (
    QueryLengthError,
    QuerySyntaxError,
    SentinelAPIError,
    UnauthorizedError,
)
from shapely.errors import ShapelyError

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.http import answer_limits, make_temporary_error, retry_temporary
from catalogue.http_requests import BoundedAdapter, ResponseTooLargeError, bound_session
from catalogue.models import Constellation, Scene, SceneQuery, SearchResult
from catalogue.naming import make_scene_tags
from catalogue.parameters import (
    check_platform,
    normalise_parameters,
    parse_int,
    parse_orbit_direction,
    parse_range,
)
from common.http import is_temporary_status
from common.redaction import redact_url
from providers.cdse.filter import DEFAULT_PRODUCT_TYPES, PRODUCT_TYPE_ALIASES

log = logging.getLogger(__name__)

T = TypeVar("T")

URL_ENV = "GEOCUBE_INGESTER_DHUS_URL"
USER_ENV = "GEOCUBE_INGESTER_DHUS_USER"
PASSWORD_ENV = "GEOCUBE_INGESTER_DHUS_PASSWORD"  # noqa: S105 (the variable name, not a secret)
PLATFORMS = {Constellation.SENTINEL1: "Sentinel-1", Constellation.SENTINEL2: "Sentinel-2"}
_COMMON_PARAMETERS = ("producttype", "relativeorbitnumber", "orbitdirection", "filename", "platformname")
KNOWN_PARAMETERS = {
    Constellation.SENTINEL1: frozenset((*_COMMON_PARAMETERS, "polarisationmode", "sensoroperationalmode")),
    Constellation.SENTINEL2: frozenset((*_COMMON_PARAMETERS, "cloudcoverpercentage", "tileid")),
}
_SPACE_AFTER_NON_DIGIT = re.compile(r"(?<!\d) ")


def compact_wkt(aoi_wkt: str) -> str:
    """The AOI as short WKT, as sentinelsat's ``geojson_to_wkt`` writes it (DHuS caps the query length).

    Raises:
        CatalogueError: the AOI is not valid WKT.
    """
    try:
        geom = shapely.from_wkt(aoi_wkt)
    except ShapelyError as exc:
        raise CatalogueError(f"dhus: the AOI is not valid WKT: {exc}") from exc
    return _SPACE_AFTER_NON_DIGIT.sub("", str(shapely.to_wkt(geom, rounding_precision=6, trim=True)))


def build_keywords(
    query: SceneQuery, *, default_product_types: Mapping[Constellation, str] = DEFAULT_PRODUCT_TYPES
) -> dict[str, Any]:
    """The sentinelsat ``query()`` keywords of a query, area and date excluded.

    Raises:
        CatalogueError: the constellation is not on DHuS, or a parameter is unknown or malformed.
    """
    constellation = query.constellation
    if constellation not in PLATFORMS:
        raise CatalogueError(
            f"catalogue 'dhus' has no {constellation} products; it serves {', '.join(PLATFORMS)}"
        )
    params = normalise_parameters(query.parameters, known=KNOWN_PARAMETERS[constellation], catalogue="dhus")
    if "platformname" in params:
        check_platform(params["platformname"], constellation)
    keywords: dict[str, Any] = {"platformname": PLATFORMS[constellation]}
    product_type = params.get("producttype", default_product_types.get(constellation))
    if product_type:
        keywords["producttype"] = PRODUCT_TYPE_ALIASES.get(product_type.strip().upper(), product_type.strip())
    for key in ("polarisationmode", "sensoroperationalmode", "filename", "tileid"):
        if key in params:
            keywords[key] = params[key].strip()
    if "relativeorbitnumber" in params:
        keywords["relativeorbitnumber"] = parse_int("relativeorbitnumber", params["relativeorbitnumber"])
    if "orbitdirection" in params:
        keywords["orbitdirection"] = parse_orbit_direction(params["orbitdirection"])
    if "cloudcoverpercentage" in params:
        low, high = parse_range("cloudcoverpercentage", params["cloudcoverpercentage"], lowest=0, highest=100)
        keywords["cloudcoverpercentage"] = (f"{low:g}", f"{high:g}")
    return keywords


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return str(value)


def parse_product(
    uuid: str, product: Mapping[str, Any], constellation: Constellation, *, catalogue: str = "dhus"
) -> Scene:
    """One product of ``SentinelAPI.query()`` (values already typed by sentinelsat) as a Scene.

    Raises:
        CatalogueError: the product lacks its title, sensing start or footprint.
    """
    title = product.get("title") or product.get("identifier")
    begin = product.get("beginposition")
    if not isinstance(title, str) or not isinstance(begin, datetime) or not product.get("footprint"):
        raise CatalogueError(
            f"{catalogue}: product {title or uuid}: missing title, beginposition or footprint "
            f"(keys: {', '.join(sorted(map(str, product)))})"
        )
    try:
        footprint = shapely.from_wkt(str(product["footprint"])).wkt
    except ShapelyError as exc:
        raise CatalogueError(f"{catalogue}: product {title}: unreadable footprint: {exc}") from exc
    source_id = title.removesuffix(".SAFE")
    wanted = {
        "orbitDirection": "orbitdirection",
        "relativeOrbit": "relativeorbitnumber",
        "orbit": "orbitnumber",
        "productType": "producttype",
    }
    if constellation is Constellation.SENTINEL1:
        wanted |= {"polarisationMode": "polarisationmode", "sliceNumber": "slicenumber"}
    else:
        wanted |= {"cloudCoverPercentage": "cloudcoverpercentage", "tileId": "tileid"}
    fields: dict[str, Any] = {"uuid": uuid, "ingestionDate": _iso(begin)}
    tags = make_scene_tags(source_id, constellation, fields | {t: product.get(k) for t, k in wanted.items()})
    metadata: dict[str, Any] = {"uuid": uuid}
    if product.get("link"):
        metadata["download_link"] = str(product["link"])
    if isinstance(product.get("ondemand"), str):
        # DHuS marks products kept in its Long Term Archive (offline until ordered) with ondemand=true.
        metadata["online"] = product["ondemand"].strip().lower() != "true"
    return Scene(
        source_id=source_id,
        date=begin,
        constellation=constellation,
        footprint_wkt=str(footprint),
        tags=tags,
        metadata=metadata,
        catalogue=catalogue,
    )


class DhusSearcher:
    """Sentinel-1 and Sentinel-2 products on a DHuS hub, every page read by sentinelsat.

    Args:
        api_url: the hub root, e.g. ``https://<mirror>/dhus/`` (``GEOCUBE_INGESTER_DHUS_URL``).
        user, password: the hub account (``GEOCUBE_INGESTER_DHUS_USER`` / ``..._PASSWORD``).
        default_product_types: the product type searched when the payload names none (as CDSE: SLC for
            Sentinel-1, S2MSI1C for Sentinel-2); ``{}`` searches every product type.
        timeout_s, max_retries, backoff_s: as the CDSE searcher.
        deadline_s, max_bytes: the whole time and the size cap of one answer (``catalogue.http_requests``
            bounds sentinelsat's session as ``catalogue.http.send`` bounds ours; None: the settings).
    """

    name = "dhus"

    def __init__(
        self,
        *,
        api_url: str,
        user: str,
        password: SecretStr | None,
        default_product_types: Mapping[Constellation, str] = DEFAULT_PRODUCT_TYPES,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        deadline_s: float | None = None,
        max_bytes: int | None = None,
    ) -> None:
        if not api_url:
            # No default: SciHub/apihub, the hub sentinelsat defaults to, closed in 2023.
            raise CatalogueError(f"catalogue 'dhus' needs {URL_ENV} (the root of a DHuS hub, e.g. .../dhus/)")
        if not user or password is None or not password.get_secret_value():
            missing = [USER_ENV] if not user else []
            missing += [PASSWORD_ENV] if password is None or not password.get_secret_value() else []
            # Without both, sentinelsat would fall back to ~/.netrc silently.
            raise CatalogueError(f"catalogue 'dhus' needs {' and '.join(missing)} (the hub account)")
        self.user = user
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.default_product_types = dict(default_product_types)
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_bytes, self.deadline_s = answer_limits(max_bytes, deadline_s)
        self._password = password

    def __repr__(self) -> str:
        return f"DhusSearcher(api_url={self.api_url!r}, user={self.user!r})"

    def supports(self, constellation: Constellation) -> bool:
        return constellation in PLATFORMS

    def search(self, query: SceneQuery) -> SearchResult:
        """Raises CatalogueTemporaryError (after retries) or CatalogueError (401 included)."""
        keywords = build_keywords(query, default_product_types=self.default_product_types)
        area = compact_wkt(query.aoi_wkt)
        aoi = shapely.from_wkt(area)
        date = (query.start, query.end)
        for candidate in (
            area,
            compact_wkt(aoi.convex_hull.wkt),
            compact_wkt(shapely.oriented_envelope(aoi).wkt),
        ):
            if SentinelAPI.check_query_length(SentinelAPI.format_query(candidate, date, **keywords)) <= 1.0:
                break
        if candidate != area:
            # DHuS refuses long queries; products outside the AOI are dropped later.
            log.info("dhus: the AOI makes the query too long for DHuS; a polygon covering it is searched")
            area = candidate
        wanted = query.limit or None
        api = SentinelAPI(
            self.user,
            self._password.get_secret_value(),
            api_url=self.api_url,
            show_progressbars=False,
            timeout=self.timeout_s,
        )
        adapter = bound_session(api.session, timeout_s=self.timeout_s, max_bytes=self.max_bytes)

        def attempt() -> dict[str, dict[str, Any]]:
            return self._call(
                adapter,
                lambda: api.query(
                    area=area,
                    date=date,
                    # One row more than wanted tells whether the limit cut the listing.
                    limit=None if wanted is None else wanted + 1,
                    offset=query.page * query.limit,
                    **keywords,
                ),
            )

        try:
            products = retry_temporary(attempt, max_retries=self.max_retries, backoff_s=self.backoff_s)
        finally:
            api.session.close()
        items = list(products.items())
        truncated = wanted is not None and len(items) > wanted
        scenes = [parse_product(u, p, query.constellation, catalogue=self.name) for u, p in items[:wanted]]
        scenes.sort(key=lambda s: s.date)
        log.info(
            "dhus: %d %s product(s) from %s%s",
            len(scenes),
            query.constellation,
            redact_url(self.api_url),
            " (truncated by page/limit)" if truncated else "",
        )
        return SearchResult(scenes=scenes, catalogue=self.name, truncated=truncated)

    def _call(self, adapter: BoundedAdapter, operation: Callable[[], T]) -> T:
        """``operation()`` within the answer deadline, sentinelsat's and requests' errors classified
        (STYLE.md §3).

        The errors raised are not chained: sentinelsat's and requests' exceptions hold the request, and
        so its Authorization header.
        """
        shown = redact_url(self.api_url)
        error: CatalogueError | CatalogueTemporaryError
        with adapter.deadline(self.deadline_s) as watch:
            try:
                return operation()
            except Exception as exc:  # noqa: BLE001 (classified below, outside the deadline)
                failure = exc
        if watch.fired:  # the deadline cut the answer: what failed after is its effect
            raise CatalogueTemporaryError(
                f"dhus: {shown} did not answer whole within {self.deadline_s:g} s (its headers or body "
                "came too slowly; GEOCUBE_INGESTER_CATALOGUE_DEADLINE_S)"
            )
        try:
            raise failure
        except ResponseTooLargeError as exc:
            error = CatalogueError(f"dhus: {shown} {exc}")
        except UnauthorizedError:
            error = CatalogueError(
                f"dhus: {shown} refused the credentials of user {self.user!r} (401); "
                f"check {USER_ENV} and {PASSWORD_ENV}"
            )
        except (QuerySyntaxError, QueryLengthError) as exc:
            error = CatalogueError(f"dhus: {shown} refused the query: {exc.msg}")
        except SentinelAPIError as exc:
            error = _classify(exc, shown)
        except requests.Timeout:
            error = CatalogueTemporaryError(
                f"dhus: {shown} timed out after {self.timeout_s:g} s (GEOCUBE_INGESTER_HTTP_TIMEOUT_S)"
            )
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            error = CatalogueTemporaryError(f"dhus: {shown}: {type(exc).__name__}")
        except (TypeError, KeyError, AttributeError, ValueError) as exc:
            # sentinelsat reads a body of the wrong shape (a JSON list, a missing key) with these.
            error = CatalogueError(
                f"dhus: {shown} answered something that is not a DHuS answer ({type(exc).__name__})"
            )
        raise error


def _classify(exc: SentinelAPIError, shown: str) -> CatalogueError | CatalogueTemporaryError:
    response = exc.response
    status = response.status_code if response is not None else None
    message = " ".join(str(exc.msg)[:200].split())
    if status is None or is_temporary_status(status):
        headers = response.headers if response is not None else {}
        return make_temporary_error(f"dhus: {shown} answered {status or 'badly'}: {message}", headers)
    return CatalogueError(f"dhus: {shown} answered {status}: {message}")
