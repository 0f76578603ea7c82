"""The outcome of an ingestion: counts, and bytes fetched per provider (to check a quota)."""

from __future__ import annotations

from jobs.models import JobStatus
from jobs.summary import IngestionSummary, OutcomeRow


def row(kind: str, status: JobStatus, provider: str = "", size: int = 0) -> OutcomeRow:
    return OutcomeRow(
        kind=kind, id="x", date="2024-01-05", status=status, provider=provider, bytes_fetched=size
    )


def test_the_headline_counts_and_sums_the_bytes_each_provider_delivered() -> None:
    summary = IngestionSummary(
        aoi="A",
        mode="local",
        rows=[
            row("scene", JobStatus.DONE, "cdse", 1_200_000_000),
            row("scene", JobStatus.DONE, "cdse", 300_000_000),
            row("scene", JobStatus.DONE, "url", 50_000_000),
            row("scene", JobStatus.FAILED),
            row("tile", JobStatus.DONE),
        ],
    )
    assert summary.fetched_by_provider() == {"cdse": 1_500_000_000, "url": 50_000_000}
    assert summary.headline() == (
        "A: scenes: 3/4 done, 1 failed, 0 skipped; tiles: 1/1 done, 0 failed, 0 skipped; "
        "fetched cdse 1.50 GB, url 0.05 GB"
    )
    assert (
        "fetched"
        not in IngestionSummary(aoi="A", mode="local", rows=[row("tile", JobStatus.DONE)]).headline()
    )


def test_a_scene_served_by_a_burst_service_and_by_a_whole_product_counts_for_each() -> None:
    mixed = OutcomeRow(
        kind="scene", id="S1", date="2024-01-05", status=JobStatus.DONE, provider="cdse-bursts, cdse",
        bytes_fetched=5_300_000_000, bytes_by_provider={"cdse-bursts": 300_000_000, "cdse": 5_000_000_000},
    )  # fmt: skip
    summary = IngestionSummary(
        aoi="A", mode="local", rows=[mixed, row("scene", JobStatus.DONE, "cdse", 10**9)]
    )
    assert summary.fetched_by_provider() == {"cdse-bursts": 300_000_000, "cdse": 6_000_000_000}
