"""DHuS downloads (Sentinels Data Hub Software mirrors): a product by its uuid, with HTTP Basic auth.

The calls are those sentinelsat makes (its recorded ``test_download_single`` cassette, shared fixtures
``dhus/``), all under the hub root ``GEOCUBE_INGESTER_DHUS_URL`` (e.g. ``https://<mirror>/dhus/``):

- ``GET odata/v1/Products('<uuid>')?$format=json`` -> ``{"d": {..., "ContentLength": "599540",
  "Online": true, "Checksum": {"Algorithm": "MD5", "Value": "1495b98f..."}}}`` (OData v2);
- ``GET odata/v1/Products('<uuid>')/$value`` -> the zip, with ``Accept-Ranges: bytes`` and the MD5 as
  ``ETag``. It goes through the download core (``providers.fetch``): resumed with ``Range`` after a
  cut, checked against ``ContentLength`` and the MD5 while it streams.

The uuid is the one the dhus catalogue puts in ``Scene.metadata["uuid"]`` (the OpenSearch entry's
``id``, as sentinelsat maps it: ``providers.dhus.parse_product``); a scene another catalogue found has
no DHuS uuid and is the next provider's. A product kept in the hub's Long Term Archive
(``Online: false``) is not served at once: a GET of its ``$value`` asks the hub to restore it, which it
acknowledges with **202 Accepted** (sentinelsat's ``trigger_offline_retrieval``; 403 when the user's
quota of restorations is used up, 503 when the archive refuses requests). The 202 is a temporary
error: the next provider is tried, and the download task tries again later, once the hub has it
online. The password never reaches a log line or a message.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from catalogue.http import Watchdog, transport_text
from catalogue.models import Scene
from common.http import HttpOutcome, classify_status
from common.redaction import redact_url
from common.settings import Settings
from providers.cdse.download import ProductOfflineError
from providers.dhus import PASSWORD_ENV, USER_ENV
from providers.errors import (
    DownloadError,
    DownloadTemporaryError,
    ProductNotFoundError,
    raise_for_download_status,
)
from providers.fetch import DownloadAuthError, Expected, Fetcher
from providers.tokens import account_limit_name, account_slot

log = logging.getLogger(__name__)

# DHuS hubs allow a user few downloads at once (SciHub: 2); more are refused with 429.
CONNECTIONS = 2
_SEMAPHORES: dict[tuple[str, str], threading.BoundedSemaphore] = {}
_SEMAPHORES_LOCK = threading.Lock()


def _connections(api_url: str, user: str) -> threading.BoundedSemaphore:
    """The process's semaphore of an account: shared by every downloader of that hub and user."""
    with _SEMAPHORES_LOCK:
        return _SEMAPHORES.setdefault((api_url, user), threading.BoundedSemaphore(CONNECTIONS))


class DhusDownloader:
    """Downloads products of a DHuS hub by uuid (module docstring).

    Args:
        api_url: the hub root (``GEOCUBE_INGESTER_DHUS_URL``), ending in ``/``.
        user, password: the hub account (``GEOCUBE_INGESTER_DHUS_USER`` / ``..._PASSWORD``).
        trigger_offline: ask the hub to restore an offline product (a temporary error, tried again
            later); when false an offline product is only the next provider's.
    """

    name = "dhus"

    def __init__(
        self,
        *,
        api_url: str,
        user: str,
        password: SecretStr,
        fetcher: Fetcher | None = None,
        timeout_s: float = 60.0,
        trigger_offline: bool = True,
    ) -> None:
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.user = user
        self.fetcher = fetcher or Fetcher(timeout_s=timeout_s)
        self.timeout_s = timeout_s
        self.trigger_offline = trigger_offline
        token = base64.b64encode(f"{user}:{password.get_secret_value()}".encode()).decode()
        self._basic = SecretStr(f"Basic {token}")

    def __repr__(self) -> str:
        return f"DhusDownloader(api_url={self.api_url!r}, user={self.user!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> DhusDownloader | None:
        """None without a hub and its account (GEOCUBE_INGESTER_DHUS_URL, _USER and _PASSWORD)."""
        password = settings.dhus_password
        if not settings.dhus_url or not settings.dhus_user or password is None:
            return None
        if not password.get_secret_value():
            return None
        return cls(
            api_url=settings.dhus_url,
            user=settings.dhus_user,
            password=password,
            timeout_s=settings.http_timeout_s,
            fetcher=Fetcher.from_settings(settings),
        )

    def _auth(self, refresh: bool = False) -> Mapping[str, str]:
        return {"Authorization": self._basic.get_secret_value()}

    def download(self, scene: Scene, dest_dir: Path) -> Path:
        uuid = str(scene.metadata.get("uuid") or "") if scene.catalogue == "dhus" else ""
        if not uuid:
            raise ProductNotFoundError(
                f"{scene.source_id}: no DHuS product uuid (found by {scene.catalogue or 'no catalogue'}); "
                "a scene found by the dhus catalogue has one"
            )
        product = f"{self.api_url}odata/v1/Products('{uuid}')"
        with _connections(self.api_url, self.user), account_slot(account_limit_name(self.name, self.user)):
            expected, online = self._describe(scene, product)
            if not online:
                self._restore(scene, product)
            try:
                fetched = self.fetcher.fetch(
                    f"{product}/$value",
                    dest_dir / f"{scene.source_id}.zip",
                    what=scene.source_id,
                    expected=expected,
                    auth=self._auth,
                )
            except DownloadAuthError:
                raise DownloadAuthError(self._refused(scene, f"{product}/$value")) from None
        return fetched.path

    def _refused(self, scene: Scene, url: str) -> str:
        return (
            f"{scene.source_id}: {redact_url(url)} refused the credentials of user {self.user!r}; "
            f"check {USER_ENV} and {PASSWORD_ENV}"
        )

    def _get(self, scene: Scene, url: str, **params: str) -> httpx.Response:
        """One GET, its status classified; the caller reads the 2xx answer (a 401/403 is the account's)."""
        shown = f"{scene.source_id}: {redact_url(url)}"
        try:
            response = self.fetcher.read_small(url, params=params, headers=self._auth())
        except DownloadTemporaryError as exc:
            raise DownloadTemporaryError(f"{scene.source_id}: {exc}") from None
        answered = f"{shown} answered {response.status_code}"
        raise_for_download_status(response, answered, refused=self._refused(scene, url))
        return response

    def _describe(self, scene: Scene, product: str) -> tuple[Expected, bool]:
        """The product's size and MD5, and whether it is online, from its OData entity."""
        response = self._get(scene, product, **{"$format": "json"})
        entity = _entity(response)
        if entity is None:
            raise DownloadError(
                f"{scene.source_id}: {redact_url(product)} answered {response.status_code} with something "
                "that is not a DHuS OData product"
            )
        return describe_entity(entity)

    def _restore(self, scene: Scene, product: str) -> None:
        """Ask the hub to bring an offline product back from its Long Term Archive; always raises."""
        if not self.trigger_offline:
            raise ProductOfflineError(
                f"{scene.source_id}: offline on DHuS {redact_url(self.api_url)} "
                "(Online: false, in its Long Term Archive)"
            )
        url = f"{product}/$value"
        try:
            with httpx.Client(timeout=self.timeout_s) as client:
                watchdog = Watchdog(client, self.fetcher.stall_window_s)  # headers sent a byte at a time
                with (
                    watchdog,
                    client.stream(
                        "GET", url, headers=self._auth(), extensions={"trace": watchdog.trace}
                    ) as response,
                ):
                    status = response.status_code  # the body (none on a 202) is not read
        except httpx.TransportError as exc:
            told = (
                f"no status line and headers within {self.fetcher.stall_window_s:g} s "
                "(GEOCUBE_INGESTER_DOWNLOAD_STALL_WINDOW_S)"
                if watchdog.fired
                else transport_text(exc)
            )
            raise DownloadTemporaryError(f"{scene.source_id}: {redact_url(url)}: {told}") from None
        shown = f"{scene.source_id}: offline on DHuS {redact_url(self.api_url)} (Long Term Archive)"
        if status == 202:
            log.info("%s: retrieval from the Long Term Archive requested", scene.source_id)
            raise DownloadTemporaryError(
                f"{shown}: retrieval requested (202 Accepted); it is tried again "
                "later, once the hub has it online"
            )
        if status == 403:
            raise ProductOfflineError(
                f"{shown}: the hub refused to restore it (403: the user's quota of "
                "offline retrievals is used up)"
            )
        if status == 401:
            raise DownloadAuthError(self._refused(scene, url))
        if classify_status(status) is HttpOutcome.OK:
            return  # online again meanwhile: fetched as usual
        raise DownloadTemporaryError(f"{shown}: the retrieval request answered {status}")


def describe_entity(entity: object) -> tuple[Expected, bool]:
    """The size and checksum to expect of a product, and whether it is online, from its OData v2 entity
    (fields of another shape are taken as absent: the download is then checked by what it is).

    Raises:
        DownloadError: the entity is not an object.
    """
    if not isinstance(entity, Mapping):
        raise DownloadError(f"a DHuS OData product is an object, not {type(entity).__name__}")
    raw = entity.get("ContentLength")  # a string in OData v2 JSON ("599540")
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    size = raw if isinstance(raw, str) and raw.isascii() and raw.isdigit() else ""
    checksum = entity.get("Checksum")
    checksums = {}
    if isinstance(checksum, Mapping) and checksum.get("Algorithm") and checksum.get("Value"):
        checksums[str(checksum["Algorithm"])] = str(checksum["Value"])
    expected = Expected(size=int(size) if size and int(size) > 0 else None, checksums=checksums)
    return expected, entity.get("Online") is not False


def _entity(response: httpx.Response) -> dict[str, Any] | None:
    """The ``d`` object of an OData v2 JSON answer, or None."""
    try:
        body = response.json()
    except ValueError:
        return None
    entity = body.get("d") if isinstance(body, dict) else None
    return entity if isinstance(entity, dict) else None
