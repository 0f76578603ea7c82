"""Opening a downloaded product: checking its archive whole, or unpacking it safely.

The zip rules (zip-slip checks, ignored entries) are ``storage.layout``'s; here a broken archive is a
download error.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

from providers.errors import DownloadError, DownloadTemporaryError
from storage.errors import StorageError
from storage.layout import IGNORED_ENTRIES, check_zip, extract_zip_safely


def check_archive(archive: Path) -> list[str]:
    """The top-level entries of a product zip, after reading it through once: every member's CRC and
    path checked, nothing written.

    Raises:
        DownloadError: not a zip, a corrupt or truncated member, or a member that would escape.
        DownloadTemporaryError: the archive could not be read from the local disk.
    """
    try:
        return check_zip(archive, archive=archive.name)
    except StorageError as exc:
        raise DownloadError(str(exc)) from exc
    except OSError as exc:
        raise DownloadTemporaryError(f"{archive.name}: could not be read ({exc})") from None


def unpack_product(archive: Path, dest_dir: Path) -> Path:
    """Extract ``archive`` into ``dest_dir`` and return the product's top-level entry.

    Extraction goes to a temporary folder inside ``dest_dir`` first, then each top-level entry is
    moved in place, so a failure leaves no half-extracted product behind.

    Raises:
        DownloadError: not a zip, a corrupt zip, a member that would escape the folder, or an empty archive.
        DownloadTemporaryError: extraction failed on the local disk (e.g. disk full).
    """
    _check_room(archive, dest_dir)
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".unpack-") as tmp:
        root = Path(tmp)
        try:
            extract_zip_safely(archive, root, archive=archive.name)
        except StorageError as exc:
            raise DownloadError(str(exc)) from exc
        except OSError as exc:
            raise DownloadTemporaryError(f"{archive.name}: extraction failed ({exc})") from None
        entries = sorted(e for e in root.iterdir() if e.name not in IGNORED_ENTRIES)
        if not entries:
            raise DownloadError(f"{archive.name}: empty archive")
        _product_entry(archive, entries)
        for entry in entries:
            destination = dest_dir / entry.name
            if destination.exists():
                shutil.rmtree(destination) if destination.is_dir() else destination.unlink()
            entry.rename(destination)
    tops = [dest_dir / e.name for e in entries]
    safe = [t for t in tops if t.suffix == ".SAFE"]
    return (safe or tops)[0]


def _product_entry(archive: Path, entries: list[Path]) -> None:
    """Refuse an archive whose product is ambiguous: two ``.SAFE`` folders at its top."""
    safe = [e.name for e in entries if e.suffix == ".SAFE"]
    if len(safe) > 1:
        raise DownloadError(
            f"{archive.name}: holds {len(safe)} .SAFE products ({', '.join(safe[:3])}); which one is meant "
            "cannot be told: refusing it"
        )


def _check_room(archive: Path, dest_dir: Path) -> None:
    """Enough free space for what the zip unpacks to, or a clear error before anything is written."""
    try:
        with zipfile.ZipFile(archive) as zf:
            needed = sum(m.file_size for m in zf.infolist())
        free = shutil.disk_usage(dest_dir).free
    except (OSError, zipfile.BadZipFile):
        return  # extraction reports it, with its own message
    if needed > free:
        raise DownloadTemporaryError(
            f"{archive.name}: unpacks to {needed / 1024**3:.2f} GiB but {dest_dir} has {free / 1024**3:.2f} "
            "GiB free; free space in the work directory (GEOCUBE_INGESTER_WORKDIR) or point it elsewhere"
        )


def open_product(arrived: Path, dest_dir: Path) -> Path:
    """The product unpacked in ``dest_dir`` (where the scene graph runs); return its top-level entry.

    A zip is unpacked; a folder (a product given unpacked) is copied in, as the graph may write next to
    it and ``arrived`` may be a user's own copy.

    Raises:
        DownloadError: see :func:`unpack_product`.
        DownloadTemporaryError: the local disk failed (e.g. full).
    """
    if arrived.is_dir():
        target = dest_dir / arrived.name
        try:
            shutil.copytree(arrived, target, dirs_exist_ok=True)
        except OSError as exc:
            raise DownloadTemporaryError(f"{arrived.name}: copy failed ({exc})") from None
        return target
    return unpack_product(arrived, dest_dir)
