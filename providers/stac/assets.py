"""A STAC item as a product made of asset files: the ``stac-assets`` provider.

An item of Earth Search (Sentinel-2 L2A: one COG per band, ``https://sentinel-cogs.s3...``) or of
Landsat Collection 2 (``s3://usgs-landsat/...``, a requester-pays bucket) is a product of several
files. The item is read at its ``self`` link (the scene's ``stac_item_href``, ``providers.stac.items``),
then only the assets asked for are fetched (``download(..., assets=["red", "nir"])``, or the job's graph
config ``assets``; by default every asset with the role ``data``, ``metadata`` or ``cloud``, without
Earth Search's JPEG2000 copies) into ``<dest_dir>/<item id>/``, with the item
JSON beside them as ``<item id>.json`` (the fetched assets' hrefs made relative, ``./B04.tif``, so the
folder is a STAC item a graph can open where it lies).

Each file goes through the download core of its scheme: ``http(s)`` through ``providers.fetch``
(netrc credentials; the asset's ``file:size`` and ``file:checksum`` multihash verified while
streaming), ``s3://``/``gs://`` through ``providers.objects`` (requester-pays when
``GEOCUBE_INGESTER_S3_REQUESTER_PAYS`` says so), a local path copied. Files are fetched into
``.<item id>.partial/`` (a file there is whole: each is renamed only once verified, so a retry fetches
only what is missing) and the folder is renamed into place when all are there. A checksum mismatch is
``ChecksumMismatchError``: the next provider is tried.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from catalogue.models import Scene
from common.redaction import redact_url
from common.settings import Settings
from providers.errors import DownloadError, ProductNotFoundError
from providers.fetch import Expected, Fetcher
from providers.objects import ObjectFetcher, ObjectStores
from providers.url import netrc_auth
from storage.object import SCHEMES

log = logging.getLogger(__name__)

# Multihash codes (multiformats table) of the digests ``providers.fetch`` can check.
_MULTIHASH: dict[int, str] = {0x12: "sha256", 0x16: "sha3-256", 0x1E: "blake3", 0xD5: "md5"}


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while at < len(data):
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7
    raise ValueError("truncated varint")


def multihash_checksums(value: object) -> dict[str, str]:
    """``{algorithm: hex digest}`` of a STAC ``file:checksum`` (a hex multihash: code, length, digest);
    {} when it is absent, malformed or of an algorithm we cannot check."""
    if not isinstance(value, str):
        return {}
    try:
        data = bytes.fromhex(value)
        code, at = _varint(data, 0)
        length, at = _varint(data, at)
    except ValueError:
        return {}
    digest = data[at:]
    if code not in _MULTIHASH or len(digest) != length:
        return {}
    return {_MULTIHASH[code]: digest.hex()}


# What a product folder needs besides its data: its own metadata (a Landsat MTL gives the scale and
# offset) and its quality masks (Landsat's qa_pixel has the roles cloud, cloud-shadow, ...).
DEFAULT_ROLES = frozenset({"data", "metadata", "cloud"})


def default_assets(item: Mapping[str, Any]) -> list[str]:
    """The assets fetched when none are asked for: those with a role of ``DEFAULT_ROLES``, without
    Earth Search's JPEG2000 copies (``red-jp2`` beside ``red``)."""
    assets = item.get("assets") or {}
    keys = [
        k
        for k, a in assets.items()
        if isinstance(a, Mapping) and DEFAULT_ROLES.intersection(a.get("roles") or [])
    ]
    return [k for k in keys if not (k.endswith("-jp2") and k.removesuffix("-jp2") in keys)]


class StacAssetsDownloader:
    """Downloads the assets of a STAC item into a product folder (module docstring)."""

    name = "stac-assets"

    def __init__(
        self,
        *,
        timeout_s: float = 60.0,
        fetcher: Fetcher | None = None,
        stores: ObjectStores | None = None,
        assets: Sequence[str] | None = None,
    ) -> None:
        self.assets = assets  # what a job wants (its graph config ``assets``), when download is not told
        self.fetcher = fetcher or Fetcher(timeout_s=timeout_s)
        self.stores = stores or ObjectStores(timeout_s=timeout_s)
        self.objects = ObjectFetcher(auth_settings=self.stores.auth_settings)

    @classmethod
    def from_settings(cls, settings: Settings) -> StacAssetsDownloader:
        """Always there: an item's assets need no account (credentials come from netrc and the cloud's
        usual variables, as for the url provider)."""
        stores = ObjectStores(
            s3_endpoint_url=settings.s3_endpoint_url,
            s3_requester_pays=settings.s3_requester_pays,
            gs_endpoint_url=settings.gs_endpoint_url,
            timeout_s=settings.http_timeout_s,
        )
        return cls(timeout_s=settings.http_timeout_s, stores=stores, fetcher=Fetcher.from_settings(settings))

    def download(self, scene: Scene, dest_dir: Path, *, assets: Sequence[str] | None = None) -> Path:
        """The folder ``<dest_dir>/<item id>/`` with the assets ``assets`` (default: ``self.assets``, else
        :func:`default_assets`).

        Raises:
            ProductNotFoundError: the scene has no STAC item link, the item is not there or not an item,
                or it has none of the assets asked for.
        """
        what = scene.source_id
        item_href = str(scene.metadata.get("stac_item_href") or "")
        if not item_href:
            raise ProductNotFoundError(
                f"{what}: no STAC item link (stac_item_href) in the scene (found by "
                f"{scene.catalogue or 'no catalogue'}); a scene found by a STAC API catalogue has one"
            )
        item_id = str(scene.metadata.get("stac_id") or what)
        if "/" in item_id or item_id in ("", ".", ".."):
            raise DownloadError(f"{what}: STAC item id {item_id!r} cannot name a folder")
        final = dest_dir / item_id
        staging = dest_dir / f".{item_id}.partial"
        if final.is_dir() and not staging.exists():
            final.rename(staging)  # delivered before, maybe with other assets: what is there counts
        staging.mkdir(parents=True, exist_ok=True)
        item = self._read_item(item_href, staging, what=what)
        chosen = assets if assets is not None else self.assets
        wanted = list(chosen) if chosen is not None else default_assets(item)
        raw = item.get("assets") or {}
        unknown = [k for k in wanted if not isinstance(raw.get(k), Mapping) or not raw[k].get("href")]
        if unknown or not wanted:
            raise ProductNotFoundError(
                f"{what}: the STAC item {item_id} has no asset {', '.join(unknown) or '(none asked)'}; "
                f"it has: {', '.join(sorted(raw)) or 'none'}"
            )
        names: dict[str, str] = {}
        for key in wanted:
            href = urljoin(item_href, str(raw[key]["href"]))
            name = PurePosixPath(unquote(urlsplit(href).path)).name or key
            if name in names.values() or name == f"{item_id}.json":
                name = f"{key}-{name}"
            names[key] = name
            expected = Expected(
                size=raw[key]["file:size"] if isinstance(raw[key].get("file:size"), int) else None,
                checksums=multihash_checksums(raw[key].get("file:checksum")),
            )
            self._fetch_asset(href, staging / name, what=f"{what} asset {key}", expected=expected)
        local = json.loads(json.dumps(item))
        for key, name in names.items():
            local["assets"][key]["href"] = f"./{name}"
        (staging / f"{item_id}.json").write_text(json.dumps(local, indent=1), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        staging.replace(final)
        log.info("%s: %d asset(s) of %s in %s", what, len(names), item_id, final)
        return final

    def _read_item(self, href: str, staging: Path, *, what: str) -> dict[str, Any]:
        source = staging / ".item.source.json"
        source.unlink(missing_ok=True)
        self._fetch_asset(href, source, what=f"{what} item", expected=Expected())
        try:
            item = json.loads(source.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProductNotFoundError(f"{what}: {redact_url(href)} is not JSON: {exc}") from None
        finally:
            source.unlink(missing_ok=True)
        if (
            not isinstance(item, dict)
            or item.get("type") != "Feature"
            or not isinstance(item.get("assets"), dict)
        ):
            raise ProductNotFoundError(
                f"{what}: {redact_url(href)} is not a STAC item (no Feature with assets)"
            )
        return item

    def _fetch_asset(self, href: str, dest: Path, *, what: str, expected: Expected) -> None:
        if dest.is_file():
            return  # renamed into the staging folder only once verified: whole
        scheme = urlsplit(href).scheme.lower()
        if scheme in ("http", "https"):
            self.fetcher.fetch(href, dest, what=what, expected=expected, auth=netrc_auth(href))
        elif scheme in SCHEMES:
            store, key = self.stores.open(href)
            self.objects.fetch(store, key, dest, what=what, shown=redact_url(href), expected=expected)
        elif scheme in ("", "file"):
            src = Path(unquote(urlsplit(href).path))
            if not src.is_file():
                raise ProductNotFoundError(f"{what}: {src} does not exist")
            part = dest.with_name(dest.name + ".part")
            shutil.copyfile(src, part)
            part.replace(dest)
        else:
            raise ProductNotFoundError(f"{what}: cannot read {scheme}:// assets ({redact_url(href)})")
