"""Answers of the Airbus OneAtlas APIs, built for tests: NO recorded OneAtlas exchange exists in the
shared fixtures (PROVENANCE.md, "Not found").

Each shape follows the provider's published material:

- search (``POST /api/v2/opensearch``): the OneAtlas Data guide "Search" and "Pay-per-order: browse
  archives" (a GeoJSON FeatureCollection with ``totalResults``, ``startIndex``, ``itemsPerPage``, each
  feature with ``_links``, ``geometry``, ``properties``), the published search response schema
  (``totalResults`` at most 10 000), and for the property names the sample search answer kept in
  github.com/wildfluss/go-oneatlas (``oneatlas/search.json``: ``acquisitionDate``,
  ``acquisitionIdentifier``, ``parentIdentifier``, ``sourceIdentifier``, ``platform`` "PHR1B",
  ``constellation`` "PHR", ``processingLevel``, ``productType``, ``cloudCover``, ``incidenceAngle``, ...).
  ``_links.download`` (``name`` "Download", ``type`` "HTTP", one link or a list) is as the original
  ingester reads it (``item_struct.go``);
- token (``POST .../auth/realms/IDP/protocol/openid-connect/token``): the "Authentication" guide
  (form ``apikey``, ``grant_type=api_key``, ``client_id=IDP``), a Keycloak token answer;
- prices and orders (``POST /api/v1/prices``, ``GET /api/v1/orders``, ``POST /api/v1/orders``,
  ``GET /api/v1/orders/<id>``): the guide "Order an individual product" for the request, and the fields
  the original ingester decodes (``oneatlas_order_manager.go``) for the answers; an order placed or
  read alone has the shape of one item of the orders listing;
- the user and its contract (``GET /api/v1/me``): the guide "Manage Contract" (``_links``, ``id``,
  ``status``, ``roles``, ``contract``) with the contract fields the original decodes (``balance``,
  ``amountUnit``, ``kind``, ``name``...).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import shapely
from shapely.geometry import mapping

SEARCH_PATH = "/api/v2/opensearch"
AUTH_PATH = "/auth/realms/IDP/protocol/openid-connect/token"
PRICES_PATH = "/api/v1/prices"
ORDERS_PATH = "/api/v1/orders"
ME_PATH = "/api/v1/me"
ITEMS = "https://search.foundation.api.oneatlas.airbus.com/api/v1/items"


def feature(
    uuid: str,
    identifier: str,
    wkt: str,
    *,
    parent: str | None = None,
    acquisition_date: str = "2017-04-18T21:44:25.958Z",
    processing_date: str = "2017-04-18T22:53:46.468Z",
    platform: str = "PHR1B",
    constellation: str = "PHR",
    product_type: str = "bundle",
    download: Any = None,
    **properties: Any,
) -> dict[str, Any]:
    """One search feature; ``download`` is the ``_links.download`` value (a link, a list, or absent)."""
    links: dict[str, Any] = {
        "delete": {"href": f"{ITEMS}/{uuid}", "name": "Delete", "type": "HTTP"},
        "quicklook": {"href": f"{ITEMS}/{uuid}/quicklook", "name": "QuickLook", "type": "HTTP"},
    }
    if download is not None:
        links["download"] = download
    props = {
        "acquisitionDate": acquisition_date,
        "acquisitionIdentifier": identifier,
        "cloudCover": 12.5,
        "constellation": constellation,
        "id": uuid,
        "incidenceAngle": 17.19675515920807,
        "parentIdentifier": parent or identifier,
        "platform": platform,
        "processingDate": processing_date,
        "processingLevel": "SENSOR",
        "productType": product_type,
        "sourceIdentifier": identifier,
        "workspaceName": "public",
    } | properties
    return {
        "_links": links,
        "geometry": dict(mapping(shapely.from_wkt(wkt))),
        "properties": props,
        "rights": {},
        "type": "Feature",
    }


def download_link(href: str, *, name: str = "Download", kind: str = "HTTP") -> dict[str, str]:
    return {"href": href, "name": name, "type": kind}


def search_page(features: Sequence[dict[str, Any]], *, total: int, start_page: int, per_page: int) -> bytes:
    body = {
        "type": "FeatureCollection",
        "features": list(features),
        "error": False,
        "totalResults": total,
        "startIndex": (start_page - 1) * per_page,
        "itemsPerPage": per_page,
    }
    return json.dumps(body).encode()


def token_answer(token: str, *, expires_in: int = 3600) -> bytes:
    return json.dumps(
        {
            "access_token": token,
            "expires_in": expires_in,
            "refresh_expires_in": 0,
            "token_type": "bearer",
            "not-before-policy": 0,
            "scope": "profile email",
        }
    ).encode()


def price_answer(products: Sequence[dict[str, Any]], amounts: Sequence[int], *, unit: str = "EUR") -> bytes:
    deliveries = [
        {
            "datas": {
                k: p[k]
                for k in ("aoi", "productType", "radiometricProcessing", "imageFormat", "crsCode", "id")
            },
            "id": p["id"],
            "amount": amount,
            "amountUnit": unit,
            "isAmountEstimated": "false",
            "areaKm2": 12.3,
        }
        for p, amount in zip(products, amounts, strict=True)
    ]
    return json.dumps(
        {
            "payload": {"kind": "order.data.product", "products": list(products)},
            "deliveries": deliveries,
            "price": {
                "amount": sum(amounts),
                "amountUnit": unit,
                "isAmountEstimated": "false",
                "areaKm2": 24.6,
            },
            "feasibility": "ok",
            "orderable": "ok",
        }
    ).encode()


def delivery(product: dict[str, Any], *, status: str, download_href: str | None = None) -> dict[str, Any]:
    links = {"download": {"href": download_href}} if download_href else {}
    return {
        "_links": links,
        "id": f"delivery-{product['id']}",
        "kind": "order.data.product",
        "status": status,
        "amount": 100,
        "amountUnit": "EUR",
        "datas": dict(product) | {"sourceId": "DS_PHR1B_x"},
    }


def orders_page(items: Sequence[dict[str, Any]], *, total: int, per_page: int = 100) -> bytes:
    return json.dumps(
        {
            "startIndex": 0,
            "totalResults": total,
            "countLimitReached": False,
            "itemsPerPage": per_page,
            "items": list(items),
        }
    ).encode()


def order_item(order_id: str, deliveries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": order_id,
        "kind": "order.data.product",
        "status": "delivered",
        "deliveries": list(deliveries),
    }


def order_path(order_id: str) -> str:
    return f"{ORDERS_PATH}/{order_id}"


def order_answer(
    order_id: str, product: dict[str, Any], *, status: str, download_href: str | None = None
) -> bytes:
    """One order (placed, or read by id) with the delivery of ``product``."""
    item = order_item(order_id, [delivery(product, status=status, download_href=download_href)])
    return json.dumps(item | {"status": status, "contractId": "contract-1"}).encode()


def me_answer(*, balance: float, unit: str = "EUR") -> bytes:
    return json.dumps(
        {
            "_links": {
                "self": {"href": "https://data.api.oneatlas.airbus.com/api/v1/me"},
                "licenses": {"href": "https://data.api.oneatlas.airbus.com/api/v1/licenseAgreements"},
            },
            "id": "bf3d937a-e846-446a-e5b6-0a26227b0000",
            "status": "active",
            "roles": ["order_data"],
            "contract": {
                "_links": {
                    "self": {"href": "https://data.api.oneatlas.airbus.com/api/v1/contracts/contract-1"}
                },
                "id": "contract-1",
                "status": "active",
                "offers": [],
                "amountUnit": unit,
                "kind": "living-library",
                "name": "test contract",
                "balance": balance,
                "workspaceId": "workspace-1",
            },
        }
    ).encode()
