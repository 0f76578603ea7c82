"""Copernicus Data Space Ecosystem (CDSE): the OData catalogue (search; its downloads come next).

``search`` pages the OData Products endpoint, ``filter`` builds its ``$filter`` from a query, and
``products`` turns its Products into scenes. Creodias serves the same OData API (``providers.creodias``).
"""

from providers.cdse.search import CdseODataSearcher

__all__ = ["CdseODataSearcher"]
