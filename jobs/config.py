"""How a job runs its graph: with the deployment's config, then the graph's, then the payload's."""

from __future__ import annotations

from pathlib import Path

from common.settings import Settings
from graphs.context import TileContexts
from graphs.execute import GraphOutcome, execute_graph
from graphs.model import Graph
from jobs.models import SceneJob, TileJob


def graph_config(graph: Graph, payload_config: dict[str, str], settings: Settings) -> dict[str, str]:
    """Deployment defaults (GEOCUBE_INGESTER_STEP_TIMEOUT_S) < the graph's config < the payload's."""
    return {"step_timeout_s": f"{settings.step_timeout_s:g}", **graph.config, **payload_config}


def run_graph(
    graph: Graph, job: SceneJob | TileJob, tiles: TileContexts, workdir: Path, settings: Settings
) -> GraphOutcome:
    """Run ``graph`` on ``tiles`` in ``workdir`` with the job's config and retry policy."""
    return execute_graph(
        graph,
        tiles=tiles,
        workdir=workdir,
        config=graph_config(graph, job.graph_config, settings),
        is_retriable=job.is_retriable,
    )
