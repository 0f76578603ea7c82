"""Catalogue tasks: validate the payload, plan the ingestion, make the records, keep the ledger."""

from __future__ import annotations

from functools import partial
from typing import Any

from prefect import task

from catalogue.interchange import InterchangeDocument
from catalogue.ledger import Ledger, load_ledger, save_ledger
from catalogue.payload import Payload
from catalogue.plan import IngestionPlan, plan_ingestion
from catalogue.records import RecordsOutcome, delete_unused_records, ensure_records, scene_record_tags
from common.settings import load_settings
from graphs.loader import load_graph
from jobs.validation import validate_payload as check_payload
from providers.registry import build_searchers
from storage import open_storage
from tasks.resources import open_geocube
from tasks.retry import RETRY_DELAYS_S, retry_if_temporary


def validate_payload(raw: dict[str, Any]) -> tuple[Payload, dict[str, str]]:
    """Parse the payload and check it against the graphs and the Geocube; all problems at once."""
    settings = load_settings()
    with open_geocube(settings) as geocube:
        return check_payload(
            raw, load_graph=partial(load_graph, graph_root=settings.graph_root), geocube=geocube
        )


validate_payload_task = task(
    name="validate-payload",
    retries=3,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_if_temporary,
)(validate_payload)


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
        payload,
        searchers,
        ledger=load_ledger(open_storage(storage_uri), payload.name)
        if storage_uri
        else Ledger(aoi=payload.name),
        document=document,
        annotation_patterns=settings.annotation_patterns(),
        timeout_s=settings.http_timeout_s,
    )


plan_task = task(
    name="plan-ingestion",
    retries=3,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_if_temporary,
)(make_plan)


@task(
    name="create-records",
    retries=3,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_if_temporary,
)
def records_task(payload: Payload, plan: IngestionPlan) -> RecordsOutcome:
    tiles = plan.tiles_by_scene()
    tags = {s.source_id: scene_record_tags(s, tiles[s.source_id]) for s in plan.scenes}
    with open_geocube(load_settings()) as geocube:
        return ensure_records(geocube, plan.scenes, tags, record_tags=payload.record_tags)


@task(name="delete-unused-records", retries=2, retry_condition_fn=retry_if_temporary)
def delete_unused_records_task(created: list[str], used: list[str]) -> int:
    with open_geocube(load_settings()) as geocube:
        return delete_unused_records(geocube, created, used)


@task(name="update-ledger", retries=2, retry_condition_fn=retry_if_temporary)
def update_ledger_task(
    payload: Payload, plan: IngestionPlan, status: dict[str, str], storage_uri: str
) -> str:
    """Record this run's scenes and tiles, with each tile's outcome, in the AOI's ledger."""
    storage = open_storage(storage_uri)
    ledger = load_ledger(storage, payload.name)
    ledger.record(plan.scenes, plan.tiles, status)
    return save_ledger(storage, ledger)
