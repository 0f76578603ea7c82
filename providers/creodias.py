"""Creodias: the catalogue (the same OData Products API as CDSE) and downloads by product id.

**Search.** Creodias moved from its resto ``finder`` to an OData catalogue run with the same software as
CDSE: the recorded answer of ``GET https://datahub.creodias.eu/odata/v1/Products?...&$count=True`` (shared
fixtures, ``creodias/odata``) has CDSE's product shape, ``@odata.count`` and ``@odata.nextLink``. So the
searcher is the CDSE one pointed at Creodias; the original ingester preferred Creodias for Sentinel-2
(its catalogue order puts it first for S2, and again after Copernicus for S1).

**Download.** ``GET https://zipper.creodias.eu/odata/v1/Products(<Id>)/$value`` with
``Authorization: Bearer <token>`` (CloudFerro's "Using curl and wget to download EODATA products from
CREODIAS"; the same route WASDI's Creodias adapter uses). The zipper also takes ``?token=<token>``
(the original ingester's way): not used, a token in a URL ends up in logs and proxies. The token is the
account's :class:`providers.tokens.OidcTokens` of the Keycloak realm ``Creodias-new`` (client
``CLOUDFERRO_PUBLIC``, password grant, plus ``totp=<code>`` when two-factor authentication is on:
``GEOCUBE_INGESTER_CREODIAS_TOTP_SECRET``), then refresh-token grants, shared by the worker's downloads.

The product id is the scene's ``uuid`` when the creodias catalogue found it; a scene found elsewhere is
looked up by name on the Creodias catalogue (``$filter=Name eq '<name>.SAFE'``), which also gives its
``Online``, ``ContentLength`` and ``Checksum``. Size and checksum are checked as CDSE's are (a Creodias
answer may publish neither: the recorded page has ``ContentLength: 0`` and ``Checksum: []``).
A product Creodias has not got, or holds offline, is the next provider's.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from catalogue.models import Constellation, Scene
from common.redaction import redact_url
from common.settings import Settings
from providers.cdse.download import ProductOfflineError
from providers.cdse.search import CdseODataSearcher
from providers.errors import (
    DownloadError,
    ProductNotFoundError,
    raise_for_download_status,
)
from providers.fetch import Expected, Fetcher
from providers.tokens import Account, OidcTokens, account_limit_name, account_slot, tokens_for

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://datahub.creodias.eu/odata/v1"
CLIENT_ID = "CLOUDFERRO_PUBLIC"
CREODIAS_HOSTS = frozenset({"zipper.creodias.eu", "datahub.creodias.eu"})
# Airbus' commercial missions: not in Creodias' EODATA repository, not looked up there.
NOT_ON_CREODIAS = frozenset({Constellation.PHR, Constellation.SPOT})
SETTINGS = (
    "GEOCUBE_INGESTER_CREODIAS_USERNAME, GEOCUBE_INGESTER_CREODIAS_PASSWORD and "
    "GEOCUBE_INGESTER_CREODIAS_TOTP_SECRET"
)


class CreodiasODataSearcher(CdseODataSearcher):
    """Sentinel-1 and Sentinel-2 products on the Creodias OData catalogue.

    Paging, limits (``$top`` <= 1000, ``$skip`` <= 10 000), retries and the product mapping are CDSE's;
    scenes say ``catalogue="creodias"``.
    """

    name = "creodias"

    def __init__(self, *, base_url: str = DEFAULT_BASE_URL, **options: Any) -> None:
        """Args: as ``CdseODataSearcher`` (``base_url`` is the OData root, without ``/Products``)."""
        super().__init__(base_url=base_url, **options)


class CreodiasDownloader:
    """Downloads Creodias products by id (module docstring).

    Args:
        download_url: the zipper's OData root (``GEOCUBE_INGESTER_CREODIAS_DOWNLOAD_URL``).
        odata_url: the catalogue's OData root, where a scene found elsewhere is looked up by name.
        tokens: the account's token manager.
    """

    name = "creodias"

    def __init__(
        self,
        *,
        download_url: str,
        odata_url: str = DEFAULT_BASE_URL,
        tokens: OidcTokens,
        fetcher: Fetcher | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self.download_url = download_url.rstrip("/")
        self.odata_url = odata_url.rstrip("/")
        self.tokens = tokens
        self.fetcher = fetcher or Fetcher(timeout_s=timeout_s)
        self.timeout_s = timeout_s
        self.trusted_hosts = CREODIAS_HOSTS | {urlsplit(self.download_url).hostname or ""}

    def __repr__(self) -> str:
        return f"CreodiasDownloader(download_url={self.download_url!r}, tokens={self.tokens!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> CreodiasDownloader | None:
        """None without an account (GEOCUBE_INGESTER_CREODIAS_USERNAME and _PASSWORD)."""
        if not settings.creodias_username or settings.creodias_password is None:
            return None
        secret = settings.creodias_totp_secret
        account = Account(
            token_url=settings.creodias_token_url,
            client_id=CLIENT_ID,
            username=settings.creodias_username,
            password=settings.creodias_password,
            settings=SETTINGS,
            totp_secret=secret if secret is not None and secret.get_secret_value() else None,
        )
        return cls(
            download_url=settings.creodias_download_url,
            odata_url=settings.creodias_odata_url,
            tokens=tokens_for(
                account, timeout_s=settings.http_timeout_s, deadline_s=settings.download_stall_window_s
            ),
            timeout_s=settings.http_timeout_s,
            fetcher=Fetcher.from_settings(settings),
        )

    def download(self, scene: Scene, dest_dir: Path) -> Path:
        if scene.catalogue == "creodias" and scene.metadata.get("uuid"):
            product_id, metadata = str(scene.metadata["uuid"]), dict(scene.metadata)
        else:
            product_id, metadata = self._look_up(scene)
        if metadata.get("online") is False:
            raise ProductOfflineError(f"{scene.source_id}: offline on Creodias (Online: false)")
        limit = account_limit_name(self.name, self.tokens.account.username)
        with self.tokens.connections, account_slot(limit):
            fetched = self.fetcher.fetch(
                f"{self.download_url}/Products({product_id})/$value",
                dest_dir / f"{scene.source_id}.zip",
                what=scene.source_id,
                expected=Expected.of(metadata),
                auth=self.tokens.headers,
                trusted_hosts=self.trusted_hosts,
            )
        return fetched.path

    def _look_up(self, scene: Scene) -> tuple[str, dict[str, Any]]:
        """(product id, metadata as a creodias search writes it) of the scene's product, by name.

        Raises:
            ProductNotFoundError: Creodias lists no product of that name.
            DownloadTemporaryError, DownloadError: the catalogue failed, or answered something else.
        """
        if scene.constellation in NOT_ON_CREODIAS:
            raise ProductNotFoundError(f"{scene.source_id}: Creodias holds no {scene.constellation} products")
        url = f"{self.odata_url}/Products"
        shown = f"{scene.source_id}: Creodias catalogue {redact_url(url)}"
        name = scene.source_id.replace("'", "''")  # an OData string literal doubles its quotes
        names = f"Name eq '{name}.SAFE' or Name eq '{name}'"
        response = self.fetcher.read_small(url, params={"$filter": names, "$top": "2"})
        answered = f"{shown} answered {response.status_code}"
        refused = f"{answered}: the catalogue is public; check GEOCUBE_INGESTER_CREODIAS_ODATA_URL"
        raise_for_download_status(response, answered, refused=refused, catalogue=True)
        try:
            products = response.json()["value"]
            product = next(p for p in products if str(p["Name"]).removesuffix(".SAFE") == scene.source_id)
        except StopIteration:
            raise ProductNotFoundError(f"{shown}: no product named {scene.source_id}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise DownloadError(f"{shown}: not an OData Products answer ({type(exc).__name__})") from None
        return _product_id_and_metadata(product, shown)


def _product_id_and_metadata(product: Any, shown: str) -> tuple[str, dict[str, Any]]:
    """The ``Id`` and the download metadata (``online``, ``size_bytes``, ``checksums``) of a product."""
    if not isinstance(product, dict) or not isinstance(product.get("Id"), str) or not product["Id"]:
        raise DownloadError(f"{shown}: a product without Id")
    checksums = product.get("Checksum")
    metadata: dict[str, Any] = {
        "checksums": {
            str(c["Algorithm"]): str(c["Value"])
            for c in (checksums if isinstance(checksums, list) else [])
            if isinstance(c, dict) and c.get("Algorithm") and c.get("Value")
        },
        "size_bytes": product.get("ContentLength"),
    }
    if isinstance(product.get("Online"), bool):
        metadata["online"] = product["Online"]
    return product["Id"], metadata
