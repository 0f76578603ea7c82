"""Deleting an AOI: its stored files, and the Geocube records and datasets made for it.

What belongs to the AOI:

- files: every key under ``<AOI>/`` in the storage (products, layers, the ledger ``<AOI>/ingested.json``);
  another AOI's prefix is never listed, the accounts' usage records (``.accounts/``) neither;
- datasets: those of the containers that are the AOI's files (GetContainers on their URIs);
- records: the records of those datasets, and the records of the ledger's scenes (same name and time,
  carrying every tag of the scene).

Order, so that the Geocube never points at a missing file and a later ``delete`` still finds what is
left: datasets, then records, then files, the ledger last, only once everything else is gone. A record
is deleted only if it has no dataset left (``DeleteRecords`` with ``no_fail``): a record that another
AOI's datasets use is kept. Each item is reported on its own, removed, kept (with why) or failed.

Datasets go with the Admin service's ``DeleteDatasets``, which deletes *every* dataset of the records x
instances it is given, wherever its file is. So it is asked only for the AOI's records, each with the
instances the AOI's files hold for it (records sharing one set of instances in one call), and first as a
simulation: a record with more datasets of those instances than the AOI's files hold (a scene another
AOI ingested too: records are reused across AOIs) is not asked for, and its datasets, record and files
are kept, saying why. Whatever the server answers, GetContainers on the AOI's files then says what went.
A server where deletion is a job (upstream since 1.0.3, ``GeocubeClient.delete_datasets``) ignores
``simulate`` and answers no lines: there the simulation already deletes, and a shared record's other
datasets are not protected.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from catalogue.errors import CatalogueError
from catalogue.ledger import LEDGER_NAME, entries_prefix, ledger_key, load_ledger
from catalogue.models import Scene
from catalogue.records import find_scene_records
from common.errors import IngestError, PermanentError
from geocube_client.client import GeocubeClient
from geocube_client.convert import deleted_dataset_from_line
from geocube_client.errors import GeocubeError, GeocubeNotFoundError, GeocubeTemporaryError
from storage.base import Storage

log = logging.getLogger(__name__)

NOT_INDEXABLE = (".zip", ".json")  # products and documents: never a Geocube container
BATCH = 100


@dataclass(frozen=True)
class Item:
    kind: str  # file, dataset, record, ledger
    id: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.kind} {self.id}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class DeletePlan:
    aoi: str
    files: list[Item] = field(default_factory=list)
    datasets: list[Item] = field(default_factory=list)
    records: list[Item] = field(default_factory=list)
    ledger: Item | None = None
    ledger_entries: list[str] = field(default_factory=list)  # its per-run entries, removed with it
    notes: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.files or self.datasets or self.records or self.ledger)

    def describe(self, *, max_each: int = 20) -> str:
        if self.is_empty:
            return f"AOI {self.aoi}: nothing to delete"
        lines = [f"AOI {self.aoi}: will delete"]
        for name, items in (
            ("Geocube datasets", self.datasets),
            ("Geocube records", self.records),
            ("stored files", self.files),
        ):
            lines.append(f"  {len(items)} {name}")
            lines += [f"    {i.line()}" for i in items[:max_each]]
            if len(items) > max_each:
                lines.append(f"    ... and {len(items) - max_each} more")
        if self.ledger is not None:
            lines.append(f"  the ledger {self.ledger.id}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass
class DeleteReport:
    aoi: str
    removed: list[Item] = field(default_factory=list)
    kept: list[tuple[Item, str]] = field(default_factory=list)
    failed: list[tuple[Item, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.kept and not self.failed

    def describe(self, *, max_each: int = 20) -> str:
        counts: dict[str, int] = {}
        for item in self.removed:
            counts[item.kind] = counts.get(item.kind, 0) + 1
        removed = ", ".join(f"{n} {k}(s)" for k, n in counts.items()) or "nothing"
        lines = [f"AOI {self.aoi}: removed {removed}"]
        for title, pairs in (("kept", self.kept), ("failed", self.failed)):
            if pairs:
                lines.append(f"{title} ({len(pairs)}):")
                lines += [f"  {i.line()}: {why}" for i, why in pairs[:max_each]]
                if len(pairs) > max_each:
                    lines.append(f"  ... and {len(pairs) - max_each} more")
        return "\n".join(lines)


def _containers(geocube: GeocubeClient, uris: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """uri -> [(record id, instance id)] of the indexed ones. GetContainers is all-or-nothing (one
    unknown URI: NOT_FOUND), so a batch that fails is asked again one URI at a time."""
    found: dict[str, list[tuple[str, str]]] = {}
    for start in range(0, len(uris), BATCH):
        batch = list(uris[start : start + BATCH])
        try:
            containers = geocube.get_containers(batch)
        except GeocubeNotFoundError:
            containers = []
            for uri in batch:
                try:
                    containers += geocube.get_containers([uri])
                except GeocubeNotFoundError:
                    continue
        for c in containers:
            if c.datasets:
                found[c.uri] = [(d.record_id, d.instance_id) for d in c.datasets]
    return found


def plan_delete(geocube: GeocubeClient, storage: Storage, aoi: str) -> DeletePlan:
    """What deleting ``aoi`` removes (nothing is removed here)."""
    if not aoi or "/" in aoi or aoi.startswith("."):
        raise PermanentError(f"AOI {aoi!r}: not an AOI name (empty, with '/', or starting with '.')")
    plan = DeletePlan(aoi)
    keys = [k for k in storage.list_keys(f"{aoi}/") if k.startswith(f"{aoi}/")]
    ledger_at = ledger_key(aoi)
    plan.ledger_entries = [k for k in keys if k.startswith(entries_prefix(aoi))]
    scenes: list[Scene] = []
    if ledger_at in keys or plan.ledger_entries:
        plan.ledger = Item("ledger", ledger_at)
        try:
            scenes = list(load_ledger(storage, aoi).scenes.values())
        except CatalogueError as exc:
            plan.notes.append(f"the ledger is unreadable, its scenes' records are not looked for: {exc}")
    uris = {storage.uri_of(k): k for k in keys if k != ledger_at and k not in plan.ledger_entries}
    indexable = [u for u, k in uris.items() if not k.lower().endswith(NOT_INDEXABLE)]
    indexed = _containers(geocube, indexable)
    records = {record_id: source_id for source_id, record_id in find_scene_records(geocube, scenes).items()}
    for uri, datasets in indexed.items():
        for record_id, instance_id in datasets:
            plan.datasets.append(Item("dataset", f"{record_id}:{instance_id}", uris[uri]))
            records.setdefault(record_id, "")
    plan.records = [Item("record", rid, name) for rid, name in sorted(records.items(), key=lambda kv: kv[1])]
    plan.files = [Item("file", k, "indexed" if u in indexed else "") for u, k in uris.items()]
    return plan


def _record_of(dataset: Item) -> str:
    return dataset.id.split(":", 1)[0]


def _shared_records(lines: Sequence[str], expected: Counter[str], ours: set[str]) -> dict[str, str]:
    """record id -> why, for the records the simulation shows with datasets beyond the AOI's files
    (``ours``: their URIs, which the server names as they are when they have no subdir)."""
    seen: Counter[str] = Counter()
    elsewhere: dict[str, str] = {}
    for line in lines:
        read = deleted_dataset_from_line(line)
        if read is None:
            continue  # not upstream's format: the counts of the others still hold
        seen[read.record_id] += 1
        if read.container not in ours:
            elsewhere.setdefault(read.record_id, read.container)
    return {
        rid: (
            f"the Geocube has {n} dataset(s) of this record and these instances, {expected[rid]} in this "
            f"AOI's files (another AOI ingested the scene too: {elsewhere.get(rid, 'another file')}); "
            "DeleteDatasets would delete them all, so they are kept. Delete this AOI's dataset with the "
            "Geocube's own tools (its deletion job takes file patterns), then run delete again"
        )
        for rid, n in seen.items()
        if n > expected[rid]
    }


def _delete_datasets(
    geocube: GeocubeClient, storage: Storage, plan: DeletePlan, report: DeleteReport
) -> list[Item]:
    """Delete the plan's datasets (see the module docstring); return those that remain."""
    instances_of: dict[str, set[str]] = defaultdict(set)
    for dataset in plan.datasets:
        instances_of[_record_of(dataset)].add(dataset.id.split(":", 1)[1])
    groups: dict[frozenset[str], list[str]] = defaultdict(list)
    for record_id, wanted in instances_of.items():
        groups[frozenset(wanted)].append(record_id)
    expected = Counter(_record_of(d) for d in plan.datasets)
    uris = sorted({storage.uri_of(d.detail) for d in plan.datasets})
    why_kept: dict[str, str] = {}
    why_failed: dict[str, str] = {}
    for group, record_ids in groups.items():
        instance_ids = sorted(group)
        try:
            why_kept |= _shared_records(
                geocube.delete_datasets(record_ids, instance_ids, simulate=True), expected, set(uris)
            )
            asked = [r for r in record_ids if r not in why_kept]
            if asked:
                geocube.delete_datasets(asked, instance_ids)
        except GeocubeNotFoundError:
            pass  # a server whose deletion is a job says so when nothing is left: checked below
        except (GeocubeError, GeocubeTemporaryError) as exc:
            why_failed |= dict.fromkeys(record_ids, f"DeleteDatasets failed: {str(exc)[:300]}")
    left = {(uri, r, i) for uri, pairs in _containers(geocube, uris).items() for r, i in pairs}
    remaining = []
    for dataset in plan.datasets:
        record_id, instance_id = dataset.id.split(":", 1)
        if (storage.uri_of(dataset.detail), record_id, instance_id) not in left:
            report.removed.append(dataset)
            continue
        remaining.append(dataset)
        if record_id in why_kept:
            report.kept.append((dataset, why_kept[record_id]))
        else:
            report.failed.append((dataset, why_failed.get(record_id, "still indexed after DeleteDatasets")))
    return remaining


def apply_delete(geocube: GeocubeClient, storage: Storage, plan: DeletePlan) -> DeleteReport:
    """Remove what ``plan`` lists, in order (datasets, records, files, ledger), item by item."""
    report = DeleteReport(plan.aoi)
    records_in_use = set()
    files_in_use = set()
    for dataset in _delete_datasets(geocube, storage, plan, report) if plan.datasets else []:
        records_in_use.add(_record_of(dataset))
        files_in_use.add(dataset.detail)
    for record in plan.records:
        if record.id in records_in_use:
            report.kept.append((record, "some of its datasets are kept (above)"))
            continue
        try:
            deleted = geocube.delete_records([record.id], no_fail=True)
        except GeocubeError as exc:
            report.failed.append((record, str(exc)[:300]))
            continue
        if deleted:
            report.removed.append(record)
        else:
            report.kept.append(
                (record, "it still has datasets (another AOI's, or ones not in this AOI's files)")
            )
    for file in plan.files:
        if file.id in files_in_use:
            report.kept.append((file, "a dataset still indexed from it is kept (above)"))
            continue
        try:
            storage.delete(file.id)
        except (IngestError, OSError) as exc:
            report.failed.append((file, str(exc)[:300]))
            continue
        report.removed.append(file)
    if plan.ledger is not None:
        if report.complete:
            try:
                for entry in plan.ledger_entries:
                    storage.delete(entry)
                storage.delete(plan.ledger.id)  # the snapshot last: a later delete still finds the AOI
                report.removed.append(plan.ledger)
            except (IngestError, OSError) as exc:
                report.failed.append((plan.ledger, str(exc)[:300]))
        else:
            report.kept.append(
                (
                    plan.ledger,
                    f"kept while items of the AOI remain ({LEDGER_NAME}: status and a later delete read it)",
                )
            )
    log.info("%s: delete: %d removed, %d kept, %d failed", plan.aoi, len(report.removed), len(report.kept),
             len(report.failed))  # fmt: skip
    return report
