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
    text = json.dumps(dumped, separators=(",", ":"), sort_keys=True)
    if len(text.encode()) <= MAX_PARAMETER_BYTES:
        return {"job": dumped}
    digest = hashlib.sha256(text.encode()).hexdigest()
    key = f"{aoi}/_jobs/{digest}.json"
    storage = open_storage(storage_uri)
    with tempfile.TemporaryDirectory(prefix="job-") as tmp:
        local = Path(tmp) / "job.json"
        local.write_text(text)
        storage.upload(local, key)
    ref = JobRef(storage_uri=storage_uri, key=key, aoi=aoi, item=item, size_bytes=len(text.encode()))
    return {"job_ref": ref.model_dump(mode="json")}


def load_job(ref: JobRef, model: type[_J]) -> _J:
    """The job a :class:`JobRef` names.

    Raises:
        PermanentError: it is not in the storage (removed since, or another storage).
    """
    with tempfile.TemporaryDirectory(prefix="job-") as tmp:
        local = Path(tmp) / "job.json"
        try:
            open_storage(ref.storage_uri).download(ref.key, local)
        except StorageNotFoundError:
            raise PermanentError(
                f"job {ref.item}: {ref.key} is not in {ref.storage_uri} (the parent wrote it there); run "
                "the ingestion again"
            ) from None
        return model.model_validate_json(local.read_text())
