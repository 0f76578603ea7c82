"""Download providers: one module per provider behind the small ``Downloader`` protocol.

Register a provider in ``PROVIDERS`` (a plain dict: name -> factory taking the settings).
"""

from __future__ import annotations

from collections.abc import Callable

from common.errors import PermanentError
from common.settings import Settings
from providers.base import Downloader
from providers.local import LocalArchiveProvider
from providers.url import UrlProvider


def _local(settings: Settings) -> Downloader | None:
    return LocalArchiveProvider(settings.local_archive) if settings.local_archive else None


def _url(settings: Settings) -> Downloader | None:
    return UrlProvider(timeout_s=settings.http_timeout_s)


PROVIDERS: dict[str, Callable[[Settings], Downloader | None]] = {
    "local": _local,
    "url": _url,
}


def build_providers(settings: Settings) -> list[Downloader]:
    """The configured providers, in the order the settings give (those without config are left out)."""
    chain: list[Downloader] = []
    for name in settings.provider_names():
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
