"""Downloads ``scene.metadata['download_link']``: http(s), ``s3://``, ``gs://``, ``file://`` or a path.

HTTP downloads go through the download core (``providers.fetch``): streamed to ``<name>.part``,
resumed after a cut, checked against the catalogue's size and checksum, renamed only once verified.
A host's credentials come from the worker's netrc file, never from the link (links are stored without
their secrets).

``s3://bucket/key`` and ``gs://bucket/key`` go through ``providers.objects`` with the same policy: an
object is one file; a key that is a folder (``s3://bucket/<scene>.SAFE``) is fetched file by file into
``<dest_dir>/<name>/``. The endpoint and requester-pays (``x-amz-request-payer: requester``) come from
``GEOCUBE_INGESTER_S3_ENDPOINT_URL``, ``GEOCUBE_INGESTER_S3_REQUESTER_PAYS`` and
``GEOCUBE_INGESTER_GS_ENDPOINT_URL``, the credentials from the cloud's usual variables.
"""

from __future__ import annotations

import base64
import logging
import netrc
import os
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import httpx

from catalogue.models import Scene
from common.redaction import redact_url
from common.settings import load_settings
from providers.errors import DownloadError, ProductNotFoundError
from providers.fetch import AuthHeaders, Expected, Fetcher
from providers.objects import ObjectFetcher, ObjectStores, fetch_folder, list_folder
from storage.object import SCHEMES

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

    def __init__(
        self,
        *,
        timeout_s: float = 60.0,
        client: httpx.Client | None = None,
        stores: ObjectStores | None = None,
        fetcher: Fetcher | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self._client = client
        self._stores = stores
        self.fetcher = fetcher or Fetcher(client=client, timeout_s=timeout_s)

    @property
    def stores(self) -> ObjectStores:
        """How s3:// and gs:// links are opened: given, or from the settings on first use."""
        if self._stores is None:
            settings = load_settings()
            self._stores = ObjectStores(
                s3_endpoint_url=settings.s3_endpoint_url,
                s3_requester_pays=settings.s3_requester_pays,
                gs_endpoint_url=settings.gs_endpoint_url,
                timeout_s=self.timeout_s,
            )
        return self._stores

    def download(self, scene: Scene, dest_dir: Path) -> Path:
        link = str(scene.metadata.get("download_link") or "")
        if not link:
            raise ProductNotFoundError(f"{scene.source_id}: no download_link in the scene metadata")
        parts = urlsplit(link)
        if parts.scheme in ("", "file"):
            return self._from_path(scene, Path(unquote(parts.path)), dest_dir)
        if parts.scheme in ("http", "https"):
            return self._fetch(scene, link, dest_dir)
        if parts.scheme in SCHEMES:
            return self._fetch_object(scene, link, dest_dir)
        raise ProductNotFoundError(
            f"{scene.source_id}: the url provider reads http(s)://, s3://, gs://, file:// links and "
            f"absolute paths, not {parts.scheme}://"
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
        fetched = self.fetcher.fetch(link, dest_dir / name, what=scene.source_id, expected=expected,
                                auth=netrc_auth(link))  # fmt: skip
        return fetched.path

    def _fetch_object(self, scene: Scene, link: str, dest_dir: Path) -> Path:
        store, key = self.stores.open(link)
        shown = redact_url(link)
        if not key.strip("/"):
            raise DownloadError(f"{scene.source_id}: download_link {shown} names a bucket, not a product")
        name = PurePosixPath(key).name or f"{scene.source_id}.zip"
        fetcher = ObjectFetcher(auth_settings=self.stores.auth_settings)
        files = list_folder(
            store, key, what=scene.source_id, shown=shown, auth_settings=fetcher.auth_settings
        )
        if files:  # a folder product (<scene>.SAFE/): file by file
            return fetch_folder(fetcher, store, key, dest_dir / name, what=scene.source_id, shown=shown,
                                sizes=files)  # fmt: skip
        expected = Expected.of(scene.metadata)
        return fetcher.fetch(
            store, key, dest_dir / name, what=scene.source_id, shown=shown, expected=expected
        ).path
