"""OneAtlas search, prices and orders against the replay server.

No OneAtlas exchange was ever recorded (PROVENANCE.md, "Not found"): the answers served here are built by
``tests/support/oneatlas_api.py`` from Airbus' published OneAtlas API documentation (search, token,
prices, orders) and a published sample search answer; that module names the source of each field.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest
from pydantic import SecretStr

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.models import Constellation, Scene, SceneQuery
from providers.oneatlas.orders import OneAtlasOrders
from providers.oneatlas.search import OneAtlasSearcher
from tests.support import oneatlas_api as api
from tests.support.replay import RecordedRequest, ReplayServer, Route, query_has

pytestmark = pytest.mark.integration

APIKEY = "test-oneatlas-apikey-7c1d"
AOI = "POLYGON ((1.40 43.55, 1.50 43.55, 1.50 43.62, 1.40 43.62, 1.40 43.55))"
FOOTPRINT = "POLYGON ((1.45 43.50, 1.60 43.50, 1.60 43.70, 1.45 43.70, 1.45 43.50))"
QUERY = SceneQuery(
    aoi_wkt=AOI,
    start=datetime(2017, 4, 1, tzinfo=UTC),
    end=datetime(2017, 5, 1, tzinfo=UTC),
    constellation=Constellation.PHR,
    parameters={"processingLevel": "SENSOR", "cloudCover": "[0 TO 30]"},
)


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ds(i: int) -> str:
    return f"DS_PHR1A_2017041{i % 10}1857{i:04d}_FR1_PX_E001N43_0720_{i:05d}"


def features(first: int, count: int, **options: Any) -> list[dict[str, Any]]:
    return [api.feature(f"uuid-{i}", ds(i), FOOTPRINT, **options) for i in range(first, first + count)]


def on_page(page: int) -> Callable[[RecordedRequest], bool]:
    return lambda request: json.loads(request.body)["startPage"] == page


def bearer(token: str) -> Callable[[RecordedRequest], bool]:
    return lambda request: request.headers.get("authorization") == f"Bearer {token}"


def search_routes(total: int) -> list[Route]:
    """``total`` results in pages of 200, as the service pages them."""
    pages = range(1, (total + 199) // 200 + 1)
    return [
        Route(
            "POST",
            api.SEARCH_PATH,
            body=api.search_page(
                features(200 * (p - 1), min(200, total - 200 * (p - 1))),
                total=total,
                start_page=p,
                per_page=200,
            ),
            when=on_page(p),
        )
        for p in pages
    ]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as running:
        yield running


def searcher(server: ReplayServer, clock: Clock, **options: Any) -> OneAtlasSearcher:
    orders = OneAtlasOrders(
        apikey=SecretStr(APIKEY),
        order_url=server.url(""),
        auth_url=server.url(api.AUTH_PATH),
        backoff_s=0,
        clock=clock,
        **options,
    )
    return OneAtlasSearcher(
        apikey=SecretStr(APIKEY),
        search_url=server.url(api.SEARCH_PATH),
        orders=orders,
        backoff_s=0,
        **options,
    )


def sent_json(request: RecordedRequest) -> dict[str, Any]:
    return dict(json.loads(request.body))


def test_every_page_is_read_with_basic_auth(server: ReplayServer, clock: Clock) -> None:
    for route in search_routes(450):
        server.add(route)
    result = searcher(server, clock).search(QUERY)
    assert (len(result.scenes), result.total, result.truncated, result.catalogue) == (
        450,
        450,
        False,
        "oneatlas",
    )
    bodies = [sent_json(r) for r in server.requests]
    assert [(b.pop("startPage"), b.pop("itemsPerPage")) for b in bodies] == [(1, 200), (2, 200), (3, 200)]
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["acquisitionDate"] == "[2017-04-01T00:00:00.000Z,2017-05-01T00:00:00.000Z]"
    assert (bodies[0]["cloudCover"], bodies[0]["processingLevel"]) == ("[0,30]", "SENSOR")
    expected = "Basic " + base64.b64encode(f"APIKEY:{APIKEY}".encode()).decode()
    assert {r.headers["authorization"] for r in server.requests} == {expected}


def test_page_and_limit_select_rows_across_pages(server: ReplayServer, clock: Clock) -> None:
    for route in search_routes(450):
        server.add(route)
    result = searcher(server, clock).search(QUERY.model_copy(update={"page": 1, "limit": 150}))
    assert [json.loads(r.body)["startPage"] for r in server.requests] == [1, 2]
    assert sorted(s.metadata["uuid"] for s in result.scenes) == sorted(f"uuid-{i}" for i in range(150, 300))
    assert result.truncated is True


def test_a_503_is_retried_with_the_whole_body(server: ReplayServer, clock: Clock) -> None:
    server.add(Route("POST", api.SEARCH_PATH, status=503, body=b"busy", times=1))
    for route in search_routes(3):
        server.add(route)
    result = searcher(server, clock).search(QUERY)
    first, second = server.requests
    assert first.body == second.body and sent_json(second)["geometry"]["type"] == "Polygon"
    assert len(result.scenes) == 3


def test_a_refused_api_key_names_the_settings(
    server: ReplayServer, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    server.add(Route("POST", api.SEARCH_PATH, status=401, body=b'{"error": "unauthorized"}'))
    with caplog.at_level(logging.DEBUG), pytest.raises(CatalogueError) as caught:
        searcher(server, clock).search(QUERY)
    message = str(caught.value)
    assert "refused the credentials (401)" in message
    assert "GEOCUBE_INGESTER_ONEATLAS_USERNAME and GEOCUBE_INGESTER_ONEATLAS_APIKEY" in message
    assert APIKEY not in message and APIKEY not in caplog.text


def scenes_to_price(server: ReplayServer, clock: Clock) -> list[Scene]:
    """Three scenes: two to order, one already downloadable."""
    found = [
        *features(0, 2),
        api.feature("uuid-ready", ds(9), FOOTPRINT, download=api.download_link("https://x/ready.zip")),
    ]
    route = server.add(
        Route("POST", api.SEARCH_PATH, body=api.search_page(found, total=3, start_page=1, per_page=200))
    )
    scenes = searcher(server, clock).search(QUERY).scenes
    server.routes.remove(route)
    server.requests.clear()
    return scenes


def test_price_estimate(server: ReplayServer, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    scenes = scenes_to_price(server, clock)
    to_order = [s for s in scenes if "download_link" not in s.metadata]
    products = [searcher(server, clock).orders.order_product(s) for s in to_order]
    server.add(Route("POST", api.AUTH_PATH, body=api.token_answer("tok-1")))
    server.add(
        Route("POST", api.PRICES_PATH, body=api.price_answer(products, [120, 80]), when=bearer("tok-1"))
    )
    with caplog.at_level(logging.DEBUG):
        estimate = searcher(server, clock).price_estimate(scenes)
    auth, prices = server.requests
    assert parse_qs(auth.body.decode()) == {
        "apikey": [APIKEY],
        "grant_type": ["api_key"],
        "client_id": ["IDP"],
    }
    assert "authorization" not in auth.headers  # the token call never carries a token
    assert sent_json(prices) == {"kind": "order.data.product", "products": products}
    assert (estimate.total_cost, estimate.amount_unit) == (200.0, "EUR")
    costs = {
        s.metadata["uuid"]: (s.tags.get("estimatedCost"), s.tags.get("amountUnit")) for s in estimate.scenes
    }
    assert costs == {"uuid-0": ("120", "EUR"), "uuid-1": ("80", "EUR"), "uuid-ready": (None, None)}
    assert all("estimatedCost" not in s.tags for s in scenes)  # the caller's scenes are left as they were
    assert APIKEY not in caplog.text and "tok-1" not in caplog.text


def test_existing_orders_are_found_on_every_page(server: ReplayServer, clock: Clock) -> None:
    scenes = scenes_to_price(server, clock)
    orders = searcher(server, clock).orders
    first, second = (orders.order_product(s) for s in scenes if s.metadata["uuid"] in ("uuid-0", "uuid-1"))
    ring = first["aoi"]["coordinates"][0]
    turned = first | {"aoi": {"type": "Polygon", "coordinates": [list(reversed(ring))]}}
    other_processing = second | {"radiometricProcessing": "DISPLAY"}
    page_1 = [
        api.order_item(
            "order-a", [api.delivery(turned, status="delivered", download_href="https://x/a.zip")]
        ),
        api.order_item("order-x", [api.delivery(other_processing, status="delivered")]),
    ]
    page_2 = [api.order_item("order-b", [api.delivery(second, status="inProgress")])]
    server.add(Route("POST", api.AUTH_PATH, body=api.token_answer("tok-1")))
    server.add(
        Route("GET", api.ORDERS_PATH, body=api.orders_page(page_1, total=101), when=query_has({"page": "1"}))
    )
    server.add(
        Route("GET", api.ORDERS_PATH, body=api.orders_page(page_2, total=101), when=query_has({"page": "2"}))
    )
    found = orders.find_existing_orders(scenes)
    listed = [r for r in server.requests if r.path == api.ORDERS_PATH]
    assert [{k: v[0] for k, v in r.query.items()} for r in listed] == [
        {"kind": "order.data.product", "itemsPerPage": "100", "page": "1"},
        {"kind": "order.data.product", "itemsPerPage": "100", "page": "2"},
    ]
    assert {u: (o.order_id, o.status, o.download_link, o.is_delivered) for u, o in found.items()} == {
        "uuid-0": ("order-a", "delivered", "https://x/a.zip", True),
        "uuid-1": ("order-b", "inProgress", None, False),
    }


def test_the_token_is_renewed_at_ninety_percent_of_its_life(server: ReplayServer, clock: Clock) -> None:
    server.add(Route("POST", api.AUTH_PATH, body=api.token_answer("tok-1", expires_in=100), times=1))
    server.add(Route("POST", api.AUTH_PATH, body=api.token_answer("tok-2", expires_in=100), times=1))
    server.add(Route("GET", api.ORDERS_PATH, body=api.orders_page([], total=0)))
    orders = searcher(server, clock).orders
    scene = scenes_to_price(server, clock)[0]
    for elapsed_s in (0, 50, 89, 91, 150):
        clock.now = 1000.0 + elapsed_s
        orders.find_existing_orders([scene])
    tokens = [r.headers["authorization"] for r in server.requests if r.path == api.ORDERS_PATH]
    assert tokens == ["Bearer tok-1"] * 3 + ["Bearer tok-2"] * 2
    assert [r.path for r in server.requests].count(api.AUTH_PATH) == 2


def test_a_first_refused_authentication_is_recoverable(server: ReplayServer, clock: Clock) -> None:
    server.add(Route("POST", api.AUTH_PATH, status=401, body=b'{"error": "invalid_grant"}', times=1))
    server.add(Route("POST", api.AUTH_PATH, body=api.token_answer("tok-1")))
    server.add(Route("GET", api.ORDERS_PATH, body=api.orders_page([], total=0), when=bearer("tok-1")))
    orders = searcher(server, clock).orders
    scene = scenes_to_price(server, clock)[0]
    with pytest.raises(
        CatalogueError,
        match=r"refused the API key \(401 invalid_grant\); check GEOCUBE_INGESTER_ONEATLAS_APIKEY",
    ):
        orders.find_existing_orders([scene])
    assert orders.find_existing_orders([scene]) == {}


def test_a_first_failing_identity_service_is_recoverable(server: ReplayServer, clock: Clock) -> None:
    server.add(Route("POST", api.AUTH_PATH, status=503, body=b"down", times=1))
    server.add(Route("POST", api.AUTH_PATH, body=api.token_answer("tok-1")))
    server.add(Route("GET", api.ORDERS_PATH, body=api.orders_page([], total=0), when=bearer("tok-1")))
    orders = searcher(server, clock, max_retries=0).orders
    scene = scenes_to_price(server, clock)[0]
    with pytest.raises(CatalogueTemporaryError, match="answered 503"):
        orders.find_existing_orders([scene])
    assert orders.find_existing_orders([scene]) == {}


def test_a_token_refused_early_is_renewed_once(server: ReplayServer, clock: Clock) -> None:
    server.add(Route("POST", api.AUTH_PATH, body=api.token_answer("tok-1"), times=1))
    server.add(Route("POST", api.AUTH_PATH, body=api.token_answer("tok-2"), times=1))
    server.add(Route("GET", api.ORDERS_PATH, status=401, body=b"expired", when=bearer("tok-1")))
    server.add(Route("GET", api.ORDERS_PATH, body=api.orders_page([], total=0), when=bearer("tok-2")))
    orders = searcher(server, clock).orders
    scene = scenes_to_price(server, clock)[0]
    assert orders.find_existing_orders([scene]) == {}
    assert [r.path for r in server.requests] == [
        api.AUTH_PATH,
        api.ORDERS_PATH,
        api.AUTH_PATH,
        api.ORDERS_PATH,
    ]


def test_nothing_to_order_asks_nothing(server: ReplayServer, clock: Clock) -> None:
    ready = [s for s in scenes_to_price(server, clock) if "download_link" in s.metadata]
    estimate = searcher(server, clock).price_estimate(ready)
    assert (estimate.total_cost, estimate.amount_unit, server.requests) == (0.0, "", [])


def test_an_unreachable_service_is_temporary_and_carries_no_request(clock: Clock) -> None:
    with ReplayServer() as stopped:
        pass  # stopped on exit: its port now refuses connections
    with pytest.raises(CatalogueTemporaryError, match="ConnectError") as caught:
        searcher(stopped, clock, max_retries=0).search(QUERY)
    # httpx's error holds the request and its Authorization header: it is not chained.
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_get_price_links_delivered_orders_and_prices_the_rest(server: ReplayServer, clock: Clock) -> None:
    scenes = scenes_to_price(server, clock)
    orders = searcher(server, clock).orders
    first, second = (orders.order_product(s) for s in scenes if s.metadata["uuid"] in ("uuid-0", "uuid-1"))
    delivered = [
        api.order_item("order-a", [api.delivery(first, status="delivered", download_href="https://x/a.zip")])
    ]
    server.add(Route("POST", api.AUTH_PATH, body=api.token_answer("tok-1")))
    server.add(Route("GET", api.ORDERS_PATH, body=api.orders_page(delivered, total=1)))
    server.add(Route("POST", api.PRICES_PATH, body=api.price_answer([second], [80]), when=bearer("tok-1")))
    server.add(
        Route(
            "POST",
            api.SEARCH_PATH,
            body=api.search_page(
                [
                    *features(0, 2),
                    api.feature(
                        "uuid-ready", ds(9), FOOTPRINT, download=api.download_link("https://x/ready.zip")
                    ),
                ],
                total=3,
                start_page=1,
                per_page=200,
            ),
        )
    )
    query = QUERY.model_copy(update={"parameters": {**QUERY.parameters, "GetPrice": "true"}})
    result = searcher(server, clock).search(query)
    by_uuid = {s.metadata["uuid"]: s for s in result.scenes}
    assert by_uuid["uuid-0"].metadata["download_link"] == "https://x/a.zip"
    assert "estimatedCost" not in by_uuid["uuid-0"].tags
    assert (by_uuid["uuid-1"].tags["estimatedCost"], by_uuid["uuid-1"].tags["amountUnit"]) == ("80", "EUR")
    assert by_uuid["uuid-ready"].metadata["download_link"] == "https://x/ready.zip"
    priced = [json.loads(r.body) for r in server.requests if r.path == api.PRICES_PATH]
    assert priced == [{"kind": "order.data.product", "products": [second]}]
