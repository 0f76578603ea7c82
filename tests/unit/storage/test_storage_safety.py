"""Stored files are readable by a Geocube running as another user; URIs never show credentials."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from storage import open_storage
from storage.errors import StorageError
from storage.layout import extract_zip_safely
from storage.local import LocalStorage


def test_uploaded_files_get_the_usual_mode_not_mkstemps_0600(tmp_path: Path) -> None:
    src = tmp_path / "layer.tif"
    src.write_bytes(b"x")
    old = os.umask(0o022)
    try:
        LocalStorage(tmp_path / "store").upload(src, "a/b/layer.tif")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "store" / "a" / "b" / "layer.tif").stat().st_mode) == 0o644


def test_storage_errors_never_show_credentials() -> None:
    for uri in ("s3://AKIA:SECRET@bucket/x?X-Amz-Signature=sig", "file://user:SECRET@host/data"):
        with pytest.raises(StorageError) as caught:
            open_storage(uri)
        assert "SECRET" not in str(caught.value) and "sig" not in str(caught.value)


def test_corrupt_deflate_data_is_a_storage_error(tmp_path: Path) -> None:
    archive = tmp_path / "p.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("p.SAFE/manifest.safe", b"<xfdu/>" * 1000)
    data = bytearray(archive.read_bytes())
    data[60:80] = b"\xff" * 20  # inside the compressed member
    archive.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="not a valid zip"):
        extract_zip_safely(archive, tmp_path / "out", archive="p.zip")
