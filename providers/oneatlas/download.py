"""OneAtlas downloads: a delivered order's link, or an order placed, paid from the account's credits,
polled until delivered, then downloaded.

For a scene of OneAtlas (Pléiades, SPOT: its ``uuid`` is the catalogue's product id):

1. a ``download_link`` in the scene's metadata (a delivered order's, as the catalogue's ``GetPrice``
   found it, or the feature's own ``_links.download``) is downloaded at once;
2. otherwise the order already placed for its order product is looked for (``/api/v1/orders``): an
   order is never placed twice, also when a download is tried again after a timeout;
3. otherwise it is priced (``/api/v1/prices``) and the account's credits read (``/api/v1/me``): when
   they do not cover the price, nothing is ordered and the error names the cost and the balance;
   else the order is placed (``POST /api/v1/orders``);
4. the order is polled (``/api/v1/orders/<id>``) every ``poll_first_s`` seconds, doubling up to
   ``poll_max_s``, until delivered, for at most ``max_wait_s``: past that the error is temporary and
   the task tries again later (step 2 finds the order). A failed or rejected order is permanent.

The download goes through the download core (``providers.fetch``) with the account's bearer token
(the API key's :class:`providers.tokens.OidcTokens`, shared with the catalogue's price calls), sent
only to OneAtlas' hosts (``*.oneatlas.airbus.com``, the order API's host): a link to anywhere else
is fetched without it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from catalogue.models import Constellation, Scene
from common.errors import PermanentError
from common.settings import Settings
from providers.errors import DownloadError, DownloadTemporaryError, ProductNotFoundError
from providers.fetch import Expected, Fetcher
from providers.oneatlas.orders import ExistingOrder, OneAtlasOrders

log = logging.getLogger(__name__)

CONSTELLATIONS = frozenset({Constellation.PHR, Constellation.SPOT})
ONEATLAS_DOMAIN = ".oneatlas.airbus.com"
# An order of a Living Library image is usually delivered within minutes; past half an hour the task's
# own retries (minutes apart) poll it instead of a worker waiting.
POLL_FIRST_S = 10.0
POLL_MAX_S = 120.0
MAX_WAIT_S = 1800.0


class InsufficientCreditsError(PermanentError):
    """The account's credits do not cover the order: nothing was ordered."""


class OneAtlasDownloader:
    """Downloads OneAtlas products, ordering them when needed (module docstring).

    Args:
        orders: the ordering API client (its token manager is the account's).
        poll_first_s, poll_max_s, max_wait_s: how an order is polled (first wait, longest wait, cap).
        sleep, clock: how to wait and measure the wait (tests).
    """

    name = "oneatlas"

    def __init__(
        self,
        *,
        orders: OneAtlasOrders,
        fetcher: Fetcher | None = None,
        poll_first_s: float = POLL_FIRST_S,
        poll_max_s: float = POLL_MAX_S,
        max_wait_s: float = MAX_WAIT_S,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.orders = orders
        self.fetcher = fetcher or Fetcher(timeout_s=orders.timeout_s)
        self.poll_first_s = poll_first_s
        self.poll_max_s = poll_max_s
        self.max_wait_s = max_wait_s
        self._sleep = sleep
        self._clock = clock
        self.token_hosts = frozenset({urlsplit(orders.order_url).hostname or ""})

    def __repr__(self) -> str:
        return f"OneAtlasDownloader(order_url={self.orders.order_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> OneAtlasDownloader | None:
        """None without an API key (GEOCUBE_INGESTER_ONEATLAS_APIKEY)."""
        apikey = settings.oneatlas_apikey
        if apikey is None or not apikey.get_secret_value():
            return None
        orders = OneAtlasOrders(
            apikey=apikey,
            order_url=settings.oneatlas_order_url,
            auth_url=settings.oneatlas_auth_url,
            timeout_s=settings.http_timeout_s,
        )
        return cls(orders=orders, fetcher=Fetcher.from_settings(settings))

    def download(self, scene: Scene, dest_dir: Path) -> Path:
        uuid = str(scene.metadata.get("uuid") or "")
        if scene.constellation not in CONSTELLATIONS or not uuid:
            raise ProductNotFoundError(
                f"{scene.source_id}: not a OneAtlas product (OneAtlas serves PHR and SPOT scenes found by "
                "the oneatlas catalogue)"
            )
        link = str(scene.metadata.get("download_link") or "") or self._delivered_link(scene, uuid)
        auth = self.orders.tokens.headers if self._is_oneatlas(link) else None
        fetched = self.fetcher.fetch(
            link,
            dest_dir / f"{scene.source_id}.zip",
            what=scene.source_id,
            expected=Expected.of(scene.metadata),
            auth=auth,
            trusted_hosts=self.token_hosts,
        )
        return fetched.path

    def _is_oneatlas(self, link: str) -> bool:
        host = (urlsplit(link).hostname or "").lower()
        return host in self.token_hosts or host.endswith(ONEATLAS_DOMAIN)

    def _delivered_link(self, scene: Scene, uuid: str) -> str:
        """The download link of the scene's order once delivered: found, or placed then polled."""
        order = self.orders.find_existing_orders([scene]).get(uuid.lower())
        if order is None:
            self._check_credits(scene)
            order_id = self.orders.place_order(scene)
            order = self.orders.order_status(order_id, uuid)
        else:
            log.info("%s: order %s already placed (%s)", scene.source_id, order.order_id, order.status)
        return self._poll(scene, order)

    def _check_credits(self, scene: Scene) -> None:
        estimate = self.orders.price_estimate([scene])
        priced = estimate.scenes[0].tags.get("estimatedCost")
        if priced is None:
            raise DownloadError(f"{scene.source_id}: OneAtlas gave no price for it: not ordered")
        cost, unit = estimate.total_cost, estimate.amount_unit
        balance, balance_unit = self.orders.account_balance()
        if unit and balance_unit and unit.lower() != balance_unit.lower():
            raise InsufficientCreditsError(
                f"{scene.source_id}: ordering it costs {cost:g} {unit} but the account's credits are in "
                f"{balance_unit} ({balance:g}): not ordered"
            )
        if balance < cost:
            raise InsufficientCreditsError(
                f"{scene.source_id}: ordering it costs {cost:g} {unit or balance_unit}, the OneAtlas account "
                f"has {balance:g} {balance_unit or unit} left: not ordered; add credits to the contract"
            )
        log.info("%s: ordering it costs %g %s of %g left", scene.source_id, cost, unit, balance)

    def _poll(self, scene: Scene, order: ExistingOrder) -> str:
        started = self._clock()
        wait = self.poll_first_s
        while True:
            if order.is_delivered and order.download_link:
                return order.download_link
            if order.has_failed:
                raise DownloadError(f"{scene.source_id}: OneAtlas order {order.order_id} is {order.status}")
            waited = self._clock() - started
            if waited + wait > self.max_wait_s:
                status = order.status or "pending"
                raise DownloadTemporaryError(
                    f"{scene.source_id}: OneAtlas order {order.order_id} is still {status} "
                    f"after {waited:.0f} s; tried again later (the order is found again, not placed twice)",
                    retry_after_s=self.poll_max_s,
                )
            log.info(
                "%s: order %s is %s; next look in %.0f s", scene.source_id, order.order_id, order.status, wait
            )
            self._sleep(wait)
            wait = min(self.poll_max_s, 2 * wait)
            order = self.orders.order_status(order.order_id, order.uuid)
