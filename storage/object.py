"""Object storage: ``s3://bucket/prefix`` and ``gs://bucket/prefix``, through obstore.

Why obstore (the Python binding of the Rust ``object_store`` crate) rather than fsspec's s3fs/gcsfs:

- one wheel without dependencies, typed (``py.typed``): s3fs pins botocore through aiobotocore, which
  then has to agree with the boto3 of every other tool on the worker; gcsfs brings google-auth,
  aiohttp and google-cloud-storage;
- synchronous calls (no event loop to run in a Prefect worker thread), ranged GETs (the providers resume
  a file where a cut left it), and a ``put`` whose object appears whole or not at all: a single PUT
  below 5 MiB, above it a multipart upload that S3 and GCS publish only on its completion, and that
  obstore aborts when the upload fails (no visible partial object, ever);
- the same code for S3, S3-compatible endpoints (CDSE ``eodata``, MinIO, moto) and GCS, with
  requester-pays (``x-amz-request-payer: requester``) as one flag.

Credentials come from the usual variables of each cloud, read by obstore (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``; ``GOOGLE_APPLICATION_CREDENTIALS``,
``GOOGLE_SERVICE_ACCOUNT_KEY``), or are passed in (the CDSE S3 keys): they never reach a URI, a
message or a ``repr``. The endpoint is ``GEOCUBE_INGESTER_S3_ENDPOINT_URL`` /
``GEOCUBE_INGESTER_GS_ENDPOINT_URL`` (empty: the cloud's own).

The Geocube opens what is indexed (``uri_of``: ``s3://bucket/key``) with GDAL's ``/vsis3/`` and
``/vsigs/``, configured by its own environment (``AWS_S3_ENDPOINT``, ``AWS_VIRTUAL_HOSTING``,
``AWS_HTTPS``; ``CPL_GS_ENDPOINT``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import (
    BaseError,
    GenericError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from obstore.store import GCSStore, S3Store

from common.redaction import redact_url
from storage.errors import StorageError, StorageNotFoundError, StorageTemporaryError

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig

    ObjectStore = S3Store | GCSStore

logger = logging.getLogger(__name__)

SCHEMES = ("s3", "gs")
CHUNK_SIZE = 8 << 20  # multipart part size and read buffer: S3 wants parts of 5 MiB at least


def split_object_url(url: str) -> tuple[str, str, str]:
    """(scheme, bucket, key) of ``s3://bucket/key`` or ``gs://bucket/key``.

    Raises:
        StorageError: another scheme, or no bucket.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or not parts.netloc:
        raise StorageError(f"{redact_url(url)!r}: not an s3://bucket/... or gs://bucket/... URL")
    return scheme, parts.netloc, parts.path.lstrip("/")


def open_store(
    scheme: str,
    bucket: str,
    *,
    endpoint_url: str = "",
    requester_pays: bool = False,
    access_key_id: str = "",
    secret_access_key: str = "",
    region: str = "",
    timeout_s: float = 60.0,
    max_retries: int = 5,
) -> ObjectStore:
    """An obstore store of ``bucket``.

    Args:
        scheme: ``s3`` or ``gs``.
        endpoint_url: an S3-compatible endpoint (``http://127.0.0.1:9000``, CDSE's eodata), or a GCS
            base URL (an emulator); empty for the cloud's own. ``http://`` is allowed when given.
        requester_pays: send ``x-amz-request-payer: requester`` (S3 only).
        access_key_id, secret_access_key: explicit S3 keys; empty to use the environment's.
        region: the S3 region to sign for (CDSE: ``default``); empty for the environment's.
        timeout_s: connect and read timeout (a whole transfer has no time limit).
        max_retries: obstore's own retries of 5xx and connection errors, with backoff.
    """
    client: ClientConfig = {
        "connect_timeout": timedelta(seconds=timeout_s),
        "read_timeout": timedelta(seconds=timeout_s),
        "timeout": timedelta(hours=12),  # obstore's default (30 s) would cut any large file
        "allow_http": endpoint_url.startswith("http://"),
    }
    retry: RetryConfig = {
        "max_retries": max_retries,
        "retry_timeout": timedelta(seconds=max(30.0, timeout_s)),
    }
    if scheme == "s3":
        s3_options: dict[str, Any] = {}
        if endpoint_url:
            # S3-compatible servers (MinIO, moto, CDSE eodata) serve path-style URLs.
            s3_options |= {"endpoint": endpoint_url, "virtual_hosted_style_request": False}
        if access_key_id:
            s3_options |= {"access_key_id": access_key_id, "secret_access_key": secret_access_key}
        if region:
            s3_options["region"] = region
        if requester_pays:
            s3_options["request_payer"] = True
        return S3Store(bucket, client_options=client, retry_config=retry, **s3_options)
    if scheme == "gs":
        if endpoint_url:
            # An emulator (fake-gcs-server) takes no OAuth token: obstore's documented test set-up.
            key = {"gcs_base_url": endpoint_url.rstrip("/"), "disable_oauth": True, "client_email": "",
                   "private_key": "", "private_key_id": ""}  # fmt: skip
            return GCSStore(
                bucket, service_account_key=json.dumps(key), client_options=client, retry_config=retry
            )
        return GCSStore(bucket, client_options=client, retry_config=retry)
    raise StorageError(f"object storage scheme {scheme!r}: use s3:// or gs://")


# What an obstore error says when trying later may work: a 5xx, throttling, a timeout, a dropped connection.
_PASSING = re.compile(
    r"\b(?:50[0-9]|429)\b|Service Unavailable|SlowDown|Internal ?Error|timed? ?out|[Cc]onnection "
    r"(?:reset|refused|closed)|error sending request"
)


def error_text(exc: BaseException) -> str:
    """The first line of an obstore error: the rest is a Rust debug dump (request URL, retries)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def check_key(key: str) -> str:
    """``key`` when it is a relative POSIX path without ``.`` or ``..`` parts.

    Raises:
        StorageError: otherwise.
    """
    parts = PurePosixPath(key).parts
    if not key or key.startswith("/") or "\\" in key or any(p in ("..", ".") for p in parts):
        raise StorageError(f"storage key {key!r}: must be a relative POSIX path without '.' or '..' parts")
    return key


class ObjectStorage:
    """Files in a bucket under a prefix: the key ``a/b.tif`` of ``s3://bkt/geocube`` is the object
    ``geocube/a/b.tif`` of bucket ``bkt``, and its URI ``s3://bkt/geocube/a/b.tif``."""

    def __init__(self, uri: str, *, store: ObjectStore | None = None, endpoint_url: str = "",
                 requester_pays: bool = False) -> None:  # fmt: skip
        if "?" in uri or "#" in uri or "@" in urlsplit(uri).netloc:
            raise StorageError(
                f"storage_uri {redact_url(uri)!r}: an object storage URI is s3://bucket/prefix or "
                "gs://bucket/prefix, without credentials or query (keys come from the environment)"
            )
        self.scheme, self.bucket, prefix = split_object_url(uri)
        self.prefix = prefix.strip("/")
        if self.prefix:
            check_key(self.prefix)
        self.store = store or open_store(
            self.scheme, self.bucket, endpoint_url=endpoint_url, requester_pays=requester_pays
        )

    def __repr__(self) -> str:
        return f"ObjectStorage({f'{self.scheme}://{self.bucket}/{self.prefix}'.rstrip('/')!r})"

    def _object(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, exc: BaseException) -> StorageError | StorageTemporaryError:
        if isinstance(exc, FileNotFoundError):
            return StorageNotFoundError(self.uri_of(key))
        if isinstance(exc, GenericError | OSError) and _PASSING.search(str(exc)):
            return StorageTemporaryError(f"{action} {self.uri_of(key)} failed: {error_text(exc)}")
        hint = ""
        if isinstance(exc, PermissionDeniedError | UnauthenticatedError):
            hint = (
                "; the credentials were refused: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (s3) or "
                "GOOGLE_APPLICATION_CREDENTIALS (gs) of the worker"
            )
        return StorageError(f"{action} {self.uri_of(key)} failed: {error_text(exc)}{hint}")

    def uri_of(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{self._object(key)}"

    def upload(self, local_path: Path, key: str, *, move: bool = False) -> str:
        """One PUT (atomic), or a multipart upload published only when complete, aborted on failure.

        ``move``: the local file is removed once stored (nothing can be renamed into a bucket).
        """
        target = self._object(key)
        local_path = Path(local_path)
        if not local_path.is_file():
            raise StorageError(
                f"upload to {self.uri_of(key)}: local file {local_path} does not exist or is not a file"
            )
        size = local_path.stat().st_size
        try:
            if size <= CHUNK_SIZE:
                obstore.put(self.store, target, local_path.read_bytes(), use_multipart=False)
            else:
                obstore.put(self.store, target, _read_exactly(local_path, size), chunk_size=CHUNK_SIZE,
                            max_concurrency=4)  # fmt: skip
        except FileNotFoundError:  # S3/GCS answer 404 to a PUT only when the bucket is missing
            setting = (
                "GEOCUBE_INGESTER_S3_ENDPOINT_URL"
                if self.scheme == "s3"
                else "GEOCUBE_INGESTER_GS_ENDPOINT_URL"
            )
            raise StorageError(
                f"upload of {local_path} to {self.uri_of(key)} failed: the bucket {self.bucket!r} does not "
                f"exist there (create it, or check storage_uri and {setting})"
            ) from None
        except (BaseError, OSError) as exc:
            raise self._fail(f"upload of {local_path} to", key, exc) from None
        if move:
            local_path.unlink(missing_ok=True)
        logger.debug("stored %s", self.uri_of(key))
        return self.uri_of(key)

    def local_path(self, key: str) -> Path | None:
        self._object(key)
        return None  # remote: a job downloads what it reads

    def download(self, key: str, local_path: Path) -> None:
        local_path = Path(local_path)
        local_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=local_path.parent, prefix=f".{local_path.name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in obstore.get(self.store, self._object(key)).stream(min_chunk_size=CHUNK_SIZE):
                    out.write(chunk)
            tmp.replace(local_path)
        except (BaseError, OSError) as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise self._fail("download of", key, exc) from None
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise

    def delete(self, key: str) -> bool:
        if not self.exists(key):
            return False  # S3 and GCS deletes of a missing key succeed too: say it was missing
        try:
            obstore.delete(self.store, self._object(key))
        except FileNotFoundError:
            return False
        except BaseError as exc:
            raise self._fail("delete of", key, exc) from None
        logger.debug("deleted %s", self.uri_of(key))
        return True

    def exists(self, key: str) -> bool:
        try:
            obstore.head(self.store, self._object(key))
        except FileNotFoundError:
            return False
        except BaseError as exc:
            raise self._fail("reading", key, exc) from None
        return True

    def list_keys(self, prefix: str) -> list[str]:
        folder = prefix.strip("/")
        if folder:
            check_key(folder)
        full = "/".join(p for p in (self.prefix, folder) if p)
        strip = f"{self.prefix}/" if self.prefix else ""
        try:
            listed = [
                meta["path"] for batch in obstore.list(self.store, prefix=full or None) for meta in batch
            ]
        except BaseError as exc:
            raise self._fail("listing", folder or ".", exc) from None
        keys = [path.removeprefix(strip) for path in listed if path.startswith(strip)]
        # A folder prefix matches whole path parts only ("aoi" lists aoi/..., not aoi2/...).
        if folder:
            keys = [k for k in keys if k.startswith(folder + "/")]
        return sorted(k for k in keys if not PurePosixPath(k).name.startswith("."))


def _read_exactly(path: Path, size: int) -> Iterator[bytes]:
    """The file's chunks; an error when it ends before (or goes past) the size it had, so that a file
    changing under the upload fails the upload (aborted) instead of storing a partial object."""
    sent = 0
    with path.open("rb") as inp:
        while chunk := inp.read(CHUNK_SIZE):
            sent += len(chunk)
            yield chunk
    if sent != size:
        raise OSError(f"{path} changed during the upload ({sent} bytes read, {size} expected)")
