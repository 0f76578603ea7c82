"""Unpacking downloaded archives safely (no member may escape the destination: zip-slip)."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

from providers.errors import DownloadError, DownloadTemporaryError


def unpack_product(archive: Path, dest_dir: Path) -> Path:
    """Extract ``archive`` into ``dest_dir`` and return the product's top-level entry.

    Extraction goes to a temporary folder inside ``dest_dir`` first, then each top-level entry is
    moved in place, so a failure leaves no half-extracted product behind.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{archive.name}: not a zip archive ({exc})") from None
    with zf, tempfile.TemporaryDirectory(dir=dest_dir, prefix=".unpack-") as tmp:
        root = Path(tmp).resolve()
        members = [m for m in zf.infolist() if not m.filename.startswith("__MACOSX/")]
        if not members:
            raise DownloadError(f"{archive.name}: empty archive")
        for member in members:
            target = (root / member.filename).resolve()
            if not target.is_relative_to(root):
                raise DownloadError(f"{archive.name}: member {member.filename!r} escapes the archive folder")
        try:
            zf.extractall(root, members)
        except (OSError, zipfile.BadZipFile) as exc:
            raise DownloadTemporaryError(f"{archive.name}: extraction failed ({exc})") from None
        entries = sorted(root.iterdir())
        for entry in entries:
            destination = dest_dir / entry.name
            if destination.exists():
                shutil.rmtree(destination) if destination.is_dir() else destination.unlink()
            entry.rename(destination)
    tops = [dest_dir / e.name for e in entries]
    safe = [t for t in tops if t.suffix == ".SAFE"]
    return (safe or tops)[0]
