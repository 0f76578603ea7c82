"""Jobs too large to be flow parameters travel by reference.

Prefect refuses a flow run whose parameters exceed 512 KiB (HTTP 422): a Sentinel-1 scene of about 950
burst tiles does. Such a job is written to the AOI's storage (``<aoi>/_jobs/<sha256>.json``, content
addressed, so a retried parent writes the same object) and the child gets a :class:`JobRef`, which it
reads back. Jobs hold no secrets (module ``jobs.models``), and ``delete AOI`` removes these with the rest.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from common.errors import PermanentError
from storage import open_storage
from storage.errors import StorageNotFoundError

MAX_PARAMETER_BYTES = 256 * 1024  # half of Prefect's limit: the run's other fields need room too
_J = TypeVar("_J", bound=BaseModel)


class JobRef(BaseModel):
    """Where a job's JSON was written (and what names the child run)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    storage_uri: str
    key: str
    aoi: str
    item: str  # the scene or tile the job is about, for the child run's name
    size_bytes: int


def job_parameters(job: BaseModel, *, aoi: str, item: str, storage_uri: str) -> dict[str, object]:
    """The child's parameters: ``{"job": ...}``, or ``{"job_ref": ...}`` when the job is too large."""
    dumped = job.model_dump(mode="json")
    ref = stash_if_large(dumped, aoi=aoi, item=item, storage_uri=storage_uri)
    return {"job": dumped} if ref is None else {"job_ref": ref.model_dump(mode="json")}


def stash_if_large(data: object, *, aoi: str, item: str, storage_uri: str) -> JobRef | None:
    """None when ``data`` (JSON-able) fits a flow parameter; else where it was written, as a JobRef."""
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    if len(text.encode()) <= MAX_PARAMETER_BYTES:
        return None
    digest = hashlib.sha256(text.encode()).hexdigest()
    key = f"{aoi}/_jobs/{digest}.json"
    storage = open_storage(storage_uri)
    with tempfile.TemporaryDirectory(prefix="job-") as tmp:
        local = Path(tmp) / "job.json"
        local.write_text(text)
        storage.upload(local, key)
    return JobRef(storage_uri=storage_uri, key=key, aoi=aoi, item=item, size_bytes=len(text.encode()))


def load_document(ref: JobRef) -> dict[str, object]:
    """The JSON document a :class:`JobRef` names (an interchange document given by reference).

    Raises:
        PermanentError: it is not in the storage, or not a JSON object.
    """
    data = json.loads(_read(ref))
    if not isinstance(data, dict):
        raise PermanentError(f"{ref.item}: {ref.key} in {ref.storage_uri} is not a JSON object")
    return data


def _read(ref: JobRef) -> str:
    with tempfile.TemporaryDirectory(prefix="job-") as tmp:
        local = Path(tmp) / "job.json"
        try:
            open_storage(ref.storage_uri).download(ref.key, local)
        except StorageNotFoundError:
            raise PermanentError(
                f"job {ref.item}: {ref.key} is not in {ref.storage_uri} (the parent wrote it there); run "
                "the ingestion again"
            ) from None
        return local.read_text()


def load_job(ref: JobRef, model: type[_J]) -> _J:
    """The job a :class:`JobRef` names.

    Raises:
        PermanentError: it is not in the storage (removed since, or another storage).
    """
    return model.model_validate_json(_read(ref))


def document_parameters(
    document: dict[str, object], *, kind: str, aoi: str, storage_uri: str
) -> dict[str, object]:
    """The ingest flow's parameters for a scenes or tiles document (``kind``): itself, or a
    ``document_ref`` to it in the storage when it is too large for Prefect (about 950 scenes).

    Raises:
        PermanentError: it is too large and there is no storage to write it to.
    """
    size = len(json.dumps(document, separators=(",", ":")).encode())
    if size <= MAX_PARAMETER_BYTES:
        return {kind: document}
    if not storage_uri:
        raise PermanentError(
            f"the {kind} document ({size} bytes) is too large for a flow parameter and there is no "
            "storage to pass it through: set GEOCUBE_INGESTER_STORAGE_URI (or --storage, or the payload's "
            "storage_uri)"
        )
    ref = stash_if_large(document, aoi=aoi, item=f"{aoi} {kind} document", storage_uri=storage_uri)
    return {kind: document} if ref is None else {"document_ref": ref.model_dump(mode="json")}
