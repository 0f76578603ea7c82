"""CDSE downloads: a product by its id, ``GET <download>/Products(<id>)/$value`` with a bearer token.

The id is the ``uuid`` the CDSE searchers put in the scene's metadata (OData ``Id``, or the
``Products(<id>)`` of a CDSE STAC asset). The catalogue's ``Checksum`` (MD5 and BLAKE3) and
``ContentLength`` are verified while streaming (``providers.fetch``). The token comes from the account's
:class:`providers.tokens.OidcTokens` (client ``cdse-public``, password grant, then refresh), shared by the
worker's downloads, with the account's 4 connections at once: a semaphore of the process, and the
global concurrency limit ``downloads-cdse-<user>`` across workers when it exists (``deployments/up.sh``
creates it). The catalogue host redirects ``$value`` to the download host: the token follows to
CDSE's own hosts only.

A scene CDSE did not find (no ``uuid``) or marks offline is not this provider's: the next one is tried.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from catalogue.models import Scene
from common.errors import ProductUnavailableError
from common.settings import Settings
from providers.errors import ProductNotFoundError
from providers.fetch import Expected, Fetched, Fetcher
from providers.tokens import Account, OidcTokens, account_limit_name, account_slot, tokens_for

CLIENT_ID = "cdse-public"
CDSE_HOSTS = frozenset(
    {
        "catalogue.dataspace.copernicus.eu",
        "download.dataspace.copernicus.eu",
        "zipper.dataspace.copernicus.eu",
    }
)


class ProductOfflineError(ProductUnavailableError):
    """CDSE lists the product but does not serve it now (``Online: false``)."""


def cdse_tokens(settings: Settings) -> OidcTokens | None:
    """The process's token manager of the CDSE account, shared by the product and burst downloads;
    None without one (GEOCUBE_INGESTER_CDSE_USERNAME and _PASSWORD)."""
    if not settings.cdse_username or settings.cdse_password is None:
        return None
    account = Account(
        token_url=settings.cdse_token_url,
        client_id=CLIENT_ID,
        username=settings.cdse_username,
        password=settings.cdse_password,
        settings="GEOCUBE_INGESTER_CDSE_USERNAME and GEOCUBE_INGESTER_CDSE_PASSWORD",
    )
    return tokens_for(account, timeout_s=settings.http_timeout_s, deadline_s=settings.download_stall_window_s)


class CdseDownloader:
    """Downloads CDSE products by id (module docstring)."""

    name = "cdse"

    def __init__(self, *, download_url: str, tokens: OidcTokens, fetcher: Fetcher | None = None) -> None:
        self.download_url = download_url.rstrip("/")
        self.tokens = tokens
        self.fetcher = fetcher or Fetcher()
        self.trusted_hosts = CDSE_HOSTS | {urlsplit(self.download_url).hostname or ""}

    @classmethod
    def from_settings(cls, settings: Settings) -> CdseDownloader | None:
        """None without an account (GEOCUBE_INGESTER_CDSE_USERNAME and _PASSWORD)."""
        tokens = cdse_tokens(settings)
        if tokens is None:
            return None
        return cls(
            download_url=settings.cdse_download_url,
            tokens=tokens,
            fetcher=Fetcher.from_settings(settings),
        )

    def download(self, scene: Scene, dest_dir: Path) -> Path:
        product_id = str(scene.metadata.get("uuid") or "")
        if not product_id:
            raise ProductNotFoundError(
                f"{scene.source_id}: no CDSE product id (found by {scene.catalogue or 'no catalogue'}); "
                "a scene found by the cdse or stac-cdse catalogue has one"
            )
        if scene.metadata.get("online") is False:
            raise ProductOfflineError(f"{scene.source_id}: offline on CDSE (Online: false)")
        expected = Expected.of(scene.metadata)
        # CDSE allows an account 4 downloads at once: in this process, and across workers.
        limit = account_limit_name(self.name, self.tokens.account.username)
        with self.tokens.connections, account_slot(limit):
            fetched = self._fetch(scene, product_id, expected, dest_dir)
        return fetched.path

    def _fetch(self, scene: Scene, product_id: str, expected: Expected, dest_dir: Path) -> Fetched:
        return self.fetcher.fetch(
            f"{self.download_url}/Products({product_id})/$value",
            dest_dir / f"{scene.source_id}.zip",
            what=scene.source_id,
            expected=expected,
            auth=self.tokens.headers,
            trusted_hosts=self.trusted_hosts,
        )
