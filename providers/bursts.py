"""The burst-level download boundary: one Sentinel-1 burst, one polarisation, as a one-burst SAFE.

A burst provider (``cdse-bursts``, ``asf-bursts``) fetches only the bursts an AOI needs instead of
the whole SLC (a burst is about 1/27 of an IW SLC). What it delivers is checked with
:func:`catalogue.burst_safe.check_one_burst_safe` before the download job stores it as the tile's
``__product__``. Providers are named in GEOCUBE_INGESTER_PROVIDERS beside the product providers and
registered in ``providers.BURST_PROVIDERS``; the download job tries them first, per burst tile, and
falls back to the whole SLC (downloaded by the product providers, then split) for the bursts none has.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Protocol

from catalogue.burst_safe import BurstSafeError, check_one_burst_safe
from catalogue.models import Scene, Tile
from providers.errors import BurstDeliveryError
from storage.errors import StorageError
from storage.layout import extract_zip_safely


class BurstDownloader(Protocol):
    """Fetches one burst of one polarisation.

    ``download_burst`` returns the one-burst SAFE folder it wrote in ``dest_dir``; the files it fetched
    to make it (a zip, a TIFF and an XML) stay in ``dest_dir`` beside it, so that the caller counts the
    bytes fetched, then removes ``dest_dir``.

    Raises ProductUnavailableError (ProductNotFoundError) when it has not got that burst (the next
    provider, or the whole SLC, is tried), TemporaryError when trying again later may work,
    PermanentError otherwise.
    """

    name: str

    def download_burst(self, scene: Scene, tile: Tile, polarisation: str, dest_dir: Path) -> Path: ...


def unpack_one_burst_zip(archive: Path, dest_dir: Path, *, what: str) -> Path:
    """The one-burst SAFE inside ``archive`` (a zip holding one ``<name>.SAFE/``), unpacked in
    ``dest_dir/unpacked`` and checked.

    Raises:
        BurstDeliveryError: not a zip, no or several SAFE folders, or not a one-burst SAFE.
    """
    target = dest_dir / "unpacked"
    if target.exists():
        shutil.rmtree(target)
    try:
        extract_zip_safely(archive, target, archive=what)
    except (StorageError, zipfile.BadZipFile, OSError) as exc:
        raise BurstDeliveryError(f"{what}: not a usable zip ({exc})") from None
    safes = [p for p in target.rglob("*.SAFE") if p.is_dir() and (p / "annotation").is_dir()]
    if len(safes) != 1:
        raise BurstDeliveryError(f"{what}: {len(safes)} SAFE folders in the zip, not one")
    try:
        check_one_burst_safe(safes[0])
    except BurstSafeError as exc:
        raise BurstDeliveryError(f"{what}: not a one-burst SAFE: {exc}") from None
    return safes[0]
