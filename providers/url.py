"""Downloads ``scene.metadata['download_link']``: http(s), ``file://`` or an absolute local path.

HTTP downloads go through the download core (``providers.fetch``): streamed to ``<name>.part``,
resumed after a cut, checked against the catalogue's size and checksum, renamed only once verified.
A host's credentials come from the worker's netrc file, never from the link (links are stored without
their secrets).
"""

from __future__ import annotations

import base64
import logging
import netrc
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from catalogue.models import Scene
from providers.errors import DownloadError, ProductNotFoundError
from providers.fetch import AuthHeaders, Expected, Fetcher

log = logging.getLogger(__name__)


def netrc_auth(url: str) -> AuthHeaders | None:
    """Basic credentials for ``url``'s host from the worker's netrc file (``$NETRC``, else ``~/.netrc``):
    links are stored without their secrets (``catalogue.models.Scene.without_link_secrets``)."""
    host = urlsplit(url).hostname or ""
    try:
        entry = netrc.netrc(os.environ.get("NETRC") or None).authenticators(host)
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return None
    if entry is None:
        return None
    login, _, password = entry
    token = base64.b64encode(f"{login}:{password or ''}".encode()).decode()
    return lambda refresh: {"Authorization": f"Basic {token}"}


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
        expected = Expected.of(scene.metadata)
        fetcher = Fetcher(client=self._client, timeout_s=self.timeout_s)
        fetched = fetcher.fetch(link, dest_dir / name, what=scene.source_id, expected=expected,
                                auth=netrc_auth(link))  # fmt: skip
        return fetched.path
