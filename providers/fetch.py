"""The download core every HTTP provider uses: stream, resume, verify, then rename.

``Fetcher.fetch(url, dest)`` streams the body to ``<dest>.part`` and renames it to ``dest`` only once it
is whole and verified:

- **resume**: a connection cut mid-body is picked up with ``Range: bytes=<received>-`` when the server
  said it serves ranges (``Accept-Ranges: bytes`` or a 206), up to ``max_resumes`` times in one call; a
  ``.part`` left by an earlier attempt is resumed the same way. A server that answers 200 to a Range
  request starts again from byte 0. What was written is never sent again;
- **verify**: the size (``Content-Length``, and the catalogue's size) and one of the catalogue's
  checksums (BLAKE3, else SHA-3, SHA-256, MD5: the fastest published), hashed while streaming in a
  second thread so that hashing does not slow the transfer (BLAKE3 hashes 1 GiB in 0.2 s, MD5 in 1.3).
  A mismatch deletes the file and fetches again once from byte 0; a second mismatch is
  :class:`ChecksumMismatchError`, a ``ProductUnavailableError``: the source is bad, try the next one;
- **errors** (``common.http``'s table): 404/410 → ``ProductNotFoundError`` (next provider); 202 (accepted,
  being prepared: an archive restoring it, a burst being extracted), 408/429/5xx,
  timeouts and cuts that cannot be resumed → ``DownloadTemporaryError`` with the ``Retry-After`` it
  sent; 401/403 → the ``auth`` callback is asked for fresh credentials once, then
  :class:`DownloadAuthError` (permanent);
- **redirects** are followed here, at most 10, with the method kept: credentials (``Authorization``) go
  only to the same origin (scheme, host, port), or to the hosts the provider trusts (``trusted_hosts``,
  e.g. CDSE's download host);
- **progress**: bytes, MB/s and ETA are logged every ``progress_every_s`` seconds, and handed to the
  :data:`progress_reporter` of the context, if any (the download task draws a Prefect progress
  artifact with it), then once more at the end.

URLs are shown without their query or credentials (``common.redaction.redact_url``).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urljoin, urlsplit

import blake3
import httpcore
import httpx
from httpcore._sync import http11 as httpcore_http11

from catalogue.http import AnswerTooLargeError, Watchdog, read_whole, transport_text

if TYPE_CHECKING:
    from common.settings import Settings
from common.errors import ProductUnavailableError
from common.http import HttpOutcome, classify_status, parse_retry_after
from common.redaction import redact_url
from providers.errors import DownloadAuthError as DownloadAuthError  # where providers import it from
from providers.errors import (
    DownloadError,
    DownloadTemporaryError,
    ProductNotReadyError,
    download_status_error,
)

log = logging.getLogger(__name__)

# httpcore reads a body 64 KiB per socket call; 256 KiB halves the CPU per byte (measured on loopback,
# 1 GiB: 0.8 s -> 0.4 s, curl 0.8-1.1 s). A class attribute of the pinned httpcore, set once here.
CHUNK_SIZE = 1 << 18
if getattr(httpcore_http11.HTTP11Connection, "READ_NUM_BYTES", CHUNK_SIZE) < CHUNK_SIZE:
    httpcore_http11.HTTP11Connection.READ_NUM_BYTES = CHUNK_SIZE
# A body read straight off the connection (``Fetcher._raw_body``) asks for up to this much per call.
BODY_READ_SIZE = 1 << 20
MAX_REDIRECTS = 10
# Checksum algorithms as catalogues name them (CDSE: "MD5", "BLAKE3"; STAC file:checksum multihash
# names), by preference: the fastest available is the one checked.
_ALGORITHMS = {"blake3": "blake3", "sha3-256": "sha3_256", "sha3_256": "sha3_256", "sha256": "sha256",
               "sha-256": "sha256", "md5": "md5"}  # fmt: skip
_PREFERENCE = ("blake3", "sha3_256", "sha256", "md5")


# (bytes so far, whole size or None) -> None. Set by the orchestration around a download; a domain
# module knows no Prefect, so this is the seam.
ProgressReporter = Callable[[int, int | None], None]
progress_reporter: contextvars.ContextVar[ProgressReporter | None] = contextvars.ContextVar(
    "progress_reporter", default=None
)


def _report(written: int, total: int | None) -> None:
    reporter = progress_reporter.get()
    if reporter is not None:
        try:
            reporter(written, total)
        except Exception as exc:  # noqa: BLE001 - a progress display never fails a download
            log.debug("progress reporter failed: %s", exc)


class ChecksumMismatchError(ProductUnavailableError):
    """The file fetched twice does not match the catalogue's checksum or size: the source is bad."""


class Hash(Protocol):
    """A running checksum (hashlib's and blake3's shape)."""

    def update(self, data: bytes | memoryview, /) -> object: ...

    def hexdigest(self) -> str: ...


def new_hash(name: str) -> Hash:
    """A running checksum of a :func:`pick_checksum` name (``blake3``, ``sha3_256``, ``sha256``, ``md5``)."""
    hasher: Hash = blake3.blake3() if name == "blake3" else hashlib.new(name)
    return hasher


def pick_checksum(checksums: Mapping[str, str]) -> tuple[str, str] | None:
    """(hash name, expected hex digest) of the checksum to verify, or None when none is known."""
    known = {_ALGORITHMS[k.lower()]: v.lower() for k, v in checksums.items() if k.lower() in _ALGORITHMS}
    return next(((name, known[name]) for name in _PREFERENCE if name in known), None)


@dataclass(frozen=True, slots=True)
class Expected:
    """What the catalogue says of the file: its size and checksums ({algorithm: hex digest})."""

    size: int | None = None
    checksums: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, metadata: Mapping[str, Any]) -> Expected:
        """What a scene's metadata says (``size_bytes``, ``checksums``), as every catalogue writes it."""
        size = metadata.get("size_bytes")
        return cls(
            size=size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None,
            checksums=metadata.get("checksums") or {},
        )


@dataclass(frozen=True, slots=True)
class Fetched:
    """A verified download."""

    path: Path
    size: int
    seconds: float
    resumed_bytes: int = 0  # bytes taken from a .part or a cut connection instead of fetched again
    checksum: str = ""  # the algorithm verified, "" when the catalogue published none we can check

    @property
    def mb_per_s(self) -> float:
        return self.size / 1e6 / self.seconds if self.seconds > 0 else 0.0


class _Hasher:
    """Hashes the chunks as they come. A slow hash (MD5: 1.3 s per GiB) runs in a thread of its own, fed
    in batches of ``BATCH`` bytes (hashlib releases the GIL on large buffers), so that the transfer does
    not wait for it; BLAKE3 (0.2 s per GiB) is fast enough to run inline."""

    BATCH = 8 << 20

    def __init__(self, name: str) -> None:
        self._hash = new_hash(name)
        self._batch: list[bytes | memoryview] = []  # bytes only: views come only to an inline hash
        self._batched = 0
        self._queue: queue.Queue[list[bytes | memoryview] | None] | None = None
        self._thread: threading.Thread | None = None
        if name != "blake3":
            self._queue = queue.Queue(maxsize=4)
            self._thread = threading.Thread(target=self._run, name="fetch-hash", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        assert self._queue is not None
        while (batch := self._queue.get()) is not None:
            for chunk in batch:
                self._hash.update(chunk)

    @property
    def inline(self) -> bool:
        """Whether ``update`` hashes the chunk before it returns (else a thread keeps it for later)."""
        return self._queue is None

    def update(self, chunk: bytes | memoryview) -> None:
        if self._queue is None:
            self._hash.update(chunk)
            return
        self._batch.append(chunk)
        self._batched += len(chunk)
        if self._batched >= self.BATCH:
            self._queue.put(self._batch)
            self._batch, self._batched = [], 0

    def hexdigest(self) -> str:
        if self._queue is not None and self._thread is not None:
            self._queue.put(self._batch)
            self._queue.put(None)
            self._thread.join()
        return self._hash.hexdigest()

    def abandon(self) -> None:
        if self._queue is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)


class _CutError(Exception):
    """The body stopped before its end; ``resumable`` unless its content encoding was undone."""

    def __init__(self, reason: str, *, resumable: bool = True, restart: bool = False) -> None:
        super().__init__(reason)
        self.resumable = resumable
        self.restart = restart


AuthHeaders = Callable[[bool], Mapping[str, str]]  # refresh -> headers (e.g. Authorization)


SMALL_ANSWER_MAX_BYTES = 16 * 1024 * 1024  # a product's description or a lookup: JSON of a few KiB


class Fetcher:
    """Downloads files over HTTP(S) with one policy (the module docstring).

    Args:
        client: an httpx client to use (tests, connection reuse); one is made per call otherwise.
        timeout_s: connect and read timeout.
        max_resumes: Range resumes allowed in one call after cuts.
        progress_every_s: how often progress is logged.
        min_rate_bps, stall_window_s: a body slower than ``min_rate_bps`` bytes per second over
            ``stall_window_s`` is cut (and resumed like any cut): ``timeout_s`` bounds each read, this
            bounds a server that sends a byte now and then.
    """

    def __init__(
        self,
        *,
        client: httpx.Client | None = None,
        timeout_s: float = 60.0,
        max_resumes: int = 5,
        progress_every_s: float = 30.0,
        min_rate_bps: float = 1024.0,
        stall_window_s: float = 60.0,
    ) -> None:
        self._client = client
        self.timeout_s = timeout_s
        self.max_resumes = max_resumes
        self.progress_every_s = progress_every_s
        self.min_rate_bps = min_rate_bps
        self.stall_window_s = stall_window_s

    def read_small(self, url: str, *, method: str = "GET", **request: Any) -> httpx.Response:
        """A small answer (a product's description, a catalogue lookup) read whole, unclassified: each
        read within ``timeout_s``, the whole within ``stall_window_s`` (headers sent a byte at a time
        included), at most ``SMALL_ANSWER_MAX_BYTES``.

        Raises:
            DownloadTemporaryError: no answer, or not in time (the text names the bound).
            DownloadError: an answer past the cap.
        """
        shown = redact_url(url)
        try:
            if self._client is not None:
                return read_whole(self._client, method, url, **self._small_bounds(), **request)
            with httpx.Client(timeout=self.timeout_s) as client:
                return read_whole(client, method, url, **self._small_bounds(), **request)
        except httpx.HTTPError as exc:
            raise DownloadTemporaryError(f"{shown}: {transport_text(exc)}") from None
        except AnswerTooLargeError as exc:
            raise DownloadError(f"{shown} {exc}") from None

    def _small_bounds(self) -> dict[str, Any]:
        return {
            "timeout_s": self.timeout_s,
            "max_bytes": SMALL_ANSWER_MAX_BYTES,
            "deadline_s": self.stall_window_s,
            "deadline_setting": "GEOCUBE_INGESTER_DOWNLOAD_STALL_WINDOW_S",
        }

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout_s: float | None = None) -> Fetcher:
        """The settings' read timeout (``timeout_s`` when given instead) and stall bound."""
        return cls(
            timeout_s=settings.http_timeout_s if timeout_s is None else timeout_s,
            min_rate_bps=settings.download_min_rate_bps,
            stall_window_s=settings.download_stall_window_s,
        )

    def fetch(
        self,
        url: str,
        dest: Path,
        *,
        what: str,
        expected: Expected | None = None,
        auth: AuthHeaders | None = None,
        trusted_hosts: frozenset[str] = frozenset(),
        method: str = "GET",
    ) -> Fetched:
        """Download ``url`` to ``dest``, verified; ``what`` names the product in messages.

        Raises:
            ProductNotFoundError, ChecksumMismatchError: not this provider (the next one is tried).
            DownloadTemporaryError: try again later (``retry_after_s`` when the server said when).
            DownloadAuthError, DownloadError: refused credentials, or an answer that will not change.
        """
        expected = expected or Expected()
        checksum = pick_checksum(expected.checksums)
        client = self._client or httpx.Client(timeout=self.timeout_s)
        part = dest.with_name(dest.name + ".part")
        started = time.monotonic()
        try:
            for attempt in (1, 2):  # a mismatch is fetched again once, from byte 0
                size, resumed, digest = self._to_part(
                    client, method, url, part, what=what, auth=auth, trusted=trusted_hosts, checksum=checksum
                )
                problem = find_mismatch(size, digest, expected, checksum)
                if problem is None:
                    dest.unlink(missing_ok=True)  # a rename over a file makes ext4 flush it (auto_da_alloc)
                    part.replace(dest)
                    fetched = Fetched(dest, size, time.monotonic() - started, resumed,
                                      checksum[0] if checksum else "")  # fmt: skip
                    _report(size, size)
                    verified = f", {fetched.checksum} verified" if checksum else ""
                    log.info("%s: %s fetched, %d bytes at %.1f MB/s%s", what, redact_url(url), size,
                             fetched.mb_per_s, verified)  # fmt: skip
                    return fetched
                part.unlink(missing_ok=True)
                log.warning("%s: %s: %s (attempt %d of 2)", what, redact_url(url), problem, attempt)
            raise ChecksumMismatchError(f"{what}: {redact_url(url)}: {problem} twice; the source is bad")
        finally:
            if self._client is None:
                client.close()

    # ------------------------------------------------------------------ one transfer into the .part

    def _to_part(
        self,
        client: httpx.Client,
        method: str,
        url: str,
        part: Path,
        *,
        what: str,
        auth: AuthHeaders | None,
        trusted: frozenset[str],
        checksum: tuple[str, str] | None,
    ) -> tuple[int, int, str]:
        """Fill ``part`` with the whole body, resuming after cuts; (size, bytes resumed, hex digest)."""
        hasher = _restarted(None, checksum)
        have = part.stat().st_size if part.exists() else 0
        resumed = 0
        ranges_ok = have > 0  # a .part is only kept where ranges were served
        try:
            if have and hasher is not None:
                for chunk in read_chunks(part):  # what an earlier attempt wrote counts in the hash
                    hasher.update(chunk)
            for cut in range(self.max_resumes + 1):
                offset = have if ranges_ok else 0
                try:
                    with self._open(client, method, url, what=what, auth=auth, trusted=trusted,
                                    offset=offset) as response:  # fmt: skip
                        partial = response.status_code == 206
                        ranges_ok = partial or response.headers.get("Accept-Ranges", "").lower() == "bytes"
                        if offset and not (partial and _range_start(response) == offset):
                            # the server ignored the Range, or answered another one: start again
                            have, offset = 0, 0
                            hasher = _restarted(hasher, checksum)
                        resumed += offset
                        total = _total_size(response, offset)
                        have = self._stream(response, part, offset, total, hasher, what=what)
                        if total is not None and have != total:
                            raise _CutError(f"sent {have} of {total} bytes")
                    digest = hasher.hexdigest() if hasher is not None else ""
                    hasher = None
                    return have, resumed, digest
                except _CutError as exc:
                    if exc.restart:  # a .part the server will not complete (416): from byte 0 again
                        part.unlink(missing_ok=True)
                        hasher = _restarted(hasher, checksum)
                    have = part.stat().st_size if part.exists() else 0
                    if not ranges_ok or not exc.resumable or cut == self.max_resumes:
                        if not ranges_ok:
                            part.unlink(missing_ok=True)
                        raise DownloadTemporaryError(f"{what}: {redact_url(url)}: {exc}") from None
                    log.warning("%s: %s: %s; resuming at byte %d", what, redact_url(url), exc, have)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            if hasher is not None:
                hasher.abandon()

    @contextlib.contextmanager
    def _open(
        self,
        client: httpx.Client,
        method: str,
        url: str,
        *,
        what: str,
        auth: AuthHeaders | None,
        trusted: frozenset[str],
        offset: int,
    ) -> Iterator[httpx.Response]:
        """The final response of ``url`` (redirects followed, credentials refreshed once), status 2xx."""
        refreshed = False  # fresh credentials were asked for once, after a refusal
        renew = False  # ... and are due on the next request only, not on every redirect after it
        origin = _origin(url)
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            headers: dict[str, str] = {"Range": f"bytes={offset}-"} if offset else {}
            if auth is not None and (_origin(current) == origin or urlsplit(current).hostname in trusted):
                headers |= auth(renew)
                renew = False
            # The status line and headers are bounded as a whole by the stall window: each read is
            # bounded by timeout_s, but a server may send them one byte now and then (issue 12).
            watchdog = Watchdog(client, self.stall_window_s)
            try:
                request = client.build_request(
                    method, current, headers=headers, extensions={"trace": watchdog.trace}
                )
                with watchdog:
                    response = client.send(request, stream=True, follow_redirects=False)
            except httpx.TransportError as exc:
                if watchdog.fired:
                    raise DownloadTemporaryError(
                        f"{what}: {redact_url(current)}: no status line and headers within the stall "
                        f"window ({self.stall_window_s:g} s; headers slower than "
                        f"{self.min_rate_bps:g} bytes/s)"
                    ) from None
                if isinstance(exc, httpx.TimeoutException):
                    raise DownloadTemporaryError(
                        f"{what}: {redact_url(current)}: no answer within {self.timeout_s:g} s "
                        "(GEOCUBE_INGESTER_HTTP_TIMEOUT_S)"
                    ) from None
                raise DownloadTemporaryError(f"{what}: {redact_url(current)}: {type(exc).__name__}") from None
            try:
                if response.is_redirect and response.headers.get("Location"):
                    # The method is kept: CDSE's burst service wants the POST again at the Location.
                    current = urljoin(current, response.headers["Location"])
                    continue
                outcome = classify_status(response.status_code)
                shown = f"{what}: {redact_url(current)} answered {response.status_code}"
                if outcome is HttpOutcome.AUTH and auth is not None and not refreshed:
                    refreshed = renew = True
                    log.info("%s: credentials refused; asking for fresh ones once", what)
                    continue
                if (
                    response.status_code == 202
                ):  # accepted: being prepared (an archive's restore, an extraction)
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                    raise ProductNotReadyError(f"{shown}: accepted, not ready yet", retry_after_s=wait)
                if response.status_code == 416 and offset:
                    raise _CutError("the server refused the resume range", restart=True)
                error = download_status_error(response, shown)
                if error is None:
                    yield response
                    return
                raise error
            finally:
                response.close()
        raise DownloadError(f"{what}: {redact_url(url)}: more than {MAX_REDIRECTS} redirects")

    def _raw_body(self, response: httpx.Response, *, reuse: bool = False) -> Iterator[bytes | memoryview]:
        """The body as it comes. An HTTP/1.1 body of known length is read straight off the connection
        after its first chunk: h11 copies each byte four times while holding the GIL (into its buffer,
        twice out of it, then to bytes), which serialises parallel downloads in one process (4 streams:
        0.6x curl's speed through h11). Its first chunk empties what h11 buffered with the headers,
        so nothing is skipped; the connection is not reused afterwards (httpcore closes a connection
        whose response it did not finish).

        ``reuse``: the caller is done with each chunk before it asks for the next one (it writes and
        hashes it inline): the body is then received into one buffer, as views of it, with no
        allocation per read."""
        raw = response.iter_raw()
        stream: Any = response.extensions.get("network_stream")
        length = response.headers.get("Content-Length", "")
        if (
            response.http_version != "HTTP/1.1"
            or "Transfer-Encoding" in response.headers
            or not length.isdigit()
            or not callable(getattr(stream, "read", None))
        ):
            yield from raw
            return
        remaining = int(length)
        first = next(raw, b"")
        remaining -= len(first)
        if first:
            yield first
        sock = (
            stream.get_extra_info("socket")
            if reuse and callable(getattr(stream, "get_extra_info", None))
            else None
        )
        if isinstance(sock, socket.socket):
            yield from _received_into(sock, remaining, self.timeout_s)
            return
        while remaining > 0:
            data: bytes = stream.read(min(BODY_READ_SIZE, remaining), timeout=self.timeout_s)
            if not data:  # what h11 would say, so a cut reads the same on either path
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body"
                )
            remaining -= len(data)
            yield data

    def _stream(
        self,
        response: httpx.Response,
        part: Path,
        offset: int,
        total: int | None,
        hasher: _Hasher | None,
        *,
        what: str,
    ) -> int:
        """Append the body to ``part`` from ``offset``; return its size. Raises _CutError on a break."""
        encoded = "Content-Encoding" in response.headers  # undo gzip & co.; such bodies cannot resume
        inline = hasher is None or hasher.inline  # done with a chunk before the next: one buffer will do
        chunks = response.iter_bytes() if encoded else self._raw_body(response, reuse=inline)
        written = offset
        last_log = time.monotonic()
        started = last_log
        if not offset:
            # A new file, never a truncated one: ext4 flushes a file truncated to 0 on close
            # (auto_da_alloc), which costs a scratch download the disk's speed.
            part.unlink(missing_ok=True)
        with part.open("r+b" if offset else "xb") as out:
            if offset:
                if part.stat().st_size > offset:
                    out.truncate(offset)
                out.seek(offset)
            try:
                window_start, window_written = started, written
                for chunk in chunks:
                    out.write(chunk)
                    if hasher is not None:
                        hasher.update(chunk)
                    written += len(chunk)
                    now = time.monotonic()
                    if now - last_log >= self.progress_every_s:
                        last_log = now
                        _log_progress(what, written, offset, total, now - started)
                        _report(written, total)
                    if now - window_start >= self.stall_window_s:
                        if written - window_written < self.min_rate_bps * (now - window_start):
                            raise _CutError(
                                f"slower than {self.min_rate_bps:g} bytes/s for {now - window_start:.0f} s "
                                f"after {written} bytes",
                                resumable=not encoded,
                            )
                        window_start, window_written = now, written
            except (
                httpx.TransportError,
                httpx.StreamError,
                httpcore.NetworkError,
                httpcore.TimeoutException,
            ) as exc:
                reason = f"{type(exc).__name__} after {written} bytes"
                raise _CutError(reason, resumable=not encoded) from None
        return written  # not fsynced: a scratch file; the storage syncs what it takes (storage.local)


def _received_into(sock: socket.socket, remaining: int, timeout_s: float) -> Iterator[memoryview]:
    """``remaining`` bytes of ``sock`` as views of one buffer, each valid until the next is asked for."""
    view = memoryview(bytearray(BODY_READ_SIZE))
    sock.settimeout(timeout_s)
    while remaining > 0:
        try:
            received = sock.recv_into(view, min(BODY_READ_SIZE, remaining))
        except OSError as exc:  # a timeout or a reset: the caller resumes from what it wrote
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}") from None
        if not received:  # what h11 would say, so a cut reads the same on every path
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        remaining -= received
        yield view[:received]


def _restarted(hasher: _Hasher | None, checksum: tuple[str, str] | None) -> _Hasher | None:
    """A new hasher for a transfer that starts (again) from byte 0; the old one is dropped."""
    if hasher is not None:
        hasher.abandon()
    return _Hasher(checksum[0]) if checksum else None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return (parts.scheme, parts.hostname or "", parts.port)


def _range_start(response: httpx.Response) -> int | None:
    """The first byte of a 206's ``Content-Range: bytes <start>-<end>/<size>``."""
    value = response.headers.get("Content-Range", "").removeprefix("bytes ").split("-", 1)[0]
    return int(value) if value.strip().isdigit() else None


def _total_size(response: httpx.Response, offset: int) -> int | None:
    """The whole file's size, from Content-Range (a 206) or Content-Length (a 200)."""
    content_range = response.headers.get("Content-Range", "")
    if response.status_code == 206 and "/" in content_range:
        size = content_range.rsplit("/", 1)[1]
        return int(size) if size.isdigit() else None
    length = response.headers.get("Content-Length", "")
    if "Content-Encoding" in response.headers or not length.isdigit():
        return None  # the length of the encoded body, not of the file
    return offset + int(length) if response.status_code == 206 else int(length)


def find_mismatch(size: int, digest: str, expected: Expected, checksum: tuple[str, str] | None) -> str | None:
    """What is wrong with ``size`` bytes hashing to ``digest``; None when they are the catalogue's."""
    if expected.size is not None and size != expected.size:
        return f"{size} bytes where the catalogue says {expected.size}"
    if checksum is not None and digest != checksum[1]:
        return f"{checksum[0]} {digest} where the catalogue says {checksum[1]}"
    return None


def read_chunks(path: Path) -> Iterator[bytes]:
    """A file's bytes, 1 MiB at a time (to hash what an earlier attempt wrote)."""
    with path.open("rb") as inp:
        while chunk := inp.read(1 << 20):
            yield chunk


def _log_progress(what: str, written: int, offset: int, total: int | None, seconds: float) -> None:
    rate = (written - offset) / seconds if seconds > 0 else 0.0
    if total and rate > 0:
        eta = (total - written) / rate
        log.info("%s: %d of %d MB (%.0f %%), %.1f MB/s, %.0f s to go", what, written // 10**6,
                 total // 10**6, 100 * written / total, rate / 1e6, eta)  # fmt: skip
    else:
        log.info("%s: %d MB, %.1f MB/s", what, written // 10**6, rate / 1e6)
