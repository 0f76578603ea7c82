"""Account usage across runs: the bytes each provider account fetched in a rolling window, and its quota.

CDSE allows an account 12 TB per rolling 30 days; other providers publish no byte quota, so their usage
is only counted. Every download by an account writes one small record in the storage::

    .accounts/<provider>/<account>/<YYYY-MM-DD>/<HHMMSS>-<bytes>-<scene>-<random>.json
        {"bytes": n, "scene": ..., "at": ...}

One file per download, never a shared counter read, changed and written back: workers that download at
the same time, on one host or several, never lose each other's counts, and it works the same on object
storage. (AOI folders cannot clash: an AOI name has no ``.``.) ``usage`` sums the records of the window
from their names alone (one listing, no file read); records older than the window are deleted as new
ones are written. The account is the provider's
username (made safe for a path), never a password or a token.

``quota_lines`` is what ``plan`` and the parent flow show before any download: used so far, what the run
adds at most (the catalogue's sizes), and a warning when that would cross the quota.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from catalogue.models import Constellation
from common.errors import IngestError
from common.settings import Settings
from providers.downloaders import provider_names
from storage import open_storage
from storage.base import Storage

log = logging.getLogger(__name__)

PREFIX = ".accounts"
DEFAULT_WINDOW_DAYS = 30


@dataclass(frozen=True, slots=True)
class Quota:
    """Bytes an account may fetch in a rolling window of ``days``."""

    bytes: int
    days: int = DEFAULT_WINDOW_DAYS


# Published byte quotas (CDSE: "12 TB per rolling 30 days", the CDSE quotas page). The CDSE account
# serves its OData, S3 and burst downloads alike.
QUOTAS: dict[str, Quota] = {"cdse": Quota(12 * 10**12)}
# Provider name -> (quota family, the settings field holding the account's username).
_ACCOUNTS: dict[str, tuple[str, str]] = {
    "cdse": ("cdse", "cdse_username"),
    "cdse-bursts": ("cdse", "cdse_username"),
    "cdse-s3": ("cdse", "cdse_s3_access_key"),
    "creodias": ("creodias", "creodias_username"),
    "dhus": ("dhus", "dhus_user"),
    "oneatlas": ("oneatlas", "oneatlas_username"),
    "asf": ("asf", ""),
    "asf-bursts": ("asf", ""),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


@dataclass(frozen=True, slots=True)
class Account:
    """One account of a provider family: where its usage is counted."""

    family: str
    name: str

    @property
    def prefix(self) -> str:
        return f"{PREFIX}/{self.family}/{self.name}/"

    @property
    def quota(self) -> Quota | None:
        return QUOTAS.get(self.family)


def account_of(provider: str, settings: Settings) -> Account | None:
    """The account ``provider`` downloads with, from the settings; None for a provider without one
    (a local archive, a plain URL). An account known only by its token (Earthdata) is ``default``."""
    entry = _ACCOUNTS.get(provider)
    if entry is None:
        return None
    family, field = entry
    user = str(getattr(settings, field, "") or "") if field else ""
    return Account(family, _UNSAFE.sub("_", user.strip())[:100] or "default")


def record_fetch(
    storage: Storage, account: Account, nbytes: int, *, scene: str, at: datetime | None = None
) -> str:
    """Count ``nbytes`` fetched by ``account`` for ``scene``; return the record's key. Records older
    than the window are deleted (best effort: a failure there never fails a download)."""
    at = at or datetime.now(UTC)
    record = {"bytes": int(nbytes), "scene": scene, "at": at.isoformat()}
    at = at.astimezone(UTC)
    name = f"{at:%H%M%S}-{int(nbytes)}-{_UNSAFE.sub('_', scene)[:150]}-{uuid.uuid4().hex[:12]}.json"
    key = f"{account.prefix}{at:%Y-%m-%d}/{name}"
    with tempfile.TemporaryDirectory(prefix="usage-") as tmp:
        path = Path(tmp) / "record.json"
        path.write_text(json.dumps(record))
        storage.upload(path, key, move=True)
    _prune(storage, account, at)
    return key


def usage(storage: Storage, account: Account, *, now: datetime | None = None, days: int | None = None) -> int:
    """Bytes ``account`` fetched in the last ``days`` (default: its quota's window, else 30)."""
    now = now or datetime.now(UTC)
    days = days or (account.quota.days if account.quota else DEFAULT_WINDOW_DAYS)
    since = now - timedelta(days=days)
    return sum(_bytes_of(key, since) for key in storage.list_keys(account.prefix))


def _bytes_of(key: str, since: datetime) -> int:
    """The bytes a record counts, read from its key (``<day>/<HHMMSS>-<bytes>-<scene>-…``): listing
    the records is all a usage sum reads, never one file per download."""
    day = _day_of(key)
    time_text, _, rest = key.rsplit("/", 1)[-1].partition("-")
    nbytes_text = rest.partition("-")[0]
    try:
        clock = (
            time(int(time_text[:2]), int(time_text[2:4]), int(time_text[4:6]))
            if len(time_text) == 6
            else None
        )
        at = datetime.combine(day, clock, UTC) if day and clock else None
        nbytes = int(nbytes_text)
    except ValueError:
        at = None
    if at is None:
        log.warning("usage record %s is not named as a record: not counted", key)
        return 0
    return nbytes if at >= since and nbytes > 0 else 0


def _day_of(key: str) -> date | None:
    parts = key.split("/")
    try:
        return date.fromisoformat(parts[-2])
    except (IndexError, ValueError):
        return None


def _prune(storage: Storage, account: Account, now: datetime) -> None:
    window = account.quota.days if account.quota else DEFAULT_WINDOW_DAYS
    oldest = (now - timedelta(days=window + 1)).date()
    try:
        for key in storage.list_keys(account.prefix):
            day = _day_of(key)
            if day is not None and day < oldest:
                storage.delete(key)
    except OSError as exc:
        log.debug("usage records of %s not pruned: %s", account.prefix, exc)


def record_download(storage_uri: str, provider: str, nbytes: int, *, scene: str, settings: Settings) -> None:
    """Count a download in its account's usage, in the job's storage; never fails the download."""
    account = account_of(provider, settings)
    if account is None or nbytes <= 0:
        return
    try:
        record_fetch(open_storage(storage_uri), account, nbytes, scene=scene)
    except (IngestError, OSError) as exc:
        log.warning("%s: the %d bytes fetched by %s were not counted in its usage: %s", scene, nbytes,
                    provider, exc)  # fmt: skip


def accounts_for(settings: Settings, constellations: Iterable[Constellation]) -> list[Account]:
    """The accounts of the providers configured for ``constellations``, in order, each once."""
    found: dict[Account, None] = {}
    for constellation in constellations:
        for name in provider_names(settings, constellation):
            account = account_of(name, settings)
            if account is not None:
                found[account] = None
    return list(found)


def quota_lines(
    storage: Storage, accounts: Iterable[Account], estimate: int, *, now: datetime | None = None
) -> list[str]:
    """One line per account: fetched in its window, what this run adds at most, the quota; a line
    starts with ``over quota:`` when the run would cross it."""
    lines: list[str] = []
    for account in dict.fromkeys(accounts):
        used = usage(storage, account, now=now)
        quota = account.quota
        window = quota.days if quota else DEFAULT_WINDOW_DAYS
        text = (
            f"{account.family} account {account.name}: {_size(used)} fetched in the last {window} days"
            f", this run up to {_size(estimate)}"
        )
        if quota is None:
            lines.append(text + " (no published byte quota)")
        elif used + estimate > quota.bytes:
            lines.append(f"over quota: {text}, quota {_size(quota.bytes)} per {quota.days} days")
        else:
            lines.append(f"{text}, quota {_size(quota.bytes)} per {quota.days} days")
    return lines


def _size(nbytes: int) -> str:
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6)):
        if nbytes >= scale:
            return f"{nbytes / scale:.2f} {unit}"
    return f"{nbytes} B"
