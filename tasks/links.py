"""Tasks of the tile links (``jobs.links``) with Prefect's retries."""

from __future__ import annotations

from prefect import task

from jobs import links
from tasks.retry import RETRY_DELAYS_S, retry_if_temporary

reads_links_task = task(name="tile-dependencies")(links.tile_graph_reads_links)
relink_records_task = task(
    name="relink-records",
    retries=3,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_if_temporary,
)(links.relink_records)
