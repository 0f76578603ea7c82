"""The processing job: import a tile's inputs, run its graph, store, index and clean up.

Order (original-ingester.md §5.1 step 7, kept): out-files are saved, then indexed, then deletions run
last "to ease a retry"; they run after a failure too (e.g. deleting the product after a fatal error).
Then the record is tagged with ``processingDate``.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from catalogue.records import PROCESSING_DATE_TAG
from common.dataformat import DataFormat
from common.errors import IngestError, PermanentError
from common.settings import Settings
from geocube_client.client import GeocubeClient
from geocube_client.mapping import DataMapping, check_mapping, describe_format, suggested_variable
from geocube_client.models import IndexOutcome
from graphs.context import TileContext, make_tile_contexts
from graphs.execute import SelectedOutFile, select_in_files
from graphs.loader import load_graph
from graphs.model import Action
from jobs.config import run_graph
from jobs.dem import prepare_tile_dem
from jobs.models import JobResult, TileJob
from jobs.workspace import scratch_dir
from storage import open_storage
from storage.base import Storage
from storage.layout import LayerRef, delete_layer, import_layer, save_layer

log = logging.getLogger(__name__)


class NothingToIndexError(PermanentError):
    """An out-file to index has no data format."""


class MappingLosesDataError(PermanentError):
    """A layer's actual data mapping would not survive the cast into its variable's format."""


def _check_actual_mapping(
    job: TileJob, geocube: GeocubeClient, out: SelectedOutFile, instance_id: str, dformat: DataFormat
) -> None:
    """The mapping a tile really indexes (e.g. a product's own radiometric offset) against the variable.

    Validation checked the graph's declared mapping before any download; this is the backstop for what
    only the product knows.
    """
    mapping = DataMapping(dformat, out.ext_min_value, out.ext_max_value, out.exponent)
    variable = geocube.get_variable(instance_id=instance_id)
    verdict = check_mapping(mapping, variable.dformat)
    for warning in verdict.warnings:
        log.warning("%s: layer %s (%s) into %s: %s", job.label, out.layer, mapping.describe(),
                    variable.name, warning)  # fmt: skip
    if verdict.problems:
        raise MappingLosesDataError(
            f"{job.label}: layer {out.layer} would be indexed as {mapping.describe()}, which variable "
            f"{variable.name!r} ({describe_format(variable.dformat)}) cannot serve: "
            f"{'; '.join(verdict.problems)}; create the variable as "
            f"{describe_format(suggested_variable(mapping))}"
        )


def _contexts(job: TileJob) -> tuple[TileContext, TileContext, TileContext]:
    return make_tile_contexts(job.tile, constellation=job.scene.constellation, scene_date=job.scene.date)


def _ref(job: TileJob, ctx: TileContext, out: SelectedOutFile) -> LayerRef:
    return ctx.layer_ref(job.aoi, out.layer, out.extension)


def _index(
    job: TileJob, geocube: GeocubeClient, out: SelectedOutFile, uri: str, instance_id: str
) -> IndexOutcome:
    if out.dformat is None:
        raise NothingToIndexError(
            f"{job.label}: out-file {out.layer}.{out.extension} has no valid dformat_out"
        )
    _check_actual_mapping(job, geocube, out, instance_id, out.dformat)
    return geocube.index_dataset(
        uri=uri,
        record_id=job.scene.record_id,
        instance_id=instance_id,
        bands=list(range(1, out.nbands + 1)),
        dformat=out.dformat,
        real_min_value=out.ext_min_value,
        real_max_value=out.ext_max_value,
        exponent=out.exponent,
    )


def _handle_out_files(
    job: TileJob,
    geocube: GeocubeClient,
    storage: Storage,
    workdir: Any,
    tiles: tuple[TileContext, TileContext, TileContext],
    out_files: list[SelectedOutFile],
    result: JobResult,
) -> None:
    to_index: list[tuple[SelectedOutFile, str, str]] = []
    for out in out_files:
        if out.action not in (Action.TO_CREATE, Action.TO_INDEX):
            continue
        instance_id = job.instances_id.get(out.layer, "")
        if out.action == Action.TO_INDEX and not instance_id:
            log.info(
                "%s: layer %s is not in the payload's layers: not stored, not indexed", job.label, out.layer
            )
            continue
        uri = save_layer(storage, workdir, _ref(job, tiles[out.tile_index], out))
        result.stored.append(uri)
        if out.action == Action.TO_INDEX:
            to_index.append((out, uri, instance_id))
    for out, uri, instance_id in to_index:
        outcome = _index(job, geocube, out, uri, instance_id)
        log.info("%s: %s %s", job.label, outcome.value, uri)
        result.indexed.append(uri)
    for out in out_files:
        if out.action == Action.TO_DELETE:
            ref = _ref(job, tiles[out.tile_index], out)
            if delete_layer(storage, ref):
                result.deleted.append(f"{ref.scene_id}/{ref.tile_id}/{out.layer}.{out.extension}")
    if result.indexed and job.scene.record_id:
        try:
            geocube.add_records_tags(
                [job.scene.record_id], {PROCESSING_DATE_TAG: datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")}
            )
        except IngestError as exc:
            log.warning("%s: could not tag the record with processingDate: %s", job.label, exc)


def run_tile_job(job: TileJob, settings: Settings, geocube: GeocubeClient) -> JobResult:
    """Process one tile; return what was stored, indexed and deleted. Raise on failure."""
    started = time.monotonic()
    storage = open_storage(job.storage_uri)
    graph = load_graph(job.graph_name, graph_root=settings.graph_root, config=job.graph_config)
    tiles = _contexts(job)
    result = JobResult()
    with scratch_dir(settings.workdir, f"tile-{job.tile.source_id}") as workdir:
        for inp in select_in_files(graph, tiles=tiles):
            ctx = tiles[inp.tile_index]
            import_layer(storage, workdir, ctx.layer_ref(job.aoi, inp.layer, inp.extension))
        prepare_tile_dem(graph, job, workdir, settings)  # GLO-30 for the footprint, when the graph needs it
        outcome = run_graph(graph, job, tiles, workdir, settings)
        try:
            _handle_out_files(job, geocube, storage, workdir, tiles, outcome.out_files, result)
        except IngestError as exc:
            if outcome.error is None:
                raise
            outcome.error.add_note(f"and then the out-file actions failed too: {exc}")
            log.error("%s: out-file actions failed after the graph failed: %s", job.label, exc)
    if outcome.error is not None:
        raise outcome.error
    result.duration_s = time.monotonic() - started
    result.message = f"{len(result.indexed)} layer(s) indexed"
    return result
