"""The download providers by name (``GEOCUBE_INGESTER_PROVIDERS``).

Register a provider in ``PROVIDERS`` (a plain dict: name -> factory taking the settings; a factory
answers None when the provider's settings are not there, and the provider is left out).
"""

from __future__ import annotations

from collections.abc import Callable

from catalogue.models import Constellation
from common.errors import PermanentError
from common.settings import Settings
from providers.asf import AsfDownloader
from providers.asf_bursts import AsfBurstDownloader
from providers.base import Downloader
from providers.bursts import BurstDownloader
from providers.cdse.bursts import CdseBurstDownloader
from providers.cdse.download import CdseDownloader
from providers.cdse.eodata import CdseS3Downloader
from providers.creodias import CreodiasDownloader
from providers.dhus_download import DhusDownloader
from providers.fetch import Fetcher
from providers.local import LocalArchiveProvider
from providers.oneatlas.download import OneAtlasDownloader
from providers.registry import names_for
from providers.stac.assets import StacAssetsDownloader
from providers.url import UrlProvider


def _local(settings: Settings) -> Downloader | None:
    return LocalArchiveProvider(settings.local_archive) if settings.local_archive else None


def _url(settings: Settings) -> Downloader | None:
    return UrlProvider(timeout_s=settings.http_timeout_s, fetcher=Fetcher.from_settings(settings))


PROVIDERS: dict[str, Callable[[Settings], Downloader | None]] = {
    "local": _local,
    "cdse": CdseDownloader.from_settings,
    "asf": AsfDownloader.from_settings,
    "creodias": CreodiasDownloader.from_settings,
    "dhus": DhusDownloader.from_settings,
    "oneatlas": OneAtlasDownloader.from_settings,
    "url": _url,
    "cdse-s3": CdseS3Downloader.from_settings,
    "stac-assets": StacAssetsDownloader.from_settings,
}
# Burst-level providers (providers.bursts), named in GEOCUBE_INGESTER_PROVIDERS too: the download job
# asks them for burst tiles first (jobs.download_bursts); the product chain leaves them out.
BURST_PROVIDERS: dict[str, Callable[[Settings], BurstDownloader | None]] = {
    "cdse-bursts": CdseBurstDownloader.from_settings,
    "asf-bursts": AsfBurstDownloader.from_settings,
}


def provider_names(settings: Settings, constellation: Constellation | None = None) -> list[str]:
    """The provider names GEOCUBE_INGESTER_PROVIDERS gives for ``constellation`` (``*`` for None)."""
    entries = settings.provider_entries()
    if constellation is None:
        return next((names for key, names in entries if key == "*"), [])
    return names_for(entries, constellation, setting="GEOCUBE_INGESTER_PROVIDERS")


def build_providers(settings: Settings, constellation: Constellation | None = None) -> list[Downloader]:
    """The providers configured for ``constellation``, in the order the settings give (those without
    their settings are left out)."""
    chain: list[Downloader] = []
    for name in provider_names(settings, constellation):
        if name in BURST_PROVIDERS:
            continue
        factory = PROVIDERS.get(name)
        if factory is None:
            raise PermanentError(
                f"GEOCUBE_INGESTER_PROVIDERS: unknown provider {name!r}; known: {', '.join(PROVIDERS)}"
            )
        provider = factory(settings)
        if provider is not None:
            chain.append(provider)
    if not chain:
        raise PermanentError(
            "no download provider is configured: set GEOCUBE_INGESTER_PROVIDERS and "
            "the provider's settings (e.g. GEOCUBE_INGESTER_LOCAL_ARCHIVE)"
        )
    return chain
