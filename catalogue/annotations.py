"""Sentinel-1 annotation files, read from wherever a product is kept (the original's ``annotations.go``).

An *annotation provider* is a URL pattern such as ``/data/{AREA}/{SCENE}.zip``,
``https://host/{MISSION_ID}/{YEAR}/{SCENE}.zip`` or ``s3://bucket/{SCENE}.SAFE``. Each ``{KEY}`` is
expanded from the product name (``catalogue.naming.parse_product_name``) plus ``{AREA}``. Patterns are
tried in order; the first that yields annotation files wins. What a pattern may point to:

- a local folder (the SAFE folder itself or any folder holding it: it is walked), or a local zip;
- a ``file://`` URL to either (the original passed it to ``os.Stat`` literally and failed);
- an ``http(s)://`` URL to a zip, read with HTTP Range requests: only the end of the zip (central
  directory) and the annotation members are fetched, never the measurement TIFFs;
- any fsspec URL (``s3://``, ``gs://``, ``memory://``...) to a zip or a folder; the driver (s3fs,
  gcsfs) must be installed, and its own timeouts apply.

Annotation files are the members matching ``(^|/)<scene>\\.SAFE/annotation/s1[^/]*\\.xml$``: anchored and
with the dots escaped (the original's regex was neither), so calibration, noise and RFI files, which sit
in sub-folders of ``annotation/``, are not taken. Messages never show query strings or user info of URLs.

With exactly one pattern in a payload's ``annotations_urls``, the original also makes it each scene's
download link (original-ingester.md §2.8): :func:`with_download_links` does the same, for the scenes
without a link whose name fills the pattern, so that the ``url`` downloader fetches from that archive.
:func:`pattern_problems` checks the ``{KEY}`` keys of a pattern against what the constellation's names give,
when the payload is validated.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import fsspec
import httpx

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.http import make_temporary_error
from catalogue.models import Constellation, Scene
from catalogue.naming import expand_pattern, parse_product_name
from common.errors import IngestError, ProductUnavailableError, TemporaryError, is_temporary
from common.http import HttpOutcome, classify_status
from common.redaction import redact_url

log = logging.getLogger(__name__)

# The end of central directory record is 22 bytes plus a comment of at most 65 535 bytes; the central
# directory of a SAFE zip (~100 members) is a few tens of kB, so one 64 KiB tail fetch usually holds both.
TAIL_BYTES = 64 * 1024
# Smallest ranged GET; zipfile reads member headers 30 bytes at a time.
READ_AHEAD_BYTES = 64 * 1024
# An annotation XML is 0.5 to 3 MB; anything far bigger is not one (and guards against zip bombs).
MAX_ANNOTATION_BYTES = 64 * 1024 * 1024

AnnotationFile = tuple[str, bytes]
# A {KEY} of a URL pattern, as catalogue.naming.expand_pattern reads it.
_PATTERN_KEY_RE = re.compile(r"\{([A-Za-z0-9_]+)\}")


def annotation_member_regex(scene_id: str) -> re.Pattern[str]:
    """Regex of the annotation files of ``scene_id``; group 1 is the path inside the product."""
    return re.compile(rf"(?:^|/)({re.escape(scene_id)}\.SAFE/annotation/s1[^/]*\.xml)$")


def read_annotations(
    scene_id: str, patterns: Sequence[str], *, area: str = "", timeout_s: float = 60
) -> list[AnnotationFile]:
    """The annotation files of a Sentinel-1 product, from the first pattern that yields any.

    Args:
        scene_id: product name without ``.SAFE``.
        patterns: URL patterns with ``{KEY}`` placeholders (see the module docstring), tried in order.
        area: value of ``{AREA}`` (the AOI name).
        timeout_s: timeout of each HTTP request.

    Returns:
        ``(path inside the product, XML bytes)`` sorted by path, e.g.
        ``("S1A_..._7768.SAFE/annotation/s1a-iw1-slc-vh-....xml", b"<?xml ...")``.

    Raises:
        CatalogueTemporaryError: no pattern yielded files and at least one failed in a way that may pass
            (timeout, 429, 5xx): retry later. Every pattern's error is listed.
        ProductUnavailableError: every pattern answered that the product or its annotations are absent.
        CatalogueError: no pattern was given, or one failed for good (bad pattern, corrupt zip, 403...).
    """
    if not patterns:
        raise CatalogueError(
            f"{scene_id}: no annotation URL pattern given; set the annotations URLs (e.g. "
            "'/data/{SCENE}.zip' or 's3://bucket/{SCENE}.zip') in the settings or the payload"
        )
    keys = parse_product_name(scene_id)
    regex = annotation_member_regex(scene_id)
    failures: list[tuple[str, IngestError]] = []
    for pattern in patterns:
        shown = redact_url(pattern)
        try:
            url = _expand(pattern, keys, {"AREA": area})
            files = _read_source(url, regex, timeout_s=timeout_s)
        except IngestError as exc:
            log.info("%s: annotations not read from %s: %s", scene_id, shown, exc)
            failures.append((shown, exc))
            continue
        if files:
            log.info("%s: %d annotation file(s) read from %s", scene_id, len(files), shown)
            return files
        failures.append((shown, ProductUnavailableError("found, but it holds no annotation file")))
    raise _merge_failures(scene_id, regex, failures)


# A real product name of each constellation (tests/unit/catalogue/test_naming.py): the {KEY}s it gives are
# those a pattern may use.
_SAMPLE_NAMES = {
    Constellation.SENTINEL1: "S1A_IW_SLC__1SDV_20200511T135117_20200511T135144_032518_03C421_7768",
    Constellation.SENTINEL2: "S2A_MSIL1C_20210403T101021_N0300_R022_T33TUM_20210403T110551",
    Constellation.LANDSAT89: "LC08_L2SP_008059_20191201_20200825_02_T1",
    Constellation.PHR: "DS_PHR1A_201006181052297_FR1_PX_E001N43_0612_06488",
    Constellation.SPOT: "DS_SPOT6_201212051035424_FR1_FR1_FR1_FR1_E002N41_01174",
}


def pattern_keys(constellation: Constellation) -> set[str]:
    """The ``{KEY}`` keys a pattern may use for the products of ``constellation`` (``AREA`` included)."""
    return {*parse_product_name(_SAMPLE_NAMES[constellation]), "AREA"}


def pattern_problems(pattern: str, constellation: Constellation) -> str | None:
    """Why ``pattern`` cannot be expanded for the products of ``constellation``, or None."""
    known = pattern_keys(constellation)
    unknown = sorted({k for k in _PATTERN_KEY_RE.findall(pattern) if k not in known})
    if not unknown:
        return None
    return (
        f"{redact_url(pattern)!r}: {', '.join('{' + k + '}' for k in unknown)} is not a key of "
        f"{constellation} product names; known: {', '.join('{' + k + '}' for k in sorted(known))}"
    )


def with_download_links(
    scenes: Sequence[Scene], annotations_urls: Sequence[str], *, area: str
) -> list[Scene]:
    """The scenes, each without a ``download_link`` given one from the payload's single annotation
    pattern (none when it has zero or several, as the original: §2.8). A scene whose name does not fill
    the pattern keeps no link (logged): the other downloaders may still find it."""
    if len(annotations_urls) != 1:
        return list(scenes)
    (pattern,) = annotations_urls
    linked: list[Scene] = []
    for scene in scenes:
        if str(scene.metadata.get("download_link") or ""):
            linked.append(scene)
            continue
        try:
            link = expand_pattern(pattern, parse_product_name(scene.source_id), {"AREA": area})
        except CatalogueError as exc:
            log.info(
                "%s: no download link from %s: %s", scene.source_id, redact_url(pattern), type(exc).__name__
            )
            linked.append(scene)
            continue
        linked.append(scene.model_copy(update={"metadata": {**scene.metadata, "download_link": link}}))
    return linked


def _expand(pattern: str, *maps: dict[str, str]) -> str:
    try:
        return expand_pattern(pattern, *maps)
    except CatalogueError:
        pass  # its message quotes the whole pattern, query string and user info included
    # Outside the except block, so that the quoting error is not chained to the one raised here.
    shown = redact_url(pattern)
    expand_pattern(shown, *maps)  # raises, quoting only the redacted pattern, if the key is there
    raise CatalogueError(f"pattern {shown!r}: unknown {{KEY}} in its query string or user info")


def _merge_failures(
    scene_id: str, regex: re.Pattern[str], failures: list[tuple[str, IngestError]]
) -> IngestError:
    lines = "\n".join(f"  - {shown}: {exc}" for shown, exc in failures)
    message = (
        f"{scene_id}: no annotation file found by {len(failures)} pattern(s), looking for members "
        f"matching {regex.pattern}:\n{lines}"
    )
    temporary = [exc for _, exc in failures if is_temporary(exc)]
    if temporary:
        delays = [e.retry_after_s for e in temporary if isinstance(e, TemporaryError) and e.retry_after_s]
        merged: IngestError = CatalogueTemporaryError(message, retry_after_s=max(delays, default=None))
        merged.__cause__ = temporary[0]
        return merged
    permanent = [exc for _, exc in failures if not isinstance(exc, ProductUnavailableError)]
    merged = CatalogueError(message) if permanent else ProductUnavailableError(message)
    merged.__cause__ = (permanent or [failures[-1][1]])[0]
    return merged


def _read_source(url: str, regex: re.Pattern[str], *, timeout_s: float) -> list[AnnotationFile]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    shown = redact_url(url)
    if scheme in ("http", "https"):
        with (
            httpx.Client(timeout=timeout_s, follow_redirects=True) as client,
            HttpRangeFile(client, url) as remote,
        ):
            return _read_zip(cast("IO[bytes]", remote), regex, shown)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise CatalogueError(f"{shown}: a file:// URL must name a local path (file:///path)")
        return _read_local(Path(url2pathname(unquote(parts.path))), regex, shown)
    if not scheme or len(scheme) == 1:  # a plain path (or a Windows drive letter)
        return _read_local(Path(url), regex, shown)
    return _read_fsspec(url, regex, shown)


def _read_local(path: Path, regex: re.Pattern[str], shown: str) -> list[AnnotationFile]:
    try:
        if path.is_dir():
            found = []
            for file in path.rglob("s1*.xml"):
                match = regex.search(file.as_posix())
                if match:
                    found.append((match.group(1), file))
            return [(name, file.read_bytes()) for name, file in sorted(found)]
        with path.open("rb") as stream:
            return _read_zip(stream, regex, shown)
    except OSError as exc:
        raise _storage_error(exc, shown) from None


def _read_zip(stream: IO[bytes], regex: re.Pattern[str], shown: str) -> list[AnnotationFile]:
    try:
        with zipfile.ZipFile(stream) as archive:
            members = sorted(
                (match.group(1), info)
                for info in archive.infolist()
                if (match := regex.search(info.filename)) is not None
            )
            for name, info in members:
                if info.file_size > MAX_ANNOTATION_BYTES:
                    raise CatalogueError(
                        f"{shown}: member {name} is {info.file_size} bytes, more than an annotation file "
                        f"can be ({MAX_ANNOTATION_BYTES})"
                    )
            return [(name, archive.read(info)) for name, info in members]
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise CatalogueError(f"{shown}: not a valid zip file ({type(exc).__name__}: {exc})") from exc


def _read_fsspec(url: str, regex: re.Pattern[str], shown: str) -> list[AnnotationFile]:
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise CatalogueError(
            f"{shown}: cannot open this kind of URL ({_scrub(str(exc))}); install its fsspec driver "
            "(s3fs for s3://, gcsfs for gs://)"
        ) from None
    try:
        if fs.isdir(path):
            found = sorted(
                (match.group(1), file)
                for file in fs.find(path)
                if (match := regex.search(str(file))) is not None
            )
            return [(name, bytes(fs.cat_file(file))) for name, file in found]
        with fs.open(path, "rb") as stream:
            return _read_zip(stream, regex, shown)
    except OSError as exc:
        raise _storage_error(exc, shown) from None


# Query strings and user info, wherever a URL shows up in a third-party message.
_SECRETS = re.compile(r"\?[^\s'\"]*|(?<=//)[^/@\s'\"]+@")


def _scrub(text: str) -> str:
    return _SECRETS.sub("", text)


def _storage_error(exc: OSError, shown: str) -> IngestError:
    """Classify a storage error. Not chained: third-party messages may quote the URL with its token."""
    if isinstance(exc, FileNotFoundError):
        return ProductUnavailableError(f"{shown}: no such file or folder")
    if isinstance(exc, PermissionError):
        return CatalogueError(
            f"{shown}: access denied ({_scrub(str(exc))}); check credentials or permissions"
        )
    return CatalogueTemporaryError(f"{shown}: {type(exc).__name__}: {_scrub(str(exc))}")


class HttpRangeFile(io.RawIOBase):
    """A read-only, seekable file over HTTP: every read is a ranged GET (``Range: bytes=a-b``).

    The first request fetches the last ``TAIL_BYTES`` (where a zip keeps its central directory) and
    learns the size from ``Content-Range``. A server that ignores ``Range`` is refused rather than
    downloading the whole product. ``bytes_fetched`` and ``requests`` count what went over the wire.

    Raises (from the constructor and reads):
        ProductUnavailableError: 404 or 410.
        CatalogueTemporaryError: timeout, connection error, 408, 429 or 5xx (``retry_after_s``: Retry-After).
        CatalogueError: any other answer (401, 403, no Range support...).
    """

    def __init__(self, client: httpx.Client, url: str, *, read_ahead_bytes: int = READ_AHEAD_BYTES) -> None:
        super().__init__()
        self._client = client
        self._url = url
        self._shown = redact_url(url)
        self._read_ahead = read_ahead_bytes
        self._pos = 0
        self.bytes_fetched = 0
        self.requests = 0
        self._cache_start, self._cache, self.size_bytes = self._get(f"bytes=-{TAIL_BYTES}")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size_bytes}[whence]
        if base + offset < 0:
            raise OSError(f"{self._shown}: seek before the start of the file")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = max(0, min(len(view), self.size_bytes - self._pos))
        done = 0
        while done < wanted:
            offset = self._pos - self._cache_start
            if 0 <= offset < len(self._cache):
                chunk = self._cache[offset : offset + wanted - done]
                view[done : done + len(chunk)] = chunk
                done += len(chunk)
                self._pos += len(chunk)
                continue
            end = min(self.size_bytes, self._pos + max(wanted - done, self._read_ahead)) - 1
            self._cache_start, self._cache, _ = self._get(f"bytes={self._pos}-{end}")
            if not self._cache:
                raise CatalogueError(f"{self._shown}: empty answer to a range request at {self._pos}")
        return done

    def _get(self, byte_range: str) -> tuple[int, bytes, int]:
        """GET ``byte_range``: (start offset, body, total size)."""
        # identity: a compressed answer would not be the requested bytes.
        headers = {"Range": byte_range, "Accept-Encoding": "identity"}
        self.requests += 1
        try:
            with self._client.stream("GET", self._url, headers=headers) as response:
                _raise_for_status(response, self._shown)
                start, total = _parse_content_range(response, self._shown)
                body = response.read()
        except httpx.TimeoutException as exc:
            raise CatalogueTemporaryError(f"{self._shown}: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise CatalogueTemporaryError(f"{self._shown}: {type(exc).__name__}: {exc}") from exc
        self.bytes_fetched += len(body)
        return start, body, total


def _raise_for_status(response: httpx.Response, shown: str) -> None:
    status = response.status_code
    if status == 206:
        return
    outcome = classify_status(status)
    if outcome is HttpOutcome.UNAVAILABLE:
        raise ProductUnavailableError(f"{shown}: HTTP {status}, not found")
    if outcome is HttpOutcome.TEMPORARY:
        raise make_temporary_error(f"{shown}: HTTP {status}", response.headers)
    if outcome is HttpOutcome.AUTH:
        raise CatalogueError(f"{shown}: HTTP {status}, access denied; check the credentials or URL signature")
    if status == 200:
        raise CatalogueError(
            f"{shown}: the server ignored the Range header (HTTP 200); zips are read by range requests "
            "only, so that the measurement files are not downloaded"
        )
    raise CatalogueError(f"{shown}: unexpected HTTP {status} to a range request")


_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


def _parse_content_range(response: httpx.Response, shown: str) -> tuple[int, int]:
    value = response.headers.get("Content-Range", "").strip()
    match = _CONTENT_RANGE.match(value)
    if match is None:
        raise CatalogueError(f"{shown}: HTTP 206 without a usable Content-Range ({value!r})")
    return int(match.group(1)), int(match.group(3))
