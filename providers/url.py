"""Downloads ``scene.metadata['download_link']``: http(s), ``file://`` or an absolute local path.

HTTP downloads stream to ``<name>.part`` and are renamed only when complete, so an interrupted
download never looks like a product.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from catalogue.models import Scene
from common.http import HttpOutcome, classify_status, parse_retry_after
from common.redaction import redact_url
from providers.errors import DownloadError, DownloadTemporaryError, ProductNotFoundError

log = logging.getLogger(__name__)


class UrlProvider:
    name = "url"

    def __init__(self, *, timeout_s: float = 60.0, client: httpx.Client | None = None) -> None:
        self.timeout_s = timeout_s
        self._client = client

    def download(self, scene: Scene, dest_dir: Path) -> Path:
        link = str(scene.metadata.get("download_link") or "")
        if not link:
            raise ProductNotFoundError(f"{scene.source_id}: no download_link in the scene metadata")
        parts = urlsplit(link)
        if parts.scheme in ("", "file"):
            return self._from_path(scene, Path(unquote(parts.path)), dest_dir)
        if parts.scheme in ("http", "https"):
            return self._fetch(scene, link, dest_dir)
        raise ProductNotFoundError(
            f"{scene.source_id}: the url provider cannot read {parts.scheme}:// links yet"
        )

    def _from_path(self, scene: Scene, path: Path, dest_dir: Path) -> Path:
        if not path.is_absolute():
            raise DownloadError(f"{scene.source_id}: download_link {path} is not an absolute path")
        if not path.exists():
            raise ProductNotFoundError(f"{scene.source_id}: {path} does not exist")
        return path  # a local zip or folder is read where it lies

    def _fetch(self, scene: Scene, link: str, dest_dir: Path) -> Path:
        name = Path(unquote(urlsplit(link).path)).name or f"{scene.source_id}.zip"
        final = dest_dir / name
        part = final.with_name(final.name + ".part")
        client = self._client or httpx.Client(timeout=self.timeout_s, follow_redirects=True)
        shown = redact_url(link)
        try:
            with client.stream("GET", link) as response:
                outcome = classify_status(response.status_code)
                what = f"{scene.source_id}: {shown} answered {response.status_code}"
                if outcome is HttpOutcome.UNAVAILABLE:
                    raise ProductNotFoundError(what)
                if outcome is HttpOutcome.TEMPORARY:
                    raise DownloadTemporaryError(
                        what, retry_after_s=parse_retry_after(response.headers.get("Retry-After"))
                    )
                if outcome is not HttpOutcome.OK:
                    raise DownloadError(what)
                expected = response.headers.get("Content-Length")
                written = 0
                with part.open("wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
                        written += len(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                # Content-Length counts the bytes on the wire, before any Content-Encoding is undone.
                received = response.num_bytes_downloaded
                if expected is not None and expected.isdigit() and int(expected) != received:
                    raise DownloadTemporaryError(
                        f"{scene.source_id}: {shown} sent {received} of {expected} bytes"
                    )
            part.replace(final)
            log.info("%s: downloaded %s (%d bytes)", scene.source_id, shown, written)
            return final
        except httpx.TransportError as exc:
            raise DownloadTemporaryError(f"{scene.source_id}: {shown}: {type(exc).__name__}") from None
        finally:
            part.unlink(missing_ok=True)
            if self._client is None:
                client.close()
