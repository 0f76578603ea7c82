"""The download job: fetch a scene with the provider chain, run the scene graph, store its tiles.

A scene graph runs once per tile of the scene, on the single tile (T0 = T1 = T2: the original let scene
graphs index T1/T2 and crash, §9.2 item 21); only its ``to_create`` out-files are stored.

The product travels once. A scene graph that only stores the product (CopyProductToStorage: no step,
the ``__product__`` layer as ``*``, ``SAFE`` or ``zip``) stores the zip as it arrived, after checking
it whole; a downloaded zip is moved into a storage on the same disk, a local archive copied. Any other
graph gets the product unpacked once, in its working folder.

Sentinel-1 burst tiles of a scene graph that splits bursts (``S1BurstSplit``) are first asked of the
burst providers, one burst at a time; only the bursts none of them has make the whole SLC come, once,
to be split (``jobs.download_bursts``). The outcome says the bytes per burst.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from common.errors import IngestError
from common.settings import Settings
from graphs.context import make_tile_contexts
from graphs.loader import load_graph
from graphs.model import Action, Condition, Graph, OutFile
from jobs.config import run_graph
from jobs.download_bursts import burst_providers, fetch_bursts, is_burst_tile, splits_bursts, tile_view
from jobs.models import JobResult, SceneJob
from jobs.workspace import download_dir, scratch_dir
from providers.chain import download_product
from providers.downloaders import build_providers
from providers.stac.assets import StacAssetsDownloader
from providers.unpack import check_archive, open_product
from storage import open_storage
from storage.base import Storage
from storage.layout import PRODUCT_LAYER, LayerRef, archive_is_layer, save_archive, save_layer

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


def _product_refs(job: SceneJob, graph_out: Sequence[OutFile]) -> list[LayerRef] | None:
    """What a graph without steps stores: the refs of its out-files when every one is the product,
    created unconditionally; None when the graph stores anything else."""
    if not graph_out or any(
        f.layer != PRODUCT_LAYER or f.action != Action.TO_CREATE or f.condition != Condition.PASS
        for f in graph_out
    ):
        return None
    return [
        LayerRef(job.aoi, job.scene.source_id, t.source_id, job.scene.date, f.layer, f.extension)
        for t in job.tiles
        for f in graph_out
    ]


@dataclass(frozen=True, slots=True)
class _Opened:
    """A delivered product made ready: a zip to store as it is (with its top-level entries), or, when
    ``archive`` is None, the product unpacked in the scene graph's folder."""

    archive: Path | None = None
    entries: tuple[str, ...] = ()
    size: int = 0  # bytes delivered
    at: float = 0.0  # time.monotonic() of the delivery


def _opener(refs: list[LayerRef] | None, product_dir: Path) -> Callable[[Path], _Opened]:
    """How a delivered product is opened, once, inside the provider chain (a refused one falls to the
    next provider): checked whole when it can be stored as it is, else unpacked."""

    def accept(arrived: Path) -> _Opened:
        at, size = time.monotonic(), _size(arrived)
        if refs is not None and arrived.is_file():
            entries = check_archive(arrived)
            if all(archive_is_layer(entries, ref) for ref in refs):
                return _Opened(arrived, tuple(entries), size, at)
        try:
            open_product(arrived, product_dir)
        except IngestError:
            for entry in product_dir.iterdir():  # what a refused product left, before the next one
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            raise
        return _Opened(size=size, at=at)

    return accept


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_scene_job(job: SceneJob, settings: Settings) -> JobResult:
    """Download, run the scene graph on each tile and store the results; return what was stored.

    Raises the error of the provider chain or of the graph (TemporaryError when retrying may help).
    """
    started = time.monotonic()
    storage = open_storage(job.storage_uri)
    graph = load_graph(job.graph_name, graph_root=settings.graph_root, config=job.graph_config)
    graph_out = graph.out_files[0] if graph.out_files else []
    stored = _already_stored(job, graph_out, storage)
    if stored is not None:
        log.info("%s: already in storage, not downloaded again", job.label)
        return JobResult(message="already in storage", stored=stored, duration_s=time.monotonic() - started)
    if splits_bursts(graph) and job.tiles and all(is_burst_tile(t) for t in job.tiles):
        return _run_burst_job(job, settings, graph, storage, started)
    return _run_product_job(job, settings, graph, storage, started)


def _run_burst_job(
    job: SceneJob, settings: Settings, graph: Graph, storage: Storage, started: float
) -> JobResult:
    """Burst tiles: from the burst providers first; the rest split from the whole SLC."""
    bursts = fetch_bursts(job, settings, storage, burst_providers(settings, job.scene.constellation))
    done = bursts.summary()
    if not bursts.missing:
        message = done or "already in storage"
        log.info("%s: %s", job.label, message)
        return JobResult(
            provider=", ".join(dict.fromkeys(bursts.providers.values())),
            stored=bursts.stored,
            bytes_fetched=bursts.bytes_fetched,
            bytes_by_provider=bursts.bytes_by_provider(),
            fetch_s=bursts.seconds,
            message=message,
            duration_s=time.monotonic() - started,
        )
    if bursts.reasons:
        log.info(
            "%s: %d burst(s) from the whole SLC: %s",
            job.label,
            len(bursts.missing),
            "; ".join(bursts.reasons),
        )
    rest = _run_product_job(
        job.model_copy(update={"tiles": bursts.missing}), settings, graph, storage, started
    )
    split = f"{len(bursts.missing)} burst(s) split from the SLC {rest.message}"
    names = [*dict.fromkeys(bursts.providers.values()), rest.provider]
    return rest.model_copy(
        update={
            "provider": ", ".join(n for n in names if n),
            "stored": bursts.stored + rest.stored,
            "bytes_fetched": bursts.bytes_fetched + rest.bytes_fetched,
            "bytes_by_provider": _summed(bursts.bytes_by_provider(), rest.bytes_by_provider),
            "fetch_s": bursts.seconds + rest.fetch_s,
            "message": f"{done}; {split}" if done else split,
        }
    )


def _summed(*totals: dict[str, int]) -> dict[str, int]:
    summed: dict[str, int] = {}
    for each in totals:
        for name, nbytes in each.items():
            summed[name] = summed.get(name, 0) + nbytes
    return summed


def _run_product_job(
    job: SceneJob, settings: Settings, graph: Graph, storage: Storage, started: float
) -> JobResult:
    """The whole product from the provider chain, then stored as it is or run through the scene graph."""
    graph_out = graph.out_files[0] if graph.out_files else []
    providers = build_providers(settings, job.scene.constellation)
    wanted_assets = [a.strip() for a in job.graph_config.get("assets", "").split(",") if a.strip()]
    for each in providers:  # a STAC item's assets: only those the payload's graph_config names
        if isinstance(each, StacAssetsDownloader) and wanted_assets:
            each.assets = wanted_assets
    refs = None if graph.processing_steps else _product_refs(job, graph_out)
    fetch_started = time.monotonic()
    with (
        download_dir(settings.workdir, job.scene.source_id) as arrived_dir,
        scratch_dir(settings.workdir, f"scene-{job.scene.source_id}") as scratch,
    ):
        product_dir = scratch / "product"
        product_dir.mkdir()
        opened, provider = download_product(
            job.scene, providers, arrived_dir, accept=_opener(refs, product_dir)
        )
        if opened.archive is not None and refs is not None:
            how = "stored as it arrived"
            owned = opened.archive.is_relative_to(arrived_dir)  # else a local archive: copied, not moved
            stored = [
                save_archive(storage, opened.archive, ref, entries=list(opened.entries),
                             move=owned and i == len(refs) - 1)
                for i, ref in enumerate(refs)
            ]  # fmt: skip
        else:
            how = "unpacked for the scene graph"
            stored = _run_scene_graph(job, settings, graph, storage, product_dir)
    fetch_s = max(opened.at - fetch_started, 1e-6)
    rate = f"{opened.size / 1e6:.0f} MB in {fetch_s:.1f} s, {opened.size / 1e6 / fetch_s:.1f} MB/s"
    log.info("%s: downloaded by %s (%s), %s: %d file(s) stored", job.label, provider, rate, how, len(stored))
    return JobResult(
        provider=provider,
        stored=stored,
        bytes_fetched=opened.size,
        bytes_by_provider={provider: opened.size},
        fetch_s=fetch_s,
        message=f"downloaded by {provider} ({rate}), {how}",
        duration_s=time.monotonic() - started,
    )


def _run_scene_graph(
    job: SceneJob, settings: Settings, graph: Graph, storage: Storage, product_dir: Path
) -> list[str]:
    """Run the scene graph on each tile in ``product_dir`` (the product unpacked) and store its outputs."""
    stored: list[str] = []
    for index, tile in enumerate(job.tiles):
        t0 = make_tile_contexts(
            tile.model_copy(update={"previous": None, "reference": None}),
            constellation=job.scene.constellation,
            scene_date=job.scene.date,
        )
        with contextlib.ExitStack() as stack:
            # A burst split writes each tile's cut under the product's own name: a folder per tile.
            workdir = (
                stack.enter_context(tile_view(product_dir, job.scene.source_id, index))
                if splits_bursts(graph)
                else product_dir
            )
            outcome = run_graph(graph, job, t0, workdir, settings)
            if outcome.error is not None:
                raise outcome.error
            for out in outcome.out_files:
                if out.action != Action.TO_CREATE:
                    continue
                ref = t0[out.tile_index].layer_ref(job.aoi, out.layer, out.extension)
                stored.append(save_layer(storage, workdir, ref))
    return stored
