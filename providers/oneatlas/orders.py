"""OneAtlas prices, orders and the account's credits (the ordering API), with the API key's token.

Calls, as documented in the OneAtlas Data guides ("Authentication", "Order an individual product",
"Manage Contract"), with the answers' fields as the original ingester decodes them
(``oneatlas_order_manager.go``):

- ``POST {auth_url}`` form ``apikey=<key>&grant_type=api_key&client_id=IDP`` -> ``{"access_token",
  "expires_in", ...}`` (Keycloak realm ``IDP``): the account's :class:`providers.tokens.OidcTokens`;
- ``POST {order_url}/api/v1/prices`` ``{"kind": "order.data.product", "products": [...]}`` -> the price
  and one delivery per product;
- ``GET {order_url}/api/v1/orders?kind=order.data.product&itemsPerPage=100&page=<n>`` -> the contract's
  orders, each with its deliveries; ``GET {order_url}/api/v1/orders/<id>`` -> one of them;
- ``POST {order_url}/api/v1/orders`` (the body of ``/prices``) -> 201 and the order placed;
- ``GET {order_url}/api/v1/me`` -> the user, with ``contract.balance`` and ``contract.amountUnit``.

The token is asked for when first needed and renewed before it expires (at 90 % of a short life). A
failed authentication leaves no state behind, so the next call authenticates afresh (the original's JWT
transport sent its own refreshes through itself: after a first failure, every refresh failed). A 401 on
an order call renews the token and retries once. The API key and the token never reach a log line or a
message. An order is never placed twice by a retry: ``POST /orders`` is not retried here, and the
downloader looks for the order already placed before placing one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import shapely
from pydantic import SecretStr
from shapely.errors import ShapelyError
from shapely.geometry import shape

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.http import decode_json_object, open_client, retry_temporary, send
from catalogue.models import Scene, format_tag_value
from common.redaction import redact_url
from providers.errors import DownloadTemporaryError
from providers.fetch import DownloadAuthError
from providers.tokens import Account, OidcTokens, tokens_for

log = logging.getLogger(__name__)

DEFAULT_ORDER_URL = "https://data.api.oneatlas.airbus.com"
DEFAULT_AUTH_URL = (
    "https://authenticate.foundation.api.oneatlas.airbus.com/auth/realms/IDP/protocol/openid-connect/token"
)
APIKEY_ENV = "GEOCUBE_INGESTER_ONEATLAS_APIKEY"
ORDER_KIND = "order.data.product"
ORDERS_PAGE_SIZE = 100
CLIENT_ID = "IDP"
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

    @property
    def has_failed(self) -> bool:
        """The statuses the original ingester stops on: the order will never be delivered."""
        return self.status.lower() in ("error", "failed", "rejected", "cancelled", "canceled")


def api_key_account(apikey: SecretStr, auth_url: str = DEFAULT_AUTH_URL) -> Account:
    """The OneAtlas account of an API key, for the token manager (``grant_type=api_key``)."""
    return Account(
        token_url=auth_url,
        client_id=CLIENT_ID,
        username="APIKEY",
        password=apikey,
        settings=APIKEY_ENV,
        grant_type="api_key",
    )


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
        deadline_s: float | None = None,
        max_bytes: int | None = None,
        clock: Callable[[], float] | None = None,
        tokens: OidcTokens | None = None,
    ) -> None:
        """``tokens`` is the account's token manager: by default the worker's one for this API key
        (``providers.tokens.tokens_for``), or one of its own when ``clock`` is given (tests)."""
        self.order_url = order_url.rstrip("/")
        self.radiometric_processing = radiometric_processing
        self.image_format = image_format
        self.crs_code = crs_code
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.deadline_s = deadline_s  # of one whole answer (None: GEOCUBE_INGESTER_CATALOGUE_DEADLINE_S)
        self.max_bytes = max_bytes  # cap of one answer (None: GEOCUBE_INGESTER_CATALOGUE_MAX_RESPONSE_MB)
        account = api_key_account(apikey, auth_url)
        if tokens is None:
            tokens = (
                tokens_for(account, timeout_s=timeout_s)
                if clock is None
                else OidcTokens(account, timeout_s=timeout_s, clock=clock)
            )
        self.tokens = tokens
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

    def account_balance(self) -> tuple[float, str]:
        """(credits left on the user's contract, their unit) from ``GET /api/v1/me``.

        Raises:
            CatalogueError: the answer has no ``contract.balance`` (and as every call).
        """
        body = self._call("GET", "/api/v1/me")
        contract = body.get("contract")
        balance = contract.get("balance") if isinstance(contract, Mapping) else None
        if not isinstance(balance, int | float) or isinstance(balance, bool):
            raise CatalogueError(
                f"oneatlas: {redact_url(self.order_url)}/api/v1/me answered without contract.balance"
            )
        assert isinstance(contract, Mapping)
        return float(balance), str(contract.get("amountUnit") or "")

    def place_order(self, scene: Scene) -> str:
        """Order the scene's order product; the id of the order placed. Never retried here (an order
        placed twice is paid twice): a caller tries again only after looking for it.

        Raises:
            CatalogueError: refused, or an answer without the order's ``id``.
        """
        payload = {"kind": ORDER_KIND, "products": [self.order_product(scene)]}
        body = self._call("POST", "/api/v1/orders", ok=(200, 201), retries=0, json=payload)
        order_id = body.get("id")
        if not isinstance(order_id, str) or not order_id:
            raise CatalogueError(
                f"oneatlas: {redact_url(self.order_url)}/api/v1/orders placed an order "
                "but answered without its id"
            )
        log.info("oneatlas: %s ordered (order %s)", scene.source_id, order_id)
        return order_id

    def order_status(self, order_id: str, uuid: str) -> ExistingOrder:
        """The delivery of product ``uuid`` in order ``order_id`` (``GET /api/v1/orders/<id>``).

        Raises:
            CatalogueError: the order has no delivery of that product (and as every call).
        """
        body = self._call("GET", f"/api/v1/orders/{order_id}")
        deliveries = [d for d in body.get("deliveries") or [] if isinstance(d, Mapping)]
        for delivery in deliveries:
            datas = delivery.get("datas")
            key = str(datas.get("id", "")) if isinstance(datas, Mapping) else ""
            if key.lower() == uuid.lower() or (len(deliveries) == 1 and not key):
                link = (delivery.get("_links") or {}).get("download") or {}
                return ExistingOrder(
                    uuid=uuid,
                    order_id=order_id,
                    status=str(delivery.get("status") or body.get("status") or ""),
                    download_link=link.get("href") if isinstance(link, Mapping) else None,
                )
        raise CatalogueError(f"oneatlas: order {order_id} has no delivery of product {uuid}")

    def _call(
        self,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...] = (200,),
        retries: int | None = None,
        **request: Any,
    ) -> dict[str, Any]:
        url = self.order_url + path

        def attempt(client: httpx.Client) -> dict[str, Any]:
            for renewed in (False, True):
                response = send(
                    client,
                    method,
                    url,
                    catalogue="oneatlas",
                    timeout_s=self.timeout_s,
                    deadline_s=self.deadline_s,
                    max_bytes=self.max_bytes,
                    ok=(*ok, 401),
                    headers=self._bearer(renewed),
                    **request,
                )
                if response.status_code != 401:
                    return decode_json_object(response, catalogue="oneatlas")
                if renewed:  # expired or revoked early: one new token, one more try
                    break
            raise CatalogueError(
                f"oneatlas: {redact_url(url)} refused a fresh token (401); check {APIKEY_ENV}"
            )

        with open_client(self._client, timeout_s=self.timeout_s) as client:
            return retry_temporary(
                lambda: attempt(client),
                max_retries=self.max_retries if retries is None else retries,
                backoff_s=self.backoff_s,
            )

    def _bearer(self, renew: bool) -> dict[str, str]:
        """The token's header, its manager's errors as this catalogue's."""
        try:
            return dict(self.tokens.headers(renew))
        except DownloadAuthError as exc:
            raise CatalogueError(f"oneatlas: {exc}") from None
        except DownloadTemporaryError as exc:
            raise CatalogueTemporaryError(f"oneatlas: {exc}", retry_after_s=exc.retry_after_s) from None
