from __future__ import annotations

from pathlib import Path

import pytest

from common.errors import PermanentError
from storage import LocalStorage, ObjectStorage, Storage, StorageError, open_storage


def test_absolute_path_is_local_storage(tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path))
    assert isinstance(storage, LocalStorage)
    assert isinstance(storage, Storage)
    assert storage.uri_of("aoi/x.tif") == str(tmp_path / "aoi" / "x.tif")


def test_file_uri_is_local_storage_and_uris_are_plain_paths(tmp_path: Path) -> None:
    storage = open_storage(f"file://{tmp_path}")
    uri = storage.uri_of("aoi/x.tif")
    assert uri == str(tmp_path / "aoi" / "x.tif")
    assert not uri.startswith("file:")


@pytest.mark.parametrize("uri", ["s3://bucket/prefix", "gs://bucket/prefix"])
def test_object_uris_are_object_storage_indexed_as_they_are(uri: str) -> None:
    storage = open_storage(uri)  # nothing is asked of the server before the first call
    assert isinstance(storage, ObjectStorage) and isinstance(storage, Storage)
    assert storage.uri_of("aoi/x.tif") == f"{uri}/aoi/x.tif"


def test_object_uris_with_credentials_are_refused_without_showing_them() -> None:
    with pytest.raises(StorageError, match="without credentials") as info:
        open_storage("gs://bucket/prefix?X-Goog-Signature=secret")
    assert isinstance(info.value, PermanentError)
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("uri", ["data/geocube", "./data", "file://data/geocube"])
def test_relative_paths_are_refused_with_the_fix(uri: str) -> None:
    with pytest.raises(StorageError, match=r"storage_uri .*(absolute|file:///)"):
        open_storage(uri)


@pytest.mark.parametrize("uri", ["", "ftp://host/data"])
def test_empty_or_unknown_scheme(uri: str) -> None:
    with pytest.raises(StorageError, match="storage_uri"):
        open_storage(uri)
