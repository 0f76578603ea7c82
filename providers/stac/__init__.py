"""STAC catalogues: STAC APIs (``api``: USGS Landsat, Earth Search, CDSE STAC) and static catalogues
(``static``: your own archive), one STAC item -> scene mapping (``items``), and pystac-client's HTTP
through our retry policy (``requests_io``)."""

from providers.stac.api import StacApiSearcher
from providers.stac.static import StaticStacSearcher

__all__ = ["StacApiSearcher", "StaticStacSearcher"]
