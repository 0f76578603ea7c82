"""Copernicus Data Space Ecosystem (CDSE) catalogue: the OData Products API, searched anonymously.

Implements ``GET {base_url}/Products?$filter=...&$orderby=ContentDate/Start asc&$top=...&$skip=...
&$count=true&$expand=Attributes`` as documented at https://documentation.dataspace.copernicus.eu/APIs/OData.html
(the ``$filter`` is built in ``providers.cdse.filter``, products are read in ``providers.cdse.products``).

Limits of the service: ``$top`` at most 1000, and since 2024-11-12 ``$skip`` at most 10 000 (CDSE
release notes, "Catalogue API Change: parameters' limits": a larger ``$skip`` answers 422 and the last
reachable page has no ``@odata.nextLink``). So a listing longer than ``$skip`` can reach is cut into
sensing-time slices: the first page of every window asks ``$count=true``; when the count is beyond
reach, the window is cut into ``ceil(count / reachable)`` equal slices (recursively, if a slice is
still too long), read in order, concatenated, and products are de-duplicated by ``Id``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from catalogue.errors import CatalogueError
from catalogue.http import open_client, retry_temporary, send_json
from catalogue.models import Constellation, SceneQuery, SearchResult
from catalogue.shapes import AnswerShapeError
from common.redaction import redact_url
from providers.cdse.filter import (
    COLLECTIONS,
    KNOWN_PARAMETERS,
    TimeWindow,
    build_filter,
    format_odata_datetime,
    parse_odata_datetime,
)
from providers.cdse.products import REQUIRED_ATTRIBUTES, footprint_wkt, parse_product

__all__ = [
    "CDSE_MAX_SKIP",
    "KNOWN_PARAMETERS",
    "CdseODataSearcher",
    "TimeWindow",
    "build_filter",
    "footprint_wkt",
    "format_odata_datetime",
    "parse_odata_datetime",
    "parse_product",
]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://catalogue.dataspace.copernicus.eu/odata/v1"
# CDSE caps $top at 1000 rows per page.
MAX_PAGE_SIZE = 1000
# CDSE refuses $skip above 10 000: a longer listing must be cut into smaller date windows.
CDSE_MAX_SKIP = 10_000
# Cutting a window deeper than this means the counts never shrink: the service is not answering sense.
MAX_SPLIT_DEPTH = 12
# More products than any Sentinel collection holds (CDSE lists about 10^7 Sentinel products in all).
MAX_PLAUSIBLE_COUNT = 100_000_000

Product = Mapping[str, Any]


def _skip_of(url: str) -> int:
    values = parse_qs(urlsplit(url).query).get("$skip")
    return int(values[0]) if values and values[0].isdigit() else 0


def _unique_by_id(products: Sequence[Product]) -> list[Product]:
    """The products, each ``Id`` once (the first met): a live listing may shift between two pages."""
    seen: set[Any] = set()
    unique = []
    for product in products:
        key = product.get("Id") or product.get("Name")
        if key in seen:
            log.info("cdse: product %s listed twice; kept once", product.get("Name"))
            continue
        seen.add(key)
        unique.append(product)
    return unique


class CdseODataSearcher:
    """Searches Sentinel-1 and Sentinel-2 products on the CDSE OData catalogue.

    Every product is read (following ``@odata.nextLink``, and cutting the sensing window when
    ``$skip`` cannot reach the end) unless the query has a ``limit``; then the rows
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
        deadline_s: float | None = None,
        max_bytes: int | None = None,
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
            deadline_s, max_bytes: the whole time and the size cap of one answer (``catalogue.http.send``;
                None: the settings).
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
        self.deadline_s = deadline_s  # of one whole answer (None: GEOCUBE_INGESTER_CATALOGUE_DEADLINE_S)
        self.max_bytes = max_bytes  # cap of one answer (None: GEOCUBE_INGESTER_CATALOGUE_MAX_RESPONSE_MB)
        self.required_attributes = tuple(required_attributes)
        self._client = client

    def supports(self, constellation: Constellation) -> bool:
        return constellation in COLLECTIONS

    def search(self, query: SceneQuery) -> SearchResult:
        """Raises CatalogueTemporaryError (after retries) or CatalogueError."""
        build_filter(query, catalogue=self.name)  # a bad parameter fails before any request
        limit = query.limit or None
        # One row more than the limit tells whether the limit cut the listing.
        wanted = None if limit is None else limit + 1
        window = TimeWindow(query.start, query.end)
        with open_client(
            self._client, timeout_s=self.timeout_s, headers={"Accept": "application/json"}
        ) as client:
            products, total = self._read_window(client, query, window, query.page * query.limit, wanted, 0)
        products = _unique_by_id(products)
        truncated = limit is not None and len(products) > limit
        products = products[:limit]
        scenes = [
            parse_product(
                p, query.constellation, catalogue=self.name, required_attributes=self.required_attributes
            )
            for p in products
        ]
        log.info(
            "%s: %d %s product(s) from %s to %s%s",
            self.name,
            len(scenes),
            query.constellation,
            format_odata_datetime(query.start),
            format_odata_datetime(query.end),
            " (truncated by page/limit)" if truncated else "",
        )
        return SearchResult(scenes=scenes, catalogue=self.name, truncated=truncated, total=total)

    def _read_window(
        self,
        client: httpx.Client,
        query: SceneQuery,
        window: TimeWindow,
        offset: int,
        wanted: int | None,
        depth: int,
    ) -> tuple[list[Product], int | None]:
        """Rows ``offset .. offset+wanted-1`` (all from ``offset`` if ``wanted`` is None) of the
        window's listing, and the window's ``@odata.count`` (None if the service gave none).

        The first request of a window never carries ``$skip``: the recorded CDSE pages answer
        ``@odata.count`` to ``$count=true`` on the first page only.
        """
        top = self.page_size if wanted is None else min(self.page_size, wanted)
        params = {
            "$filter": build_filter(query, window, catalogue=self.name),
            "$orderby": "ContentDate/Start asc",
            "$top": str(top),
            "$count": "true",
            "$expand": "Attributes",
        }
        log.debug("%s: $filter=%s", self.name, params["$filter"])
        url = f"{self.base_url}/Products"
        body = self._get_json(client, url, params)
        count = body.get("@odata.count")
        count = count if isinstance(count, int) and not isinstance(count, bool) else None
        if count is not None and not 0 <= count <= MAX_PLAUSIBLE_COUNT:
            raise AnswerShapeError(
                f"{self.name}: {redact_url(url)} answered @odata.count = {count}, not a product count "
                f"(0..{MAX_PLAUSIBLE_COUNT}); the catalogue's answer cannot be paged"
            )
        if count is not None:
            if offset >= count:
                return [], count
            end_row = count if wanted is None else min(count, offset + wanted)
            if offset + (end_row - 1 - offset) // top * top > CDSE_MAX_SKIP:
                return self._read_slices(client, query, window, count, offset, wanted, top, depth), count
        if offset < top:  # the first page holds the first row wanted
            rows = self._read_pages(client, body, None if wanted is None else offset + wanted)
            return rows[offset:], count
        self._check_skip(offset)  # reached only without a count (else the window was cut above)
        body = self._get_json(client, url, params | {"$skip": str(offset)})
        return self._read_pages(client, body, wanted), count

    def _read_slices(
        self,
        client: httpx.Client,
        query: SceneQuery,
        window: TimeWindow,
        count: int,
        offset: int,
        wanted: int | None,
        top: int,
        depth: int,
    ) -> list[Product]:
        if depth >= MAX_SPLIT_DEPTH:
            raise CatalogueError(
                f"{self.name}: still {count} products between {format_odata_datetime(window.start)} and "
                f"{format_odata_datetime(window.end)} after cutting the window {depth} times; narrow the "
                "search (smaller AOI, more scene_type.parameters)"
            )
        parts = max(2, math.ceil(count / (CDSE_MAX_SKIP + top)))
        log.info(
            "%s: %d products between %s and %s, more than $skip can reach (%d); reading %d slices",
            self.name,
            count,
            format_odata_datetime(window.start),
            format_odata_datetime(window.end),
            CDSE_MAX_SKIP,
            parts,
        )
        products: list[Product] = []
        for part in window.split(parts, catalogue=self.name):
            if wanted is not None and len(products) >= wanted:
                break
            still = None if wanted is None else wanted - len(products)
            got, part_count = self._read_window(client, query, part, offset, still, depth + 1)
            if part_count is None:
                raise CatalogueError(
                    f"{self.name}: {redact_url(self.base_url)} gave no @odata.count for a slice of the "
                    "window; cannot page through the listing"
                )
            products.extend(got)
            offset = max(0, offset - part_count)
        return products

    def _read_pages(self, client: httpx.Client, body: dict[str, Any], wanted: int | None) -> list[Product]:
        """The products of ``body`` and of the pages after it (``@odata.nextLink``), ``wanted`` at most."""
        products: list[Product] = []
        seen: set[str] = set()
        while True:
            page = body.get("value")
            if not isinstance(page, list):
                raise CatalogueError(
                    f"{self.name}: {redact_url(self.base_url)} answered JSON without a 'value' list"
                )
            for index, product in enumerate(page):
                if not isinstance(product, Mapping):
                    raise AnswerShapeError(
                        f"{self.name}: {redact_url(self.base_url)} answered value[{index}] = "
                        f"{type(product).__name__}, not a product object"
                    )
            products.extend(page)
            next_link = body.get("@odata.nextLink")
            if not page or not next_link or (wanted is not None and len(products) >= wanted):
                return products[:wanted]
            url = self._follow(str(next_link))
            if url in seen:
                raise CatalogueError(
                    f"{self.name}: @odata.nextLink repeats a page already read ({redact_url(url)})"
                )
            seen.add(url)
            self._check_skip(_skip_of(url))
            body = self._get_json(client, url, None)

    def _check_skip(self, skip: int) -> None:
        if skip > CDSE_MAX_SKIP:
            raise CatalogueError(
                f"{self.name}: the listing needs $skip={skip}, but CDSE refuses $skip above {CDSE_MAX_SKIP}"
                " and gave no @odata.count to cut the window by; narrow the search (shorter "
                "start_time..end_time window, smaller AOI, or page/limit)"
            )

    def _follow(self, next_link: str) -> str:
        """The next page's URL, kept on our own host (a nextLink elsewhere is moved to ``base_url``)."""
        link, base = urlsplit(next_link), urlsplit(self.base_url)
        if (link.scheme, link.netloc) == (base.scheme, base.netloc):
            return next_link
        log.warning(
            "%s: @odata.nextLink points at %s; reading it from %s", self.name, link.netloc, base.netloc
        )
        return urlunsplit((base.scheme, base.netloc, link.path, link.query, ""))

    def _get_json(self, client: httpx.Client, url: str, params: dict[str, str] | None) -> dict[str, Any]:
        return retry_temporary(
            lambda: send_json(
                client,
                "GET",
                url,
                catalogue=self.name,
                timeout_s=self.timeout_s,
                deadline_s=self.deadline_s,
                max_bytes=self.max_bytes,
                params=params,
            ),
            max_retries=self.max_retries,
            backoff_s=self.backoff_s,
        )
