"""Sentinel-1 burst tiles in the download job: fetched alone where a burst provider has them.

A burst tile is stored as a *one-burst SAFE* (``catalogue.burst_safe``), the tile's ``__product__``
layer (``<aoi>/<scene>/tiles/<tile>/<scene>.zip``, holding ``<scene>.SAFE/``, what a processing job
imports as ``<scene>.SAFE``). For a scene job whose scene graph splits bursts (a step running
``python/split_s1_burst.py``, e.g. the built-in ``S1BurstSplit``):

1. each tile not stored yet is asked of the burst providers named in GEOCUBE_INGESTER_PROVIDERS
   (``cdse-bursts``, ``asf-bursts``), in order, one polarisation per call: every polarisation the
   payload's ``graph_config.polarisations`` names, else the product's (``1SDV``: VV and VH). The
   polarisations are merged into one SAFE and stored. A provider that fails for a tile, whatever the
   reason (it has not got the burst, it is busy, it refused the account, it delivered something that
   is not a one-burst SAFE), hands the tile to the next one, its reason logged;
2. the tiles no burst provider could deliver are left to the whole SLC: downloaded once by the
   product providers, then split by the scene graph, tile by tile.

Only the job's tiles are fetched: they are the bursts the AOI needs (planning dropped the others).
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from catalogue.burst_safe import check_one_burst_safe, merge_one_burst_safes
from catalogue.models import Constellation, Tile
from common.errors import IngestError
from common.settings import Settings
from graphs.model import Graph
from jobs.models import SceneJob
from jobs.workspace import scratch_dir
from providers.bursts import BurstDownloader
from providers.downloaders import BURST_PROVIDERS, provider_names
from providers.errors import BurstDeliveryError
from storage.base import Storage
from storage.layout import PRODUCT_LAYER, LayerRef, save_layer

log = logging.getLogger(__name__)

SPLIT_SCRIPT = "split_s1_burst.py"
# The polarisation code of an S1 product name (S1A_IW_SLC__1SDV_…: characters 14-15).
_POLARISATIONS = {
    "DV": ("VV", "VH"), "SV": ("VV",), "DH": ("HH", "HV"), "SH": ("HH",),
    "VV": ("VV",), "VH": ("VH",), "HH": ("HH",), "HV": ("HV",),
}  # fmt: skip


def splits_bursts(graph: Graph) -> bool:
    """Whether the scene graph cuts bursts out of the SLC (one of its steps runs split_s1_burst.py)."""
    return any(Path(step.command).name == SPLIT_SCRIPT for step in graph.processing_steps)


def is_burst_tile(tile: Tile) -> bool:
    return bool(tile.swath_id) and tile.tile_nr > 0


def wanted_polarisations(job: SceneJob) -> list[str]:
    """``graph_config.polarisations`` (``"VV VH"``, ``"VV,VH"``), else the product's by its name."""
    given = [p.upper() for p in re.split(r"[\s,]+", job.graph_config.get("polarisations", "")) if p]
    return given or list(_POLARISATIONS.get(job.scene.source_id[14:16], ()))


def burst_providers(settings: Settings, constellation: Constellation) -> list[BurstDownloader]:
    """The burst providers GEOCUBE_INGESTER_PROVIDERS names for ``constellation``, in order (those
    without their settings are left out)."""
    chain: list[BurstDownloader] = []
    for name in provider_names(settings, constellation):
        factory = BURST_PROVIDERS.get(name)
        provider = factory(settings) if factory is not None else None
        if provider is not None:
            chain.append(provider)
    return chain


@dataclass
class BurstsFetched:
    """What the burst providers delivered: stored URIs, bytes per tile, and the tiles left over."""

    stored: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)  # tile source_id -> bytes fetched
    providers: dict[str, str] = field(default_factory=dict)  # tile source_id -> provider name
    missing: list[Tile] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def bytes_fetched(self) -> int:
        return sum(self.sizes.values())

    def bytes_by_provider(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for tile, name in self.providers.items():
            totals[name] = totals.get(name, 0) + self.sizes[tile]
        return totals

    def summary(self) -> str:
        """``3 burst(s) by cdse-bursts, 118 MB per burst``, per provider."""
        parts = []
        for name in dict.fromkeys(self.providers.values()):
            sizes = [self.sizes[t] for t, p in self.providers.items() if p == name]
            parts.append(f"{len(sizes)} burst(s) by {name}, {sum(sizes) / len(sizes) / 1e6:.1f} MB per burst")
        return "; ".join(parts)


def fetch_bursts(
    job: SceneJob, settings: Settings, storage: Storage, providers: list[BurstDownloader]
) -> BurstsFetched:
    """Ask ``providers`` for each tile of ``job`` not stored yet; store what they deliver."""
    result = BurstsFetched()
    started = time.monotonic()
    pols = wanted_polarisations(job)
    if not pols and providers:
        log.warning("%s: no polarisation known (graph_config.polarisations); bursts not asked", job.label)
    with scratch_dir(settings.workdir, f"bursts-{job.scene.source_id}") as scratch:
        for index, tile in enumerate(job.tiles):
            ref = product_ref(job, tile)
            if storage.exists(ref.key):
                result.stored.append(storage.uri_of(ref.key))
                continue
            work = scratch / f"tile-{index}"
            for provider in providers if pols else []:
                try:
                    size, folder = _one_burst(job, tile, pols, provider, work)
                except IngestError as exc:
                    result.reasons.append(f"{tile.source_id}: {provider.name}: {exc}")
                    log.info("%s: %s: %s has not got it: %s", job.label, tile.source_id, provider.name, exc)
                    continue
                finally:
                    shutil.rmtree(work / provider.name, ignore_errors=True)
                result.stored.append(save_layer(storage, folder, ref))
                shutil.rmtree(folder, ignore_errors=True)
                result.sizes[tile.source_id] = size
                result.providers[tile.source_id] = provider.name
                log.info("%s: %s (%s %s): %d bytes from %s", job.label, tile.source_id, tile.swath_id,
                         "/".join(pols), size, provider.name)  # fmt: skip
                break
            else:
                result.missing.append(tile)
    result.seconds = time.monotonic() - started
    return result


def product_ref(job: SceneJob, tile: Tile) -> LayerRef:
    """Where a burst tile's one-burst SAFE is stored."""
    return LayerRef(job.aoi, job.scene.source_id, tile.source_id, job.scene.date, PRODUCT_LAYER, "SAFE")


def _one_burst(
    job: SceneJob, tile: Tile, pols: list[str], provider: BurstDownloader, work: Path
) -> tuple[int, Path]:
    """(bytes fetched, folder holding ``<scene>.SAFE``) of one tile from one provider."""
    parts = []
    for pol in pols:
        target = work / provider.name / pol
        target.mkdir(parents=True, exist_ok=True)
        parts.append(provider.download_burst(job.scene, tile, pol, target))
    fetched = sum(
        p.stat().st_size
        for p in (work / provider.name).rglob("*")
        if p.is_file() and not any(p.is_relative_to(part) for part in parts)
    )
    folder = work / "store"
    dest = folder / f"{job.scene.source_id}.SAFE"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if len(parts) == 1:
        shutil.move(parts[0], dest)
        delivered = check_one_burst_safe(dest)
    else:
        delivered = merge_one_burst_safes(parts, dest)
    if delivered.swath != tile.swath_id.upper():
        raise BurstDeliveryError(f"{provider.name} delivered swath {delivered.swath}, not {tile.swath_id}")
    return fetched, folder


@contextmanager
def tile_view(product_dir: Path, scene_id: str, index: int) -> Iterator[Path]:
    """A folder of its own for one tile of the split graph, where ``<scene>.SAFE`` links to the unpacked
    product (split_s1_burst.py replaces the link by the tile's cut; the product stays whole)."""
    folder = product_dir.parent / f"tile-{index}"
    folder.mkdir()
    safes = sorted(product_dir.glob("*.SAFE"))
    target = product_dir / f"{scene_id}.SAFE"
    (folder / f"{scene_id}.SAFE").symlink_to(target if target.exists() or not safes else safes[0])
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
