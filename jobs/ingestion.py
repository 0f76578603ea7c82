"""The use cases of an ingestion, as plain functions: what the parent flow's tasks and the CLI both call.

Each one opens what it needs from the settings (the Geocube, the storage: they hold secrets, so they are
never passed as parameters) and makes its domain calls. ``tasks.catalogue`` adds retries to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict

from catalogue.interchange import InterchangeDocument, read_interchange, write_interchange
from catalogue.ledger import Ledger, add_to_ledger, load_ledger
from catalogue.plan import IngestionPlan, plan_ingestion
from catalogue.records import RecordsOutcome, delete_unused_records, ensure_records, scene_record_tags
from common.settings import load_settings
from graphs.loader import S1_ENGINE_KEY, S1_VARIANT_GRAPHS, choose_s1_engine, load_graph
from jobs.models import JobStatus, SceneJob, TileJob
from jobs.payload import Payload
from jobs.planning import make_jobs
from jobs.quota import accounts_for, quota_lines
from jobs.resources import open_geocube, storage_uri_for
from jobs.summary import IngestionSummary
from jobs.validation import lenient_graph_config
from jobs.validation import validate_payload as check_payload
from providers.registry import build_searchers
from storage import open_storage


def validate(
    raw: dict[str, Any] | str | bytes,
    *,
    with_geocube: bool = True,
    require_engines: bool = True,
    engines: frozenset[str] | None = None,
) -> tuple[Payload, dict[str, str]]:
    """Parse the payload and check it against the graphs and (``with_geocube``) the Geocube: every
    problem at once, before anything is downloaded. Returns the payload and its layers' instance ids.
    ``require_engines``: a graph step whose engine is missing here is a problem (else only a warning:
    a plan runs no step). ``engines``: those the processing pool declares (None: this machine's)."""
    settings = load_settings()
    config = lenient_graph_config(raw)
    graphs = partial(load_graph, graph_root=settings.graph_root, engines=engines, config=config)
    check = partial(check_payload, raw, load_graph=graphs, require_engines=require_engines, engines=engines)
    if not with_geocube:
        payload, instances = check(geocube=None)
    else:
        with open_geocube(settings) as geocube:
            payload, instances = check(geocube=geocube)
    return pin_s1_engine(payload, engines), instances


def pin_s1_engine(payload: Payload, engines: frozenset[str] | None) -> Payload:
    """The payload with its Sentinel-1 graphs' variant decided once (``graph_config.s1_engine``), where it
    is validated: the download and processing workers then load the same variant whatever their own
    engines (the scene graph stores what the tile graph reads)."""
    names = {payload.scene_graph_name, payload.tile_graph_name} & set(S1_VARIANT_GRAPHS)
    if not names:
        return payload
    chosen = {choose_s1_engine(name, config=payload.graph_config, engines=engines) for name in names}
    (engine,) = chosen  # one config, one set of engines: one choice
    return payload.model_copy(update={"graph_config": {**payload.graph_config, S1_ENGINE_KEY: engine.value}})


class Prepared(BaseModel):
    """An ingestion checked before anything is searched or downloaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    payload: Payload
    instances_id: dict[str, str]
    storage_uri: str = ""
    document: InterchangeDocument | None = None


def prepare(
    raw: dict[str, Any] | str,
    *,
    document: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    engines: frozenset[str] | None = None,
) -> Prepared:
    """Check everything an ingestion needs before it starts: the payload (against the graphs and the
    Geocube), its storage (required unless ``dry_run``), and the scenes/tiles ``document`` given
    instead of a search. ``engines``: those the processing pool declares (None: this machine's)."""
    payload, instances_id = validate(raw, require_engines=not dry_run, engines=engines)
    return Prepared(
        payload=payload,
        instances_id=instances_id,
        storage_uri=storage_uri_for(payload.storage_uri, load_settings(), required=not dry_run),
        document=read_interchange(document) if document else None,
    )


def plan(prepared: Prepared) -> IngestionPlan:
    """The plan of a prepared ingestion (see :func:`make_plan`)."""
    return make_plan(prepared.payload, prepared.document, prepared.storage_uri)


def quota_report(storage_uri: str, plan: IngestionPlan) -> list[str]:
    """Each configured account's usage against its quota with what ``plan`` adds at most
    (``jobs.quota``); nothing without a storage (where usage is counted) or a planned download."""
    estimate, _ = plan.download_estimate()
    if not storage_uri or not plan.scenes:
        return []
    settings = load_settings()
    accounts = accounts_for(settings, [plan.constellation])
    return quota_lines(open_storage(storage_uri), accounts, estimate) if accounts else []


def plan_document(prepared: Prepared, plan: IngestionPlan) -> dict[str, Any]:
    """The plan as the original's interchange document (what a dry run returns)."""
    payload = prepared.payload
    document = prepared.document
    return write_interchange(
        plan.scenes,
        plan.tiles,
        aoi=plan.aoi,
        properties=document.properties if document else None,
        graph_name=payload.scene_graph_name,
        tile_graph_name=payload.tile_graph_name,
        graph_config=payload.graph_config,
        is_retriable=payload.is_retriable,
        storage_uri=payload.storage_uri,
        instances_id=prepared.instances_id,
        originals=document.originals if document else None,
    )


def jobs_for(
    prepared: Prepared, plan: IngestionPlan, records: RecordsOutcome
) -> tuple[list[SceneJob], list[TileJob]]:
    """One job per scene and per tile (tiles in date order), with their records."""
    return make_jobs(
        prepared.payload,
        plan,
        instances_id=prepared.instances_id,
        record_ids=records.record_ids,
        storage_uri=prepared.storage_uri,
    )


def make_plan(
    payload: Payload, document: InterchangeDocument | None = None, storage_uri: str = ""
) -> IngestionPlan:
    """Search (or read the document), cut tiles, link them with what the AOI already holds (its ledger
    in ``storage_uri``; none without storage)."""
    settings = load_settings()
    searchers = (
        [] if document is not None and document.scenes else build_searchers(settings, payload.constellation)
    )
    return plan_ingestion(
        payload.plan_request(),
        searchers,
        ledger=load_ledger(open_storage(storage_uri), payload.name)
        if storage_uri
        else Ledger(aoi=payload.name),
        document=document,
        annotation_patterns=settings.annotation_patterns(),
        timeout_s=settings.http_timeout_s,
    )


def create_records(payload: Payload, plan: IngestionPlan) -> RecordsOutcome:
    """The plan's records in the Geocube: identical ones reused, the others created."""
    tiles = plan.tiles_by_scene()
    tags = {s.source_id: scene_record_tags(s, tiles[s.source_id]) for s in plan.scenes}
    with open_geocube(load_settings()) as geocube:
        return ensure_records(geocube, plan.scenes, tags, record_tags=payload.record_tags)


def remove_unused_records(records: RecordsOutcome, summary: IngestionSummary) -> int:
    """Delete the records this run created for scenes that were finally not downloaded."""
    downloaded = {r.id for r in summary.rows if r.kind == "scene" and r.status == JobStatus.DONE}
    used = [record_id for scene_id, record_id in records.record_ids.items() if scene_id in downloaded]
    if set(records.created) <= set(used):
        return 0  # nothing to delete: no Geocube call
    with open_geocube(load_settings()) as geocube:
        return delete_unused_records(geocube, records.created, used)


def update_ledger(payload: Payload, plan: IngestionPlan, status: dict[str, str], storage_uri: str) -> str:
    """Record this run's scenes and tiles, with each tile's outcome (by tile key), in the AOI's ledger."""
    return add_to_ledger(open_storage(storage_uri), payload.name, plan.scenes, plan.tiles, status)
