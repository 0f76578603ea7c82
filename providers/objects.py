"""Downloads from object stores (``s3://``, ``gs://``, CDSE ``eodata``) with the download core's policy.

``ObjectFetcher.fetch(store, key, dest)`` streams the object to ``<dest>.part`` and renames it to
``dest`` only once its size (the store's, and the catalogue's) and its checksum (when the catalogue
publishes one) are right. What is there already counts:

- a ``dest`` of the object's size is not fetched again (a folder product resumed file by file);
- a ``.part`` is resumed with a ranged GET from its size, also after a cut in this call, up to
  ``max_resumes`` times: what was written is never sent again (less than one 256 KiB read is lost);
- a mismatch deletes the file and fetches it again once from byte 0, then is
  :class:`~providers.fetch.ChecksumMismatchError` (the source is bad: the next provider).

Errors are those of ``providers.fetch``: no such key → ``ProductNotFoundError``; refused credentials
(401/403) → :class:`~providers.errors.DownloadAuthError` naming the settings to fix (``auth_settings``);
anything else the store answers after its own retries (5xx, timeouts, cuts) → ``DownloadTemporaryError``.

``fetch_folder`` downloads every object under a prefix (a ``.SAFE`` folder) into a staging folder, file
by file, and renames the folder into place once all are there.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import BaseError, PermissionDeniedError, UnauthenticatedError

from providers.errors import DownloadError, DownloadTemporaryError, ProductNotFoundError
from providers.fetch import (
    ChecksumMismatchError,
    DownloadAuthError,
    Expected,
    Fetched,
    find_mismatch,
    new_hash,
    pick_checksum,
    read_chunks,
)
from storage.object import error_text, open_store, split_object_url

if TYPE_CHECKING:
    from obstore.store import GCSStore, S3Store

    ObjectStore = S3Store | GCSStore

log = logging.getLogger(__name__)
_REFUSED = re.compile(r"\b(401 Unauthorized|403 Forbidden)\b")

READ_SIZE = 1 << 18  # as the HTTP core's chunk: a cut loses less than this


@dataclass(frozen=True, slots=True)
class ObjectStores:
    """How ``s3://`` and ``gs://`` links are opened: the endpoints and requester-pays of the settings
    (``GEOCUBE_INGESTER_S3_ENDPOINT_URL``, ``..._S3_REQUESTER_PAYS``, ``..._GS_ENDPOINT_URL``), the
    credentials of the environment (``AWS_*``, ``GOOGLE_APPLICATION_CREDENTIALS``)."""

    s3_endpoint_url: str = ""
    s3_requester_pays: bool = False
    gs_endpoint_url: str = ""
    timeout_s: float = 60.0

    def open(self, url: str) -> tuple[ObjectStore, str]:
        """(store of the URL's bucket, key) of ``s3://bucket/key`` or ``gs://bucket/key``."""
        scheme, bucket, key = split_object_url(url)
        if scheme == "s3":
            store = open_store("s3", bucket, endpoint_url=self.s3_endpoint_url,
                               requester_pays=self.s3_requester_pays, timeout_s=self.timeout_s)  # fmt: skip
        else:
            store = open_store("gs", bucket, endpoint_url=self.gs_endpoint_url, timeout_s=self.timeout_s)
        return store, key

    @property
    def auth_settings(self) -> str:
        pays = (
            ""
            if self.s3_requester_pays
            else "; a requester-pays bucket also needs GEOCUBE_INGESTER_S3_REQUESTER_PAYS=true"
        )
        keys = (
            "the worker's AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (s3) or GOOGLE_APPLICATION_CREDENTIALS (gs)"
        )
        return keys + pays


def _classify(exc: BaseException, *, what: str, shown: str, auth_settings: str) -> Exception:
    if isinstance(exc, FileNotFoundError):
        return ProductNotFoundError(f"{what}: {shown} does not exist")
    # obstore types a refused GET or HEAD, but reports a refused LIST as a generic error with its status.
    if isinstance(exc, PermissionDeniedError | UnauthenticatedError) or _REFUSED.search(str(exc)):
        return DownloadAuthError(f"{what}: {shown}: credentials refused; check {auth_settings}")
    return DownloadTemporaryError(f"{what}: {shown}: {error_text(exc)}")


class ObjectFetcher:
    """Downloads objects with one policy (the module docstring).

    Args:
        max_resumes: ranged GETs allowed in one call after cuts.
        auth_settings: what a refused credential message tells to check.
    """

    def __init__(
        self, *, max_resumes: int = 5, auth_settings: str = "the object store's credentials"
    ) -> None:
        self.max_resumes = max_resumes
        self.auth_settings = auth_settings

    def _fail(self, exc: BaseException, *, what: str, shown: str) -> Exception:
        return _classify(exc, what=what, shown=shown, auth_settings=self.auth_settings)

    def size_of(self, store: ObjectStore, key: str, *, what: str, shown: str) -> int:
        try:
            return int(obstore.head(store, key)["size"])
        except (BaseError, OSError) as exc:
            raise self._fail(exc, what=what, shown=shown) from None

    def fetch(
        self,
        store: ObjectStore,
        key: str,
        dest: Path,
        *,
        what: str,
        shown: str,
        expected: Expected | None = None,
        size: int | None = None,
    ) -> Fetched:
        """Download object ``key`` to ``dest``, verified; ``shown`` is its URL in messages (no secret).

        ``size``: the object's size when a listing gave it (else a HEAD asks).
        """
        expected = expected or Expected()
        started = time.monotonic()
        size = self.size_of(store, key, what=what, shown=shown) if size is None else size
        if expected.size is not None and size != expected.size:
            raise ChecksumMismatchError(
                f"{what}: {shown} has {size} bytes where the catalogue says {expected.size}"
            )
        checksum = pick_checksum(expected.checksums)
        if dest.is_file() and dest.stat().st_size == size and checksum is None:
            log.info("%s: %s is there already (%d bytes)", what, dest.name, size)
            return Fetched(dest, size, 0.0, resumed_bytes=size)
        part = dest.with_name(dest.name + ".part")
        dest.parent.mkdir(parents=True, exist_ok=True)
        for attempt in (1, 2):  # a mismatch is fetched again once, from byte 0
            resumed, digest = self._to_part(store, key, part, size, checksum, what=what, shown=shown)
            problem = find_mismatch(size, digest, expected, checksum)  # the size was checked above
            if problem is None:
                dest.unlink(missing_ok=True)
                part.replace(dest)
                fetched = Fetched(
                    dest, size, time.monotonic() - started, resumed, checksum[0] if checksum else ""
                )
                log.info("%s: %s fetched, %d bytes at %.1f MB/s", what, shown, size, fetched.mb_per_s)
                return fetched
            part.unlink(missing_ok=True)
            log.warning("%s: %s: %s (attempt %d of 2)", what, shown, problem, attempt)
        raise ChecksumMismatchError(f"{what}: {shown}: {problem} twice; the source is bad")

    def _to_part(
        self,
        store: ObjectStore,
        key: str,
        part: Path,
        size: int,
        checksum: tuple[str, str] | None,
        *,
        what: str,
        shown: str,
    ) -> tuple[int, str]:
        """Fill ``part`` with the object's ``size`` bytes; (bytes resumed, hex digest or "")."""
        have = part.stat().st_size if part.exists() else 0
        if have > size:
            part.unlink()
            have = 0
        part.touch()  # an empty object is an empty file
        hasher = new_hash(checksum[0]) if checksum else None
        if have and hasher is not None:
            for chunk in read_chunks(part):
                hasher.update(chunk)
        resumed = have
        for cut in range(self.max_resumes + 1):
            if have == size:
                break
            try:
                result = obstore.get(store, key, options={"range": {"offset": have}} if have else None)
                with part.open("ab") as out:
                    try:
                        for chunk in result.stream(min_chunk_size=READ_SIZE):
                            data = bytes(chunk)
                            out.write(data)
                            have += len(data)
                            if hasher is not None:
                                hasher.update(data)
                    finally:
                        out.flush()
            except (BaseError, OSError) as exc:
                have = part.stat().st_size if part.exists() else 0
                failure = self._fail(exc, what=what, shown=shown)
                if not isinstance(failure, DownloadTemporaryError) or cut == self.max_resumes:
                    raise failure from None
                # What was written was hashed: the hash goes on from there with the ranged GET.
                log.warning("%s: %s: %s; resuming at byte %d", what, shown, error_text(exc), have)
                continue
            if have > size:
                part.unlink(missing_ok=True)
                raise DownloadError(f"{what}: {shown} sent {have} bytes where it has {size}")
        if have != size:
            raise DownloadTemporaryError(
                f"{what}: {shown}: {have} of {size} bytes after {self.max_resumes} resumes"
            )
        return resumed, hasher.hexdigest() if hasher is not None else ""


def list_folder(
    store: ObjectStore, prefix: str, *, what: str, shown: str, auth_settings: str
) -> dict[str, int]:
    """{path relative to ``prefix``: size} of every object under the folder ``prefix``."""
    folder = prefix.strip("/") + "/"
    try:
        listed = [(m["path"], int(m["size"])) for batch in obstore.list(store, prefix=folder) for m in batch]
    except (BaseError, OSError) as exc:
        raise _classify(exc, what=what, shown=shown, auth_settings=auth_settings) from None
    return {path.removeprefix(folder): size for path, size in listed if not path.endswith("/")}


def fetch_folder(
    fetcher: ObjectFetcher,
    store: ObjectStore,
    prefix: str,
    dest: Path,
    *,
    what: str,
    shown: str,
    sizes: Mapping[str, int] | None = None,
) -> Path:
    """Every object under ``prefix`` into the folder ``dest``, file by file (each resumed on its own),
    through ``.<name>.partial/`` beside it, renamed into place once all files are there.

    Raises:
        ProductNotFoundError: nothing under ``prefix``.
    """
    files = dict(sizes) if sizes is not None else list_folder(
        store, prefix, what=what, shown=shown, auth_settings=fetcher.auth_settings
    )  # fmt: skip
    if not files:
        raise ProductNotFoundError(f"{what}: no file under {shown}")
    staging = dest.with_name(f".{dest.name}.partial")
    if dest.is_dir() and not staging.exists():
        dest.rename(staging)  # a folder delivered before: its files count, the missing ones come
    fetched_bytes = 0
    for relative, size in sorted(files.items()):
        parts = PurePosixPath(relative).parts
        if any(p in ("", ".", "..") for p in parts):
            raise DownloadError(f"{what}: {shown}: unsafe object name {relative!r} in the folder")
        target = staging.joinpath(*parts)
        key = f"{prefix.strip('/')}/{relative}"
        result = fetcher.fetch(store, key, target, what=what, shown=f"{shown}/{relative}", size=size)
        fetched_bytes += result.size - result.resumed_bytes
    if dest.exists():
        shutil.rmtree(dest)
    staging.replace(dest)
    log.info("%s: %d files (%d bytes fetched) in %s", what, len(files), fetched_bytes, dest)
    return dest
