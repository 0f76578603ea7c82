"""OneAtlas downloads against a local OneAtlas: a delivered link, an existing order, and an order placed
after a credit check then polled until delivered.

No OneAtlas exchange was ever recorded (PROVENANCE.md, "Not found"): the answers are built by
``tests/support/oneatlas_api.py`` from Airbus' published OneAtlas API documentation (token, search,
prices, orders, ``/me``) and the fields the original ingester decodes; that module names the source of
each field. The product bodies are random bytes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from pydantic import SecretStr

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, Scene
from common.redaction import install_redaction
from common.settings import Settings
from providers.downloaders import build_providers
from providers.errors import DownloadError, DownloadTemporaryError, ProductNotFoundError
from providers.oneatlas.download import InsufficientCreditsError, OneAtlasDownloader
from providers.oneatlas.orders import OneAtlasOrders
from providers.oneatlas.search import parse_feature
from tests.support import oneatlas_api as api
from tests.support.replay import RecordedRequest, ReplayServer, Route

pytestmark = pytest.mark.integration

APIKEY = "test-oneatlas-apikey-51e0"
TOKEN = "tok-oneatlas-8d2c"
AOI = shapely.from_wkt("POLYGON ((1.40 43.55, 1.50 43.55, 1.50 43.62, 1.40 43.62, 1.40 43.55))")
FOOTPRINT = "POLYGON ((1.45 43.50, 1.60 43.50, 1.60 43.70, 1.45 43.70, 1.45 43.50))"
DS = "DS_PHR1B_201704181857160_FR1_PX_E001N43_0720_04750"
UUID = "5e6a8c0b-0e0c-4d7b-a1a1-3f0b7a5d0001"
BODY = os.urandom(300_000)
DOWNLOAD_PATH = "/api/v1/items/delivered/download"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as running:
        running.add(Route("POST", api.AUTH_PATH, body=api.token_answer(TOKEN)))
        running.add(Route("GET", DOWNLOAD_PATH, body=BODY, content_type="application/zip"))
        yield running


def scene(**download: Any) -> Scene:
    feature = api.feature(UUID, DS, FOOTPRINT, **download)
    found = parse_feature(feature, AOI, Constellation.PHR)
    assert found is not None
    return found


def downloader(server: ReplayServer, clock: Clock, **options: Any) -> OneAtlasDownloader:
    orders = OneAtlasOrders(
        apikey=SecretStr(APIKEY),
        order_url=server.url(""),
        auth_url=server.url(api.AUTH_PATH),
        backoff_s=0,
        clock=clock,
    )
    return OneAtlasDownloader(orders=orders, sleep=clock.sleep, clock=clock, **options)


def calls(server: ReplayServer) -> list[str]:
    return [f"{r.method} {r.path}" for r in server.requests]


def bearer_of(request: RecordedRequest) -> str:
    return request.headers.get("authorization", "")


def serve_order_flow(
    server: ReplayServer, product: dict[str, Any], *, price: int, balance: float, statuses: list[str]
) -> None:
    """No order yet; its price and the account's credits; ``POST /orders`` places ``order-1``, whose
    successive reads answer ``statuses`` (the last one delivered with the download link)."""
    server.add(Route("GET", api.ORDERS_PATH, body=api.orders_page([], total=0)))
    server.add(Route("POST", api.PRICES_PATH, body=api.price_answer([product], [price])))
    server.add(Route("GET", api.ME_PATH, body=api.me_answer(balance=balance)))
    server.add(
        Route(
            "POST", api.ORDERS_PATH, status=201, body=api.order_answer("order-1", product, status="ordered")
        )
    )
    for status in statuses:
        link = server.url(DOWNLOAD_PATH) if status == "delivered" else None
        server.add(
            Route(
                "GET",
                api.order_path("order-1"),
                times=1,
                body=api.order_answer("order-1", product, status=status, download_href=link),
            )
        )


def test_a_delivered_link_is_downloaded_with_the_accounts_token(
    server: ReplayServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    install_redaction()
    caplog.set_level(logging.DEBUG)
    delivered = scene(download=api.download_link(server.url(DOWNLOAD_PATH)))
    path = downloader(server, Clock()).download(delivered, tmp_path)
    assert path.read_bytes() == BODY and path.name == f"{DS}.zip"
    assert calls(server) == [f"POST {api.AUTH_PATH}", f"GET {DOWNLOAD_PATH}"]
    assert bearer_of(server.requests[1]) == f"Bearer {TOKEN}"
    assert APIKEY not in caplog.text and TOKEN not in caplog.text


def test_an_order_is_placed_after_the_credit_check_polled_twice_then_downloaded(
    server: ReplayServer, tmp_path: Path
) -> None:
    clock = Clock()
    oneatlas = downloader(server, clock)
    to_order = scene()
    product = oneatlas.orders.order_product(to_order)
    serve_order_flow(server, product, price=120, balance=500, statuses=["ordered", "processing", "delivered"])
    assert oneatlas.download(to_order, tmp_path).read_bytes() == BODY
    assert calls(server) == [
        f"POST {api.AUTH_PATH}",
        f"GET {api.ORDERS_PATH}",  # none placed yet
        f"POST {api.PRICES_PATH}",
        f"GET {api.ME_PATH}",
        f"POST {api.ORDERS_PATH}",
        *[f"GET {api.order_path('order-1')}"] * 3,
        f"GET {DOWNLOAD_PATH}",
    ]
    placed = server.requests[4].json()
    assert placed == {"kind": "order.data.product", "products": [product]}
    assert clock.sleeps == [10.0, 20.0], "polled with backoff"
    assert {bearer_of(r) for r in server.requests[1:]} == {f"Bearer {TOKEN}"}


def test_insufficient_credits_order_nothing_and_say_the_cost_and_the_balance(
    server: ReplayServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    install_redaction()
    caplog.set_level(logging.DEBUG)
    oneatlas = downloader(server, Clock())
    to_order = scene()
    serve_order_flow(server, oneatlas.orders.order_product(to_order), price=150, balance=99.5, statuses=[])
    with pytest.raises(InsufficientCreditsError) as info:
        oneatlas.download(to_order, tmp_path)
    message = str(info.value)
    assert f"{DS}: ordering it costs 150 EUR, the OneAtlas account has 99.5 EUR left: not ordered" in message
    assert f"POST {api.ORDERS_PATH}" not in calls(server)
    assert APIKEY not in message and TOKEN not in caplog.text and APIKEY not in caplog.text


def test_an_order_not_delivered_within_the_cap_is_temporary_and_is_not_placed_twice(
    server: ReplayServer, tmp_path: Path
) -> None:
    clock = Clock()
    oneatlas = downloader(server, clock, max_wait_s=60)
    to_order = scene()
    product = oneatlas.orders.order_product(to_order)
    serve_order_flow(server, product, price=10, balance=100, statuses=["processing"] * 4)
    with pytest.raises(DownloadTemporaryError, match="order order-1 is still processing after 30 s") as info:
        oneatlas.download(to_order, tmp_path)
    assert info.value.retry_after_s == 120
    assert clock.sleeps == [10.0, 20.0]
    # The task tries again: the order is found in the listing, polled, and delivered.
    server.routes = [r for r in server.routes if r.path != api.ORDERS_PATH]
    listed = api.order_item("order-1", [api.delivery(product, status="processing")])
    server.add(Route("GET", api.ORDERS_PATH, body=api.orders_page([listed], total=1)))
    server.add(
        Route(
            "GET",
            api.order_path("order-1"),
            body=api.order_answer(
                "order-1", product, status="delivered", download_href=server.url(DOWNLOAD_PATH)
            ),
        )
    )
    server.requests.clear()
    assert oneatlas.download(to_order, tmp_path).read_bytes() == BODY
    assert f"POST {api.ORDERS_PATH}" not in calls(server) and f"POST {api.PRICES_PATH}" not in calls(server)


def test_a_failed_order_is_permanent(server: ReplayServer, tmp_path: Path) -> None:
    oneatlas = downloader(server, Clock())
    to_order = scene()
    serve_order_flow(
        server,
        oneatlas.orders.order_product(to_order),
        price=10,
        balance=100,
        statuses=["processing", "rejected"],
    )
    with pytest.raises(DownloadError, match="OneAtlas order order-1 is rejected"):
        oneatlas.download(to_order, tmp_path)


def test_a_link_to_another_host_gets_no_token(tmp_path: Path) -> None:
    with ReplayServer() as oneatlas_api, ReplayServer() as elsewhere:
        oneatlas_api.add(Route("POST", api.AUTH_PATH, body=api.token_answer(TOKEN)))
        elsewhere.add(Route("GET", "/ready.zip", body=BODY))
        # Both listen on 127.0.0.1: the token goes to the order API's host and port only.
        oneatlas = downloader(oneatlas_api, Clock())
        oneatlas.token_hosts = frozenset({"localhost"})
        linked = scene(download=api.download_link(elsewhere.url("/ready.zip")))
        assert oneatlas.download(linked, tmp_path).read_bytes() == BODY
        assert "authorization" not in elsewhere.requests[0].headers
        assert oneatlas_api.requests == []


def test_scenes_oneatlas_does_not_serve_go_to_the_next_provider(server: ReplayServer, tmp_path: Path) -> None:
    s2 = scene().model_copy(update={"constellation": Constellation.SENTINEL2})
    with pytest.raises(ProductNotFoundError, match="not a OneAtlas product"):
        downloader(server, Clock()).download(s2, tmp_path)
    assert server.requests == []


def test_oneatlas_is_configured_by_its_api_key() -> None:
    settings = Settings(providers="phr=oneatlas,url")
    assert [p.name for p in build_providers(settings, Constellation.PHR)] == ["url"], "no API key"
    keyed = settings.model_copy(update={"oneatlas_apikey": SecretStr(APIKEY)})
    oneatlas, _ = build_providers(keyed, Constellation.PHR)
    assert isinstance(oneatlas, OneAtlasDownloader)
    assert oneatlas.orders.order_url == "https://data.api.oneatlas.airbus.com"
    assert APIKEY not in repr(oneatlas) and APIKEY not in repr(oneatlas.orders.tokens)


@pytest.mark.parametrize(
    ("path", "answer", "message"),
    [
        (api.ME_PATH, b'{"id": "me", "contract": "none"}', "answered without contract.balance"),
        (api.ME_PATH, b"<html>maintenance</html>", "not JSON"),
        (api.ORDERS_PATH, b'{"status": "ordered"}', "answered without its id"),
    ],
)
def test_answers_of_another_shape_are_typed_errors(
    server: ReplayServer, tmp_path: Path, path: str, answer: bytes, message: str
) -> None:
    oneatlas = downloader(server, Clock())
    to_order = scene()
    method = "POST" if path == api.ORDERS_PATH else "GET"
    server.add(Route(method, path, body=answer, status=201 if method == "POST" else 200))
    serve_order_flow(server, oneatlas.orders.order_product(to_order), price=10, balance=100, statuses=[])
    with pytest.raises(CatalogueError, match=message):
        oneatlas.download(to_order, tmp_path)
