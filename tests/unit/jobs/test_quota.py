"""Account usage across runs: one record per download, summed over the rolling window, against a quota."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalogue.models import Constellation, Scene
from catalogue.plan import IngestionPlan
from common.settings import Settings
from jobs.ingestion import quota_report
from jobs.quota import Account, account_of, quota_lines, record_download, record_fetch, usage
from storage import LocalStorage

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
CDSE = Account("cdse", "someone@example.org")


def test_usage_sums_the_downloads_of_the_window_only_and_old_records_are_pruned(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    old = record_fetch(storage, CDSE, 7_000, scene="OLD", at=NOW - timedelta(days=40))
    record_fetch(storage, CDSE, 5_000, scene="EDGE", at=NOW - timedelta(days=31))
    record_fetch(storage, CDSE, 1_000, scene="A", at=NOW - timedelta(days=29))
    record_fetch(storage, CDSE, 2_000, scene="B", at=NOW - timedelta(hours=1))
    record_fetch(storage, Account("cdse", "other"), 9_000, scene="C", at=NOW)

    assert usage(storage, CDSE, now=NOW) == 3_000
    assert usage(storage, CDSE, now=NOW, days=60) == 8_000  # EDGE kept (window + 1 day), OLD pruned
    assert not storage.exists(old)  # beyond the window and its margin: deleted as records were added


def test_downloads_counted_at_the_same_time_are_all_kept(tmp_path: Path) -> None:
    """No shared counter is read and written back: 64 workers at once lose none of their counts."""
    storage = LocalStorage(tmp_path)
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda i: record_fetch(storage, CDSE, i + 1, scene="S", at=NOW), range(64)))
    assert usage(storage, CDSE, now=NOW) == sum(range(1, 65))


def test_the_account_is_the_providers_username_made_safe_and_never_a_secret() -> None:
    settings = Settings(cdse_username="me/../x@example.org", cdse_password="pa55word")  # type: ignore[arg-type]
    account = account_of("cdse", settings)
    assert account == Account("cdse", "me_.._x@example.org")
    assert "/" not in account.name
    assert account_of("cdse-bursts", settings) == account  # one account, one quota, whatever the service
    assert account_of("local", settings) is None
    assert account_of("url", settings) is None
    assert account_of("asf", settings) == Account("asf", "default")  # a token only: no name to use


def test_quota_lines_warn_before_a_run_would_cross_the_quota(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    record_fetch(storage, CDSE, 11_900 * 10**9, scene="A", at=NOW - timedelta(days=2))
    (line,) = quota_lines(storage, [CDSE, CDSE], 50 * 10**9, now=NOW)
    assert line == (
        "cdse account someone@example.org: 11.90 TB fetched in the last 30 days, this run up to 50.00 GB, "
        "quota 12.00 TB per 30 days"
    )
    (over,) = quota_lines(storage, [CDSE], 200 * 10**9, now=NOW)
    assert over.startswith("over quota: cdse account someone@example.org: 11.90 TB")
    (free,) = quota_lines(storage, [Account("dhus", "u")], 10**6, now=NOW)
    assert free.endswith("(no published byte quota)")


def test_a_download_that_cannot_be_counted_is_not_failed(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(cdse_username="u")
    with caplog.at_level(logging.WARNING, logger="jobs.quota"):
        record_download("relative/storage", "cdse", 10, scene="S", settings=settings)
    assert "were not counted" in caplog.text
    record_download("relative/storage", "local", 10, scene="S", settings=settings)  # no account: no I/O


def test_plan_reports_the_configured_accounts_usage_and_what_it_adds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEOCUBE_INGESTER_PROVIDERS", "sentinel2=local,cdse; *=url")
    monkeypatch.setenv("GEOCUBE_INGESTER_CDSE_USERNAME", "someone@example.org")
    monkeypatch.setenv("GEOCUBE_INGESTER_CDSE_PASSWORD", "pa55word")
    record_fetch(LocalStorage(tmp_path), CDSE, 2 * 10**12, scene="A")
    scene = Scene(
        source_id="S2A_X",
        date=NOW,
        constellation=Constellation.SENTINEL2,
        footprint_wkt="POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))",
        metadata={"size_bytes": 800_000_000},
    )
    plan = IngestionPlan(aoi="A", constellation=Constellation.SENTINEL2, scenes=[scene], tiles=[])
    (line,) = quota_report(str(tmp_path), plan)
    assert line.startswith(
        "cdse account someone@example.org: 2.00 TB fetched in the last 30 days, this run up to 800"
    )
    assert "pa55word" not in line
    assert quota_report("", plan) == []  # no storage: nowhere usage is counted
    other = plan.model_copy(update={"constellation": Constellation.LANDSAT89})
    assert quota_report(str(tmp_path), other) == []  # url only: no account


def test_a_usage_sum_reads_only_the_listing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = LocalStorage(tmp_path)
    record_fetch(storage, CDSE, 1_234, scene="S1A_X-Y", at=NOW - timedelta(hours=2))

    def no_download(key: str, local_path: Path) -> None:
        raise AssertionError(f"{key} was read")

    monkeypatch.setattr(storage, "download", no_download)
    assert usage(storage, CDSE, now=NOW) == 1_234
