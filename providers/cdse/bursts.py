"""CDSE's burst service: one Sentinel-1 SLC burst, one polarisation, as a zipped one-burst SAFE.

Two calls, after CDSE's documentation ("Sentinel-1 SLC Bursts", eu-cdse/documentation
``APIs/Sentinel-1 SLC Burst.qmd``, whose entity example is ``cdse/bursts/…json`` in the shared fixtures):

1. the burst's CDSE ``Id``: ``GET <odata>/Bursts?$filter=ParentProductName eq '<scene>.SAFE' and BurstId eq
   <ESA burst id> and SwathIdentifier eq 'IW2' and PolarisationChannels eq 'VV'`` (anonymous, the field
   names of the entity: ``ParentProductName``, ``BurstId``, ``SwathIdentifier``, ``PolarisationChannels``);
   no match (CDSE lists bursts from 2 August 2024 on) sends the tile elsewhere;
2. ``POST <burst>/Bursts(<Id>)/$value`` with the account's bearer token (the ``cdse`` provider's token
   manager, client ``cdse-public``, and its 4 connections at once). The service extracts the burst on
   demand: the call blocks until the zip is ready (hence a long read timeout), and may answer with a
   redirect whose ``Location`` takes the POST again (the download core keeps the method; a plain
   redirect-follow would turn it into a GET). The token goes to CDSE's own hosts only.

The zip holds one one-burst SAFE (checked with ``catalogue.burst_safe.check_one_burst_safe``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from catalogue.models import Scene, Tile
from common.settings import Settings
from providers.bursts import unpack_one_burst_zip
from providers.cdse.download import CDSE_HOSTS, cdse_tokens
from providers.errors import (
    BurstDeliveryError,
    ProductNotFoundError,
    raise_for_download_status,
)
from providers.fetch import Fetcher
from providers.tokens import OidcTokens, account_limit_name, account_slot

log = logging.getLogger(__name__)

EXTRACTION_TIMEOUT_S = 900.0  # the POST answers once the burst is extracted: minutes, not seconds


class CdseBurstDownloader:
    """Downloads one burst of one polarisation from CDSE (module docstring)."""

    name = "cdse-bursts"

    def __init__(
        self,
        *,
        odata_url: str,
        burst_url: str,
        tokens: OidcTokens,
        fetcher: Fetcher | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self.odata_url = odata_url.rstrip("/")
        self.burst_url = burst_url.rstrip("/")
        self.tokens = tokens
        self.fetcher = fetcher or Fetcher(timeout_s=EXTRACTION_TIMEOUT_S)
        self.timeout_s = timeout_s
        self.trusted_hosts = CDSE_HOSTS | {urlsplit(self.burst_url).hostname or ""}

    def __repr__(self) -> str:
        return f"CdseBurstDownloader(user={self.tokens.account.username!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> CdseBurstDownloader | None:
        """None without an account (GEOCUBE_INGESTER_CDSE_USERNAME and _PASSWORD)."""
        tokens = cdse_tokens(settings)
        if tokens is None:
            return None
        return cls(
            odata_url=settings.cdse_odata_url,
            burst_url=settings.cdse_burst_url,
            tokens=tokens,
            fetcher=Fetcher.from_settings(
                settings, timeout_s=max(settings.http_timeout_s, EXTRACTION_TIMEOUT_S)
            ),
            timeout_s=settings.http_timeout_s,
        )

    def download_burst(self, scene: Scene, tile: Tile, polarisation: str, dest_dir: Path) -> Path:
        what = f"{scene.source_id}/{tile.source_id} {polarisation}"
        burst_id = self.find_burst(scene, tile, polarisation)
        # One account, 4 connections at once: the burst service counts like the product downloads.
        limit = account_limit_name("cdse", self.tokens.account.username)
        with self.tokens.connections, account_slot(limit):
            fetched = self.fetcher.fetch(
                f"{self.burst_url}/Bursts({burst_id})/$value",
                dest_dir / f"{tile.source_id}_{polarisation}.zip",
                what=what,
                auth=self.tokens.headers,
                trusted_hosts=self.trusted_hosts,
                method="POST",
            )
        return unpack_one_burst_zip(fetched.path, dest_dir, what=what)

    def find_burst(self, scene: Scene, tile: Tile, polarisation: str) -> str:
        """The CDSE ``Id`` of the tile's burst in ``polarisation``.

        Raises:
            ProductNotFoundError: no burst id on the tile, or CDSE lists no such burst.
            DownloadTemporaryError: 429/5xx or a network failure.
            DownloadError: an answer that is not an OData burst list.
        """
        what = f"{scene.source_id}/{tile.source_id} {polarisation}"
        if tile.burst_id is None or not tile.swath_id:
            raise ProductNotFoundError(f"{what}: the tile has no ESA burst id; CDSE finds bursts by it")
        query = (
            f"ParentProductName eq '{scene.source_id}.SAFE' and BurstId eq {tile.burst_id} and "
            f"SwathIdentifier eq '{tile.swath_id.upper()}' and "
            f"PolarisationChannels eq '{polarisation.upper()}'"
        )
        url = f"{self.odata_url}/Bursts"
        response = self.fetcher.read_small(url, params={"$filter": query, "$top": "2"})
        answered = f"{what}: {url} answered {response.status_code}"
        refused = f"{answered}: the Bursts catalogue is public; check GEOCUBE_INGESTER_CDSE_ODATA_URL"
        raise_for_download_status(response, answered, refused=refused)
        ids = _burst_ids(response, what=what)
        if not ids:
            raise ProductNotFoundError(f"{what}: CDSE lists no such burst (burst id {tile.burst_id})")
        return ids[0]


def _burst_ids(response: httpx.Response, *, what: str) -> list[str]:
    """The ``Id`` of each entity of an OData ``Bursts`` answer (``{"value": [...]}``)."""
    try:
        body: Any = response.json()
    except ValueError:
        raise BurstDeliveryError(f"{what}: the Bursts answer is not JSON: {response.text[:100]!r}") from None
    values = body.get("value") if isinstance(body, dict) else None
    if not isinstance(values, list) or not all(
        isinstance(v, dict) and isinstance(v.get("Id"), str) for v in values
    ):
        raise BurstDeliveryError(f"{what}: the Bursts answer is not an OData list of entities with an Id")
    return [str(v["Id"]) for v in values]
