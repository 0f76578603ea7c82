"""A tile's DEM, made ready before its graph runs: Copernicus GLO-30 fetched for its footprint.

With ``GEOCUBE_INGESTER_DEM=glo30`` (or ``copernicus-glo30``), a graph that reads the DEM
(``graphs.dem.graph_needs_dem``: the S1 backscatter step) gets, in its workdir, ``.dem/glo30.vrt`` over
the GLO-30 cells of the tile's footprint, fetched into ``GEOCUBE_INGESTER_DEM_CACHE`` when missing
(``providers.copdem``). The step finds it there (``graphs.dem.DemSource.from_env``: it runs in the
workdir). Graphs without such a step (Sentinel-2, Landsat, DIMAP) fetch nothing, and a DEM given as a
path is used as it is.

The EGM2008 geoid grid is checked before anything is fetched: without it the step would refuse anyway.
"""

from __future__ import annotations

import logging
from pathlib import Path

from common.settings import Settings
from graphs.dem import GLO30_VRT, VerticalDatum, check_geoid_grid, graph_needs_dem, is_glo30_selected
from graphs.model import Graph
from jobs.models import TileJob
from providers.copdem import Glo30Dem, Glo30Provider

log = logging.getLogger(__name__)


def prepare_tile_dem(
    graph: Graph, job: TileJob, workdir: Path, settings: Settings, *, provider: Glo30Provider | None = None
) -> Glo30Dem | None:
    """The GLO-30 VRT of ``job``'s tile in ``workdir`` when its graph needs a DEM and ``glo30`` is
    selected; None otherwise (nothing fetched).

    Raises:
        GeoidGridMissingError: the EGM2008 grid is missing (before any request).
        DownloadTemporaryError, DownloadAuthError, DownloadError: from the provider (the tile's job is
            retried, or fails, as for a scene's download).
    """
    if not graph_needs_dem(graph) or not is_glo30_selected():
        return None
    check_geoid_grid(VerticalDatum.EGM2008)
    glo30 = provider if provider is not None else Glo30Provider.from_settings(settings)
    dem = glo30.dem_for_footprint(job.tile.footprint_wkt, workdir / GLO30_VRT, label=job.label)
    log.info("%s: DEM %s over %d GLO-30 cell(s)", job.label, dem.vrt, len(dem.tiles) + len(dem.ocean))
    return dem
