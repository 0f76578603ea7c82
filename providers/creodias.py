"""Creodias catalogue: the same OData Products API as CDSE (same CSC schema, filters and limits).

Creodias moved from its resto ``finder`` to an OData catalogue run with the same software as CDSE: the
recorded answer of ``GET https://datahub.creodias.eu/odata/v1/Products?...&$count=True`` (shared
fixtures, ``creodias/odata``) has CDSE's product shape, ``@odata.count`` and ``@odata.nextLink``. So this
searcher is the CDSE one pointed at Creodias; the original ingester preferred Creodias for Sentinel-2
(its catalogue order puts it first for S2, and again after Copernicus for S1).
"""

from __future__ import annotations

from typing import Any

from providers.cdse.search import CdseODataSearcher

DEFAULT_BASE_URL = "https://datahub.creodias.eu/odata/v1"


class CreodiasODataSearcher(CdseODataSearcher):
    """Sentinel-1 and Sentinel-2 products on the Creodias OData catalogue.

    Paging, limits (``$top`` <= 1000, ``$skip`` <= 10 000), retries and the product mapping are CDSE's;
    scenes say ``catalogue="creodias"``.
    """

    name = "creodias"

    def __init__(self, *, base_url: str = DEFAULT_BASE_URL, **options: Any) -> None:
        """Args: as ``CdseODataSearcher`` (``base_url`` is the OData root, without ``/Products``)."""
        super().__init__(base_url=base_url, **options)
