"""The catalogues a deployment may use, by name (a plain dict, STYLE.md §2).

Which ones are tried, and in which order, is set per constellation by GEOCUBE_INGESTER_CATALOGUES
(``common.settings.Settings.catalogue_names``). Only the catalogues of the payload's constellation are
built, so a deployment needs the settings (credentials, URLs) of those alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from catalogue.errors import CatalogueError
from catalogue.models import Constellation, Searcher, parse_constellation
from common.settings import Settings


def _bounds(s: Settings) -> dict[str, Any]:
    """The bounds of one catalogue answer, from ``s`` (``catalogue.http.send``)."""
    return {"deadline_s": s.catalogue_deadline_s, "max_bytes": s.catalogue_max_bytes}


def _cdse(s: Settings) -> Searcher:
    from providers.cdse.search import CdseODataSearcher

    return CdseODataSearcher(base_url=s.cdse_odata_url, timeout_s=s.http_timeout_s, **_bounds(s))


def _creodias(s: Settings) -> Searcher:
    from providers.creodias import CreodiasODataSearcher

    return CreodiasODataSearcher(base_url=s.creodias_odata_url, timeout_s=s.http_timeout_s, **_bounds(s))


def _asf(s: Settings) -> Searcher:
    from providers.asf import AsfSearcher

    return AsfSearcher(search_url=s.asf_search_url, timeout_s=s.http_timeout_s, **_bounds(s))


def _dhus(s: Settings) -> Searcher:
    from providers.dhus import DhusSearcher

    return DhusSearcher(
        api_url=s.dhus_url,
        user=s.dhus_user,
        password=s.dhus_password,
        timeout_s=s.http_timeout_s,
        **_bounds(s),
    )


def _oneatlas(s: Settings) -> Searcher:
    from providers.oneatlas.search import OneAtlasSearcher

    return OneAtlasSearcher(
        apikey=s.oneatlas_apikey,
        username=s.oneatlas_username,
        search_url=s.oneatlas_search_url,
        order_url=s.oneatlas_order_url,
        auth_url=s.oneatlas_auth_url,
        timeout_s=s.http_timeout_s,
        **_bounds(s),
    )


def _static_stac(s: Settings) -> Searcher:
    from providers.stac.static import StaticStacSearcher

    if not s.static_stac_catalog:
        raise CatalogueError(
            "catalogue 'static-stac' needs GEOCUBE_INGESTER_STATIC_STAC_CATALOG "
            "(the folder holding catalog.json)"
        )
    return StaticStacSearcher(s.static_stac_catalog)


def _stac_landsat(s: Settings) -> Searcher:
    from providers.stac.api import USGS_LANDSAT, StacApiSearcher

    return StacApiSearcher(USGS_LANDSAT, url=s.stac_landsat_url, timeout_s=s.http_timeout_s, **_bounds(s))


def _stac_earth_search(s: Settings) -> Searcher:
    from providers.stac.api import EARTH_SEARCH, StacApiSearcher

    return StacApiSearcher(
        EARTH_SEARCH, url=s.stac_earth_search_url, timeout_s=s.http_timeout_s, **_bounds(s)
    )


def _stac_cdse(s: Settings) -> Searcher:
    from providers.stac.api import CDSE_STAC, StacApiSearcher

    return StacApiSearcher(CDSE_STAC, url=s.stac_cdse_url, timeout_s=s.http_timeout_s, **_bounds(s))


CATALOGUES: dict[str, Callable[[Settings], Searcher]] = {
    "cdse": _cdse,
    "creodias": _creodias,
    "asf": _asf,
    "dhus": _dhus,
    "oneatlas": _oneatlas,
    "static-stac": _static_stac,
    "stac-landsat": _stac_landsat,
    "stac-earth-search": _stac_earth_search,
    "stac-cdse": _stac_cdse,
}


# Which download provider serves a catalogue's scenes, and the settings it needs: what a failed download
# suggests when the chain did not have it (GEOCUBE_INGESTER_PROVIDERS names the chain).
SERVED_BY: dict[str, tuple[str, str]] = {
    "cdse": ("cdse", "GEOCUBE_INGESTER_CDSE_USERNAME and GEOCUBE_INGESTER_CDSE_PASSWORD"),
    "stac-cdse": ("cdse", "GEOCUBE_INGESTER_CDSE_USERNAME and GEOCUBE_INGESTER_CDSE_PASSWORD"),
    "creodias": (
        "creodias",
        "GEOCUBE_INGESTER_CREODIAS_USERNAME and GEOCUBE_INGESTER_CREODIAS_PASSWORD (and "
        "GEOCUBE_INGESTER_CREODIAS_TOTP_SECRET when 2FA is on)",
    ),
    "asf": ("asf", "GEOCUBE_INGESTER_EARTHDATA_TOKEN"),
    "dhus": (
        "dhus",
        "GEOCUBE_INGESTER_DHUS_URL, GEOCUBE_INGESTER_DHUS_USER and GEOCUBE_INGESTER_DHUS_PASSWORD",
    ),
    "oneatlas": ("oneatlas", "GEOCUBE_INGESTER_ONEATLAS_APIKEY"),
    "stac-earth-search": ("stac-assets", "nothing (public assets)"),
    "stac-landsat": ("stac-assets", "AWS credentials and GEOCUBE_INGESTER_S3_REQUESTER_PAYS=true"),
    "static-stac": ("url", "nothing (the items' own links)"),
}


def provider_hint(catalogue: str, tried: Sequence[str]) -> str:
    """What to configure so that a scene ``catalogue`` found can be downloaded, given the providers
    ``tried``; "" when the catalogue is unknown or its provider was tried already."""
    provider, needs = SERVED_BY.get(catalogue, ("", ""))
    if not provider or provider in tried:
        return ""
    return (
        f"catalogue {catalogue} found it; provider {provider!r} serves its scenes: add it to "
        f"GEOCUBE_INGESTER_PROVIDERS, with {needs}"
    )


def names_for(
    entries: list[tuple[str, list[str]]], constellation: Constellation, *, setting: str
) -> list[str]:
    """The names a per-constellation setting gives for ``constellation`` (keys are any alias, or ``*``).

    Raises:
        CatalogueError: a key that is neither a constellation alias nor ``*``.
    """
    fallback: list[str] = []
    for key, names in entries:
        if key == "*":
            fallback = names
            continue
        target = parse_constellation(key)
        if target is None:
            raise CatalogueError(
                f"{setting}: unknown constellation {key!r}; use sentinel1, sentinel2, "
                "landsat89, phr, spot (or an alias) or '*'"
            )
        if target is constellation:
            return names
    return fallback


def catalogue_names(settings: Settings, constellation: Constellation) -> list[str]:
    """The catalogue names GEOCUBE_INGESTER_CATALOGUES gives for ``constellation``."""
    return names_for(settings.catalogue_entries(), constellation, setting="GEOCUBE_INGESTER_CATALOGUES")


def build_searchers(settings: Settings, constellation: Constellation) -> list[Searcher]:
    """The catalogues configured for ``constellation``, in order (GEOCUBE_INGESTER_CATALOGUES).

    Raises:
        CatalogueError: an unknown name, or no catalogue for this constellation (the original silently
            found nothing, §9.2 item 34).
    """
    names = catalogue_names(settings, constellation)
    unknown = [n for n in names if n not in CATALOGUES]
    if unknown:
        raise CatalogueError(
            f"GEOCUBE_INGESTER_CATALOGUES: unknown catalogue(s) {', '.join(unknown)}; "
            f"known: {', '.join(CATALOGUES)}"
        )
    if not names:
        raise CatalogueError(
            f"GEOCUBE_INGESTER_CATALOGUES ({settings.catalogues!r}) names no catalogue for "
            f"{constellation.value}; add e.g. '{constellation.value.lower()}=cdse' or '*=static-stac'"
        )
    return [CATALOGUES[n](settings) for n in names]
