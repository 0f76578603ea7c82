"""The config a graph runs with: the deployment's defaults, the graph's, then the payload's."""

from __future__ import annotations

from common.settings import Settings
from graphs.model import Graph


def graph_config(graph: Graph, payload_config: dict[str, str], settings: Settings) -> dict[str, str]:
    """Deployment defaults (GEOCUBE_INGESTER_STEP_TIMEOUT_S) < the graph's config < the payload's."""
    return {"step_timeout_s": f"{settings.step_timeout_s:g}", **graph.config, **payload_config}
