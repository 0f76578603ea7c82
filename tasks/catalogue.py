"""Catalogue tasks: the ingestion's use cases (``jobs.ingestion``) with Prefect's retries."""

from __future__ import annotations

from prefect import task

from jobs import ingestion
from tasks.retry import RETRY_DELAYS_S, retry_if_temporary

prepare_task = task(
    name="validate-payload",
    retries=3,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_if_temporary,
)(ingestion.prepare)
plan_task = task(
    name="plan-ingestion",
    retries=3,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_if_temporary,
)(ingestion.plan)
quota_task = task(name="account-quotas", retries=2, retry_condition_fn=retry_if_temporary)(
    ingestion.quota_report
)
records_task = task(
    name="create-records",
    retries=3,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_if_temporary,
)(ingestion.create_records)
jobs_task = task(name="make-jobs")(ingestion.jobs_for)
delete_unused_records_task = task(
    name="delete-unused-records",
    retries=2,
    retry_condition_fn=retry_if_temporary,
)(ingestion.remove_unused_records)
update_ledger_task = task(name="update-ledger", retries=2, retry_condition_fn=retry_if_temporary)(
    ingestion.update_ledger
)
