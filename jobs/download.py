"""The download job: fetch a scene with the provider chain, run the scene graph, store its tiles.

A scene graph runs once per tile of the scene, on the single tile (T0 = T1 = T2: the original let scene
graphs index T1/T2 and crash, §9.2 item 21); only its ``to_create`` out-files are stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from common.settings import Settings
from graphs.context import make_tile_contexts
from graphs.execute import execute_graph
from graphs.loader import load_graph
from graphs.model import Action, Condition, OutFile
from jobs.config import graph_config
from jobs.models import JobResult, SceneJob
from jobs.workspace import scratch_dir
from providers import build_providers
from providers.chain import download_product
from storage import open_storage
from storage.base import Storage
from storage.layout import LayerRef, save_layer

log = logging.getLogger(__name__)


def _already_stored(job: SceneJob, graph_out: Sequence[OutFile], storage: Storage) -> list[str] | None:
    """URIs of the scene graph's unconditional outputs when every one is already stored, else None."""
    wanted = [f for f in graph_out if f.action == Action.TO_CREATE and f.condition == Condition.PASS]
    if not wanted:
        return None
    keys = [
        LayerRef(job.aoi, job.scene.source_id, t.source_id, job.scene.date, f.layer, f.extension).key
        for t in job.tiles
        for f in wanted
    ]
    if all(storage.exists(k) for k in keys):
        return [storage.uri_of(k) for k in keys]
    return None


def run_scene_job(job: SceneJob, settings: Settings) -> JobResult:
    """Download, run the scene graph on each tile and store the results; return what was stored.

    Raises the error of the provider chain or of the graph (TemporaryError when retrying may help).
    """
    started = time.monotonic()
    storage = open_storage(job.storage_uri)
    graph = load_graph(job.graph_name, graph_root=settings.graph_root)
    stored = _already_stored(job, graph.out_files[0] if graph.out_files else [], storage)
    if stored is not None:
        log.info("%s: already in storage, not downloaded again", job.label)
        return JobResult(message="already in storage", stored=stored, duration_s=time.monotonic() - started)
    providers = build_providers(settings)
    stored = []
    with scratch_dir(settings.workdir, f"scene-{job.scene.source_id}") as scratch:
        product_dir = scratch / "product"
        product_dir.mkdir()
        _, provider = download_product(job.scene, providers, product_dir)
        for tile in job.tiles:
            t0 = make_tile_contexts(
                tile.model_copy(update={"previous": None, "reference": None}),
                constellation=job.scene.constellation,
                scene_date=job.scene.date,
            )
            outcome = execute_graph(
                graph,
                tiles=t0,
                workdir=product_dir,
                config=graph_config(graph, job.graph_config, settings),
                is_retriable=job.is_retriable,
            )
            if outcome.error is not None:
                raise outcome.error
            for out in outcome.out_files:
                if out.action != Action.TO_CREATE:
                    continue
                ctx = t0[out.tile_index]
                stored.append(
                    save_layer(storage, Path(product_dir), ctx.layer_ref(job.aoi, out.layer, out.extension))
                )
    log.info("%s: downloaded by %s, %d file(s) stored", job.label, provider, len(stored))
    return JobResult(
        provider=provider,
        stored=stored,
        message=f"downloaded by {provider}",
        duration_s=time.monotonic() - started,
    )
