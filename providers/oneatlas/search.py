"""Airbus OneAtlas catalogue (Pléiades, SPOT): the OpenSearch search API, with basic auth.

Implements ``POST {search_url}`` (default ``https://search.foundation.api.oneatlas.airbus.com/api/v2/
opensearch``) with a JSON body of search criteria, as documented in the OneAtlas Data guides ("Search",
"Pay-per-order: browse archives"); the answer is a GeoJSON FeatureCollection with ``totalResults``,
``startIndex`` and ``itemsPerPage``, each feature carrying ``properties`` and ``_links``. Authentication
is HTTP Basic with the user ``APIKEY`` and the API key as password (the original ingester's way).

Differences from the original ingester, on purpose:

- the scene date is ``acquisitionDate``, not ``processingDate``;
- duplicates are found on (``parentIdentifier``, identifier), the pair the original meant to compare;
- the acquisition window is the query's own start..end, not widened to whole days.

Prices and existing orders: ``providers.oneatlas.orders`` (the search needs no JWT).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import shapely
from pydantic import SecretStr
from shapely.errors import ShapelyError
from shapely.geometry import Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from catalogue.errors import CatalogueError
from catalogue.http import open_client, retry_temporary, send_json
from catalogue.models import Constellation, Scene, SceneQuery, SearchResult, format_tag_value
from catalogue.naming import CONSTELLATION_TAGS
from catalogue.parameters import normalise_parameters
from catalogue.shapes import AnswerShapeError, mapping_at, reading
from common.redaction import redact_url
from providers.cdse.filter import format_odata_datetime, parse_odata_datetime
from providers.oneatlas.orders import (
    APIKEY_ENV,
    DEFAULT_AUTH_URL,
    DEFAULT_ORDER_URL,
    ExistingOrder,
    OneAtlasOrders,
    PriceEstimate,
)

log = logging.getLogger(__name__)

DEFAULT_SEARCH_URL = "https://search.foundation.api.oneatlas.airbus.com/api/v2/opensearch"
USERNAME_ENV = "GEOCUBE_INGESTER_ONEATLAS_USERNAME"
# The original ingester's page size (OneAtlasCatalogLimit).
PAGE_SIZE = 200
# OneAtlas counts at most this many results (search response schema: totalResults maximum 10000).
MAX_TOTAL_RESULTS = 10_000
# Footprints meeting the AOI on less than this are skipped (the original's threshold).
MIN_INTERSECTION_DEG2 = 1e-5
CONSTELLATIONS = {Constellation.PHR: "PHR", Constellation.SPOT: "SPOT"}
# scene_type.parameters keys (any case) -> search body fields.
BODY_FIELDS = {
    "producttype": "productType",
    "platform": "platform",
    "processinglevel": "processingLevel",
    "cloudcover": "cloudCover",
    "incidenceangle": "incidenceAngle",
    "workspace": "workspace",
    "relation": "relation",
    "acquisitionidentifier": "acquisitionIdentifier",
}
# GetPrice asks the caller for a price estimate (``OneAtlasSearcher.price_estimate``); the search ignores it.
KNOWN_PARAMETERS = frozenset({*BODY_FIELDS, "getprice"})
_IDENTIFIER_PROPERTIES = ("sourceIdentifier", "acquisitionIdentifier", "parentIdentifier")
_DHUS_RANGE = re.compile(r"^\s*\[\s*(\S+)\s+TO\s+(\S+)\s*\]\s*$", re.IGNORECASE)


def is_price_requested(parameters: Mapping[str, str]) -> bool:
    """Whether ``scene_type.parameters`` asks for a price estimate (``GetPrice: "true"``)."""
    return any(k.strip().lower() == "getprice" and v.strip().lower() == "true" for k, v in parameters.items())


def _range(value: str) -> str:
    """``"[0,30]"``; the DHuS spelling ``"[0 TO 30]"`` is accepted too."""
    match = _DHUS_RANGE.match(value)
    return f"[{match.group(1)},{match.group(2)}]" if match else value.replace(" ", "")


def build_body(query: SceneQuery, aoi: BaseGeometry) -> dict[str, Any]:
    """The search body of a query (``startPage`` and ``itemsPerPage`` excluded).

    Raises:
        CatalogueError: not Pléiades or SPOT, or a parameter is unknown.
    """
    if query.constellation not in CONSTELLATIONS:
        raise CatalogueError(
            f"catalogue 'oneatlas' has no {query.constellation} products; it serves PHR, SPOT"
        )
    params = normalise_parameters(query.parameters, known=KNOWN_PARAMETERS, catalogue="oneatlas")
    body: dict[str, Any] = {
        "constellation": CONSTELLATIONS[query.constellation],
        "sortBy": "acquisitionDate",
        "acquisitionDate": f"[{format_odata_datetime(query.start)},{format_odata_datetime(query.end)}]",
        # The convex hull keeps the body small; footprints are cut by the AOI itself afterwards.
        "geometry": mapping(aoi.convex_hull),
    }
    for key, field in BODY_FIELDS.items():
        value = params.get(key, "").strip()
        if value:
            body[field] = _range(value) if key in ("cloudcover", "incidenceangle") else value
    return body


def _download_link(links: Any) -> str | None:
    """The ``_links.download`` entry named ``download`` of type ``http`` (one link or a list)."""
    entries = links.get("download") if isinstance(links, Mapping) else None
    for entry in entries if isinstance(entries, list) else [entries]:
        if (
            isinstance(entry, Mapping)
            and str(entry.get("name", "")).lower() == "download"
            and str(entry.get("type", "")).lower() == "http"
            and entry.get("href")
        ):
            return str(entry["href"])
    return None


def parse_feature(
    feature: Mapping[str, Any],
    aoi: BaseGeometry,
    constellation: Constellation,
    *,
    catalogue: str = "oneatlas",
) -> Scene | None:
    """See :func:`_parse_feature`; a wrong shape anywhere in the feature is an ``AnswerShapeError``.

    Raises:
        CatalogueError: as ``_parse_feature``, and ``AnswerShapeError`` for JSON of the wrong shape.
    """
    if not isinstance(feature, Mapping):
        raise AnswerShapeError(f"{catalogue}: a feature is {type(feature).__name__}, not an object")
    props = mapping_at(feature, "properties", where=f"{catalogue}: feature {feature.get('id')}")
    with reading(f"{catalogue}: feature {str(props.get('id') or feature.get('id'))[:120]}"):
        return _parse_feature(feature, aoi, constellation, catalogue=catalogue)


def _parse_feature(
    feature: Mapping[str, Any],
    aoi: BaseGeometry,
    constellation: Constellation,
    *,
    catalogue: str = "oneatlas",
) -> Scene | None:
    """One search feature as a Scene whose footprint is the feature ∩ AOI; None if that is too small.

    Raises:
        CatalogueError: the feature lacks its id, identifier, acquisitionDate or geometry.
    """
    props = feature.get("properties") or {}
    uuid = props.get("id") or feature.get("id")
    identifier = next((props[k] for k in _IDENTIFIER_PROPERTIES if isinstance(props.get(k), str)), None)
    acquired = props.get("acquisitionDate")
    if not uuid or not identifier or not isinstance(acquired, str) or not feature.get("geometry"):
        raise CatalogueError(
            f"{catalogue}: feature {identifier or uuid or '?'}: missing id, identifier "
            f"({'/'.join(_IDENTIFIER_PROPERTIES)}), acquisitionDate or geometry"
        )
    source_id = str(props.get("parentIdentifier") or identifier)
    try:
        date = parse_odata_datetime(acquired)
        whole = shape(feature["geometry"])
        # A point or line AOI has no area: keep the product's footprint if it meets the AOI.
        footprint = (
            whole.intersection(aoi) if aoi.area > 0 else (whole if whole.intersects(aoi) else Polygon())
        )
    except (ValueError, TypeError, KeyError, ShapelyError) as exc:
        raise CatalogueError(
            f"{catalogue}: feature {identifier}: unreadable date or geometry: {exc}"
        ) from exc
    if footprint.is_empty or (aoi.area > 0 and footprint.area < MIN_INTERSECTION_DEG2):
        log.debug("%s: %s meets the AOI on %.2e deg²: skipped", catalogue, identifier, footprint.area)
        return None
    tags = {
        "sourceID": source_id,
        "uuid": str(uuid),
        "ingestionDate": acquired,
        "constellation": str(props.get("constellation") or CONSTELLATION_TAGS[constellation]),
    }
    wanted = {
        "productType": "productType",
        "satellite": "platform",
        "cloudCoverPercentage": "cloudCover",
        "incidenceAngle": "incidenceAngle",
        "processingLevel": "processingLevel",
    }
    tags |= {tag: format_tag_value(props[k]) for tag, k in wanted.items() if props.get(k) is not None}
    metadata: dict[str, Any] = {"uuid": str(uuid), "identifier": identifier, "properties": dict(props)}
    link = _download_link(feature.get("_links"))
    if link:
        metadata["download_link"] = link
    return Scene(
        source_id=source_id,
        date=date,
        constellation=constellation,
        footprint_wkt=str(footprint.wkt),
        tags=tags,
        metadata=metadata,
        catalogue=catalogue,
    )


def deduplicate(scenes: Sequence[Scene]) -> list[Scene]:
    """One scene per (source_id, identifier); of two, the one with a download link is kept."""
    kept: dict[tuple[str, str], Scene] = {}
    for scene in scenes:
        key = (scene.source_id.lower(), str(scene.metadata.get("identifier", "")).lower())
        earlier = kept.get(key)
        if earlier is None:
            kept[key] = scene
        elif "download_link" in scene.metadata and "download_link" not in earlier.metadata:
            kept[key] = scene
        else:
            log.info("oneatlas: %s listed twice; kept once", scene.source_id)
    return list(kept.values())


class OneAtlasSearcher:
    """Pléiades and SPOT products on OneAtlas; also prices them and finds existing orders.

    Args:
        apikey: the OneAtlas API key (``GEOCUBE_INGESTER_ONEATLAS_APIKEY``).
        username: the basic-auth user of the search (``APIKEY`` unless Airbus says otherwise).
        search_url: the OpenSearch endpoint.
        order_url, auth_url: the ordering API root and the token endpoint (see ``OneAtlasOrders``).
        orders: the price/order client; by default one built from ``apikey``, ``order_url``, ``auth_url``.
        client, timeout_s, max_retries, backoff_s: as the CDSE searcher.
    """

    name = "oneatlas"

    def __init__(
        self,
        *,
        apikey: SecretStr | None,
        username: str = "APIKEY",
        search_url: str = DEFAULT_SEARCH_URL,
        order_url: str = DEFAULT_ORDER_URL,
        auth_url: str = DEFAULT_AUTH_URL,
        orders: OneAtlasOrders | None = None,
        client: httpx.Client | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        deadline_s: float | None = None,
        max_bytes: int | None = None,
    ) -> None:
        if apikey is None or not apikey.get_secret_value():
            raise CatalogueError(f"catalogue 'oneatlas' needs {APIKEY_ENV} (the OneAtlas API key)")
        self.username = username
        self.search_url = search_url
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.deadline_s = deadline_s  # of one whole answer (None: GEOCUBE_INGESTER_CATALOGUE_DEADLINE_S)
        self.max_bytes = max_bytes  # cap of one answer (None: GEOCUBE_INGESTER_CATALOGUE_MAX_RESPONSE_MB)
        self._apikey = apikey
        self._client = client
        self.orders = orders or OneAtlasOrders(
            apikey=apikey,
            order_url=order_url,
            auth_url=auth_url,
            client=client,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
            deadline_s=deadline_s,
            max_bytes=max_bytes,
        )

    def __repr__(self) -> str:
        return f"OneAtlasSearcher(search_url={self.search_url!r}, username={self.username!r})"

    def supports(self, constellation: Constellation) -> bool:
        return constellation in CONSTELLATIONS

    def search(self, query: SceneQuery) -> SearchResult:
        """Raises CatalogueTemporaryError (after retries) or CatalogueError."""
        try:
            aoi = shapely.from_wkt(query.aoi_wkt)
        except ShapelyError as exc:
            raise CatalogueError(f"oneatlas: the AOI is not valid WKT: {exc}") from exc
        body = build_body(query, aoi)
        first_row = query.page * query.limit
        wanted = query.limit + 1 if query.limit else None  # one more tells whether the limit cut
        start_page, skip = divmod(first_row, PAGE_SIZE)
        features: list[Mapping[str, Any]] = []
        total = 0
        with open_client(self._client, timeout_s=self.timeout_s) as client:
            while True:
                answer = self._post(client, body | {"startPage": start_page + 1, "itemsPerPage": PAGE_SIZE})
                page, count = answer.get("features"), answer.get("totalResults")
                if not isinstance(page, list) or not isinstance(count, int):
                    raise CatalogueError(
                        f"oneatlas: {redact_url(self.search_url)} answered JSON without "
                        "'features' and 'totalResults'"
                    )
                total = count
                features.extend(page)
                start_page += 1
                read_all = not page or start_page * PAGE_SIZE >= total
                if read_all or (wanted is not None and len(features) - skip >= wanted):
                    break
        rows = features[skip:]
        truncated = (wanted is not None and len(rows) >= wanted) or total >= MAX_TOTAL_RESULTS
        if total >= MAX_TOTAL_RESULTS and wanted is None:
            log.warning("oneatlas: %d results or more: OneAtlas lists no further; narrow the search", total)
        rows = rows[: query.limit or None]
        parsed = [parse_feature(f, aoi, query.constellation, catalogue=self.name) for f in rows]
        scenes = deduplicate([s for s in parsed if s is not None])
        scenes.sort(key=lambda s: s.date)
        log.info(
            "oneatlas: %d %s scene(s) of %d result(s)%s",
            len(scenes),
            query.constellation,
            total,
            " (truncated by page/limit)" if truncated else "",
        )
        if is_price_requested(query.parameters):
            scenes = self.with_orders_and_prices(scenes)
        return SearchResult(scenes=scenes, catalogue=self.name, truncated=truncated, total=total)

    def with_orders_and_prices(self, scenes: Sequence[Scene]) -> list[Scene]:
        """``GetPrice: "true"`` (§2.7): scenes without a download link get the link of a delivered
        existing order, or else the ``estimatedCost``/``amountUnit`` tags of a price estimate."""
        missing = [s for s in scenes if not s.metadata.get("download_link")]
        if not missing:
            return list(scenes)
        orders = self.find_existing_orders(missing)
        updated: dict[str, Scene] = {}
        for scene in missing:
            order = orders.get(str(scene.metadata.get("uuid")))
            if order is not None and order.is_delivered and order.download_link:
                metadata = {**scene.metadata, "download_link": order.download_link}
                updated[scene.source_id] = scene.model_copy(update={"metadata": metadata})
        to_price = [s for s in missing if s.source_id not in updated]
        if to_price:
            updated |= {s.source_id: s for s in self.price_estimate(to_price).scenes}
        return [updated.get(s.source_id, s) for s in scenes]

    def price_estimate(self, scenes: Sequence[Scene]) -> PriceEstimate:
        """See ``OneAtlasOrders.price_estimate``."""
        return self.orders.price_estimate(scenes)

    def find_existing_orders(self, scenes: Sequence[Scene]) -> dict[str, ExistingOrder]:
        """See ``OneAtlasOrders.find_existing_orders``."""
        return self.orders.find_existing_orders(scenes)

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
        # The body is sent whole at every attempt (the original's retries sent an emptied body).
        return retry_temporary(
            lambda: send_json(
                client,
                "POST",
                self.search_url,
                catalogue=self.name,
                timeout_s=self.timeout_s,
                deadline_s=self.deadline_s,
                max_bytes=self.max_bytes,
                json=body,
                auth=(self.username, self._apikey.get_secret_value()),
                credentials_hint=f"{USERNAME_ENV} and {APIKEY_ENV}",
            ),
            max_retries=self.max_retries,
            backoff_s=self.backoff_s,
        )
