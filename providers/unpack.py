"""Unpacking downloaded archives safely; the zip-slip checks are ``storage.layout.extract_zip_safely``'s."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from providers.errors import DownloadError, DownloadTemporaryError
from storage.errors import StorageError
from storage.layout import extract_zip_safely

# macOS resource forks, which some archivers add; never part of a product.
_IGNORED_ENTRIES = frozenset({"__MACOSX"})


def unpack_product(archive: Path, dest_dir: Path) -> Path:
    """Extract ``archive`` into ``dest_dir`` and return the product's top-level entry.

    Extraction goes to a temporary folder inside ``dest_dir`` first, then each top-level entry is
    moved in place, so a failure leaves no half-extracted product behind.

    Raises:
        DownloadError: not a zip, a corrupt zip, a member that would escape the folder, or an empty archive.
        DownloadTemporaryError: extraction failed on the local disk (e.g. disk full).
    """
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".unpack-") as tmp:
        root = Path(tmp)
        try:
            extract_zip_safely(archive, root, archive=archive.name)
        except StorageError as exc:
            raise DownloadError(str(exc)) from exc
        except OSError as exc:
            raise DownloadTemporaryError(f"{archive.name}: extraction failed ({exc})") from None
        entries = sorted(e for e in root.iterdir() if e.name not in _IGNORED_ENTRIES)
        if not entries:
            raise DownloadError(f"{archive.name}: empty archive")
        for entry in entries:
            destination = dest_dir / entry.name
            if destination.exists():
                shutil.rmtree(destination) if destination.is_dir() else destination.unlink()
            entry.rename(destination)
    tops = [dest_dir / e.name for e in entries]
    safe = [t for t in tops if t.suffix == ".SAFE"]
    return (safe or tops)[0]
