"""OneAtlas prices and existing orders (the ordering API), behind a JWT got from the API key.

Calls, as documented in the OneAtlas Data guides ("Authentication", "Order an individual product"):

- ``POST {auth_url}`` form ``apikey=<key>&grant_type=api_key&client_id=IDP`` -> ``{"access_token",
  "expires_in", ...}`` (Keycloak realm ``IDP``);
- ``POST {order_url}/api/v1/prices`` ``{"kind": "order.data.product", "products": [...]}`` -> the price
  and one delivery per product;
- ``GET {order_url}/api/v1/orders?kind=order.data.product&itemsPerPage=100&page=<n>`` -> the contract's
  orders, each with its deliveries.

The token is asked for when first needed and again at 90 % of its life. A failed authentication leaves
no state behind, so the next call authenticates afresh (the original's JWT transport sent its own
refreshes through itself: after a first failure, every refresh failed). A 401 on an order call drops the
token and retries once with a new one. The API key and the token never reach a log line or a message.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import shapely
from pydantic import SecretStr
from shapely.errors import ShapelyError
from shapely.geometry import shape

from catalogue.errors import CatalogueError
from catalogue.http import decode_json_object, open_client, retry_temporary, send
from catalogue.models import Scene, format_tag_value
from common.redaction import redact_url

log = logging.getLogger(__name__)

DEFAULT_ORDER_URL = "https://data.api.oneatlas.airbus.com"
DEFAULT_AUTH_URL = (
    "https://authenticate.foundation.api.oneatlas.airbus.com/auth/realms/IDP/protocol/openid-connect/token"
)
APIKEY_ENV = "GEOCUBE_INGESTER_ONEATLAS_APIKEY"
ORDER_KIND = "order.data.product"
ORDERS_PAGE_SIZE = 100
# The token is renewed when this share of its life has passed (as the original's transport).
REFRESH_AT = 0.9
COST_TAG = "estimatedCost"
UNIT_TAG = "amountUnit"


@dataclass(frozen=True)
class PriceEstimate:
    """What ordering the scenes without a download link would cost.

    ``scenes`` are copies of the scenes asked about, the priced ones tagged ``estimatedCost`` and
    ``amountUnit``; ``total_cost`` is their sum (the original's ``globalEstimatedCost``).
    """

    scenes: list[Scene]
    total_cost: float
    amount_unit: str


@dataclass(frozen=True)
class ExistingOrder:
    """An order delivery that matches a scene's order product; ``download_link`` once delivered."""

    uuid: str
    order_id: str
    status: str
    download_link: str | None

    @property
    def is_delivered(self) -> bool:
        return self.status.lower() == "delivered"


class JwtToken:
    """The bearer token of the ordering API, got from the API key and renewed before it expires."""

    def __init__(
        self,
        *,
        apikey: SecretStr,
        auth_url: str = DEFAULT_AUTH_URL,
        client_id: str = "IDP",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.auth_url = auth_url
        self.client_id = client_id
        self._apikey = apikey
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0

    def __repr__(self) -> str:
        return f"JwtToken(auth_url={self.auth_url!r}, valid={self._token is not None})"

    def invalidate(self) -> None:
        self._token = None

    def bearer(self, client: httpx.Client, *, timeout_s: float) -> str:
        """A valid access token, authenticating first if there is none or it is due for renewal.

        Raises:
            CatalogueError: the API key was refused, or the answer has no token.
            CatalogueTemporaryError: the identity service is unreachable or failing.
        """
        if self._token is None or self._clock() >= self._renew_at:
            self._token = None  # a failure below leaves nothing half-valid behind
            token, expires_in_s = self._authenticate(client, timeout_s)
            self._token, self._renew_at = token, self._clock() + REFRESH_AT * expires_in_s
        return self._token

    def _authenticate(self, client: httpx.Client, timeout_s: float) -> tuple[str, float]:
        form = {
            "apikey": self._apikey.get_secret_value(),
            "grant_type": "api_key",
            "client_id": self.client_id,
        }
        shown = redact_url(self.auth_url)
        # Plain request (no bearer): the auth call never goes through the token it is getting.
        response = send(
            client,
            "POST",
            self.auth_url,
            catalogue="oneatlas",
            timeout_s=timeout_s,
            ok=(200, 400, 401, 403),
            data=form,
        )
        if response.status_code != 200:
            raise CatalogueError(
                f"oneatlas: {shown} refused the API key ({response.status_code}); check {APIKEY_ENV}"
            )
        body = decode_json_object(response, catalogue="oneatlas")
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
            raise CatalogueError(f"oneatlas: {shown} answered without access_token and expires_in")
        log.debug("oneatlas: authenticated at %s for %.0f s", shown, expires_in)
        return token, float(expires_in)


def _aoi_of(scene: Scene) -> dict[str, Any]:
    """The scene's footprint as a GeoJSON object (lists, as it goes over the wire)."""
    try:
        return dict(json.loads(shapely.to_geojson(shapely.from_wkt(scene.footprint_wkt))))
    except ShapelyError as exc:
        raise CatalogueError(f"oneatlas: scene {scene.source_id}: unreadable footprint: {exc}") from exc


def is_same_aoi(left: Any, right: Any) -> bool:
    """Whether two GeoJSON AOIs cover the same area (ring start and orientation do not matter)."""
    try:
        return bool(shape(left).equals(shape(right)))
    except (ShapelyError, TypeError, KeyError, ValueError, AttributeError):
        return False


class OneAtlasOrders:
    """Prices of order products, and the orders already placed for them.

    Args:
        apikey: the OneAtlas API key (``GEOCUBE_INGESTER_ONEATLAS_APIKEY``).
        order_url, auth_url: the ordering API root and the token endpoint.
        radiometric_processing, image_format, crs_code: the order options (the original's defaults).
        client, timeout_s, max_retries, backoff_s: as the CDSE searcher.
    """

    def __init__(
        self,
        *,
        apikey: SecretStr,
        order_url: str = DEFAULT_ORDER_URL,
        auth_url: str = DEFAULT_AUTH_URL,
        radiometric_processing: str = "BASIC16",
        image_format: str = "image/geotiff",
        crs_code: str = "urn:ogc:def:crs:EPSG::4326",
        client: httpx.Client | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.order_url = order_url.rstrip("/")
        self.radiometric_processing = radiometric_processing
        self.image_format = image_format
        self.crs_code = crs_code
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.token = JwtToken(apikey=apikey, auth_url=auth_url, clock=clock)
        self._client = client

    def __repr__(self) -> str:
        return f"OneAtlasOrders(order_url={self.order_url!r})"

    def order_product(self, scene: Scene) -> dict[str, Any]:
        """The order product of a scene: its footprint (already cut by the AOI) in the original's options."""
        return {
            "crsCode": self.crs_code,
            "productType": scene.tags.get("productType", ""),
            "radiometricProcessing": self.radiometric_processing,
            "aoi": _aoi_of(scene),
            "id": str(scene.metadata.get("uuid", "")),
            "imageFormat": self.image_format,
        }

    def price_estimate(self, scenes: Sequence[Scene]) -> PriceEstimate:
        """Prices the scenes that have no download link (they need an order): one ``/prices`` call.

        A delivery is matched to its scene by ``datas.id`` (the product id sent), else by its own ``id``.
        """
        copies = [s.model_copy(deep=True) for s in scenes]
        to_order = [s for s in copies if not s.metadata.get("download_link")]
        if not to_order:
            return PriceEstimate(scenes=copies, total_cost=0.0, amount_unit="")
        payload = {"kind": ORDER_KIND, "products": [self.order_product(s) for s in to_order]}
        body = self._call("POST", "/api/v1/prices", json=payload)
        price: Mapping[str, Any] = body["price"] if isinstance(body.get("price"), Mapping) else {}
        by_id: dict[str, Mapping[str, Any]] = {}
        for delivery in body.get("deliveries") or []:
            datas = delivery.get("datas")
            key = (datas.get("id") if isinstance(datas, Mapping) else None) or delivery.get("id")
            if key:
                by_id[str(key).lower()] = delivery
        total = 0.0
        unit = str(price.get("amountUnit") or "")
        for scene in to_order:
            delivery = by_id.get(str(scene.metadata.get("uuid", "")).lower())
            if delivery is None or not isinstance(delivery.get("amount"), int | float):
                log.warning("oneatlas: no price for %s in the /prices answer", scene.source_id)
                continue
            total += float(delivery["amount"])
            scene.tags[COST_TAG] = format_tag_value(delivery["amount"])
            scene.tags[UNIT_TAG] = str(delivery.get("amountUnit") or unit)
            unit = unit or scene.tags[UNIT_TAG]
        return PriceEstimate(scenes=copies, total_cost=total, amount_unit=unit)

    def find_existing_orders(self, scenes: Sequence[Scene]) -> dict[str, ExistingOrder]:
        """The orders already placed for the scenes' order products, by scene uuid.

        A delivery matches a product when its ``datas`` has the same id, CRS, product type and
        radiometric processing (case-insensitive) and an AOI covering the same area. Every page of
        ``/api/v1/orders`` is read.
        """
        products = {p["id"].lower(): p for p in (self.order_product(s) for s in scenes) if p["id"]}
        found: dict[str, ExistingOrder] = {}
        page = 1
        while products:
            body = self._call(
                "GET",
                "/api/v1/orders",
                params={"kind": ORDER_KIND, "itemsPerPage": ORDERS_PAGE_SIZE, "page": page},
            )
            items = body.get("items") or []
            for item in items:
                for delivery in item.get("deliveries") or []:
                    match = self._match(delivery, products)
                    if match is not None:
                        found[match] = ExistingOrder(
                            uuid=match,
                            order_id=str(item.get("id", "")),
                            status=str(delivery.get("status", "")),
                            download_link=((delivery.get("_links") or {}).get("download") or {}).get("href"),
                        )
            total = body.get("totalResults")
            if not items or not isinstance(total, int) or page * ORDERS_PAGE_SIZE >= total:
                break
            page += 1
        log.info("oneatlas: %d of %d order product(s) already ordered", len(found), len(products))
        return found

    def _match(self, delivery: Mapping[str, Any], products: Mapping[str, dict[str, Any]]) -> str | None:
        datas = delivery.get("datas")
        if not isinstance(datas, Mapping):
            return None
        key = str(datas.get("id", "")).lower()
        product = products.get(key)
        if product is None:
            return None
        same = all(
            str(datas.get(f, "")).lower() == str(product[f]).lower()
            for f in ("crsCode", "productType", "radiometricProcessing")
        )
        return key if same and is_same_aoi(datas.get("aoi"), product["aoi"]) else None

    def _call(self, method: str, path: str, **request: Any) -> dict[str, Any]:
        url = self.order_url + path

        def attempt(client: httpx.Client) -> dict[str, Any]:
            for renewed in (False, True):
                headers = {"Authorization": f"Bearer {self.token.bearer(client, timeout_s=self.timeout_s)}"}
                response = send(
                    client,
                    method,
                    url,
                    catalogue="oneatlas",
                    timeout_s=self.timeout_s,
                    ok=(200, 401),
                    headers=headers,
                    **request,
                )
                if response.status_code == 200:
                    return decode_json_object(response, catalogue="oneatlas")
                self.token.invalidate()  # expired or revoked early: one new token, one more try
                if renewed:
                    break
            raise CatalogueError(
                f"oneatlas: {redact_url(url)} refused a fresh token (401); check {APIKEY_ENV}"
            )

        with open_client(self._client, timeout_s=self.timeout_s) as client:
            return retry_temporary(
                lambda: attempt(client), max_retries=self.max_retries, backoff_s=self.backoff_s
            )
