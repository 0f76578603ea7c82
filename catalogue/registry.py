"""The catalogues a deployment may use, by name (a plain dict, STYLE.md §2)."""

from __future__ import annotations

from collections.abc import Callable

from catalogue.errors import CatalogueError
from catalogue.models import Searcher
from common.settings import Settings


def _cdse(settings: Settings) -> Searcher:
    from catalogue.cdse import CdseODataSearcher

    return CdseODataSearcher(base_url=settings.cdse_odata_url, timeout_s=settings.http_timeout_s)


def _static_stac(settings: Settings) -> Searcher:
    from catalogue.stac_static import StaticStacSearcher

    if not settings.static_stac_catalog:
        raise CatalogueError(
            "catalogue 'static-stac' needs GEOCUBE_INGESTER_STATIC_STAC_CATALOG "
            "(the folder holding catalog.json)"
        )
    return StaticStacSearcher(settings.static_stac_catalog)


CATALOGUES: dict[str, Callable[[Settings], Searcher]] = {
    "cdse": _cdse,
    "static-stac": _static_stac,
}


def build_searchers(settings: Settings) -> list[Searcher]:
    """The configured catalogues, in order (GEOCUBE_INGESTER_CATALOGUES)."""
    names = settings.catalogue_names()
    unknown = [n for n in names if n not in CATALOGUES]
    if unknown:
        raise CatalogueError(
            f"GEOCUBE_INGESTER_CATALOGUES: unknown catalogue(s) {', '.join(unknown)}; "
            f"known: {', '.join(CATALOGUES)}"
        )
    if not names:
        raise CatalogueError(
            f"GEOCUBE_INGESTER_CATALOGUES is empty; name at least one of {', '.join(CATALOGUES)}"
        )
    return [CATALOGUES[n](settings) for n in names]
