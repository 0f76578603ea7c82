"""How a job runs its graph: with the deployment's config, then the graph's, then the payload's."""

from __future__ import annotations

from pathlib import Path

from common.settings import Settings
from graphs.context import TileContexts
from graphs.execute import GraphOutcome, execute_graph
from graphs.model import Action, Graph
from jobs.models import SceneJob, TileJob


def graph_config(
    graph: Graph,
    payload_config: dict[str, str],
    settings: Settings,
    *,
    wanted_layers: list[str] | None = None,
) -> dict[str, str]:
    """Deployment defaults (GEOCUBE_INGESTER_STEP_TIMEOUT_S) < the graph's config < the layers the job
    wants (``wanted_layers``, comma-separated: a graph that writes many layers writes only those) < the
    payload's."""
    wanted = {"wanted_layers": ",".join(wanted_layers)} if wanted_layers is not None else {}
    return {"step_timeout_s": f"{settings.step_timeout_s:g}", **graph.config, **wanted, **payload_config}


def wanted_layers(graph: Graph, job: TileJob) -> list[str]:
    """The T0 layers a tile job keeps: those it stores, and those it indexes into an instance."""
    files = graph.out_files[0] if graph.out_files else []
    return list(
        dict.fromkeys(
            f.layer
            for f in files
            if f.action == Action.TO_CREATE or (f.action == Action.TO_INDEX and f.layer in job.instances_id)
        )
    )


def run_graph(
    graph: Graph, job: SceneJob | TileJob, tiles: TileContexts, workdir: Path, settings: Settings
) -> GraphOutcome:
    """Run ``graph`` on ``tiles`` in ``workdir`` with the job's config and retry policy."""
    return execute_graph(
        graph,
        tiles=tiles,
        workdir=workdir,
        config=graph_config(
            graph,
            job.graph_config,
            settings,
            wanted_layers=wanted_layers(graph, job) if isinstance(job, TileJob) else None,
        ),
        is_retriable=job.is_retriable,
    )
