"""The storage contract on LocalStorage, and (``any_storage``) on S3 object storage too (moto)."""

from __future__ import annotations

import errno
import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import LocalStorage, ObjectStorage, Storage, StorageError, StorageNotFoundError
from storage.object import open_store
from tests.support.s3_server import ACCESS_KEY, SECRET_KEY, MotoS3, moto_s3

_buckets = itertools.count()


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    with moto_s3() as server:
        yield server


@pytest.fixture(params=["local", "s3"])
def any_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """The same contract on every backend: a local folder, an S3 bucket (moto in server mode)."""
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    s3: MotoS3 = request.getfixturevalue("s3")
    bucket = f"contract-{next(_buckets)}"
    s3.create_bucket(bucket)
    store = open_store("s3", bucket, endpoint_url=s3.endpoint, access_key_id=ACCESS_KEY,
                       secret_access_key=SECRET_KEY)  # fmt: skip
    return ObjectStorage(f"s3://{bucket}/store", store=store)


def _file(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_round_trip(any_storage: Storage, tmp_path: Path) -> None:
    src = _file(tmp_path / "in" / "a.tif", b"pixels")
    uri = any_storage.upload(src, "aoi/scene/tiles/t/a.tif")
    assert uri == any_storage.uri_of("aoi/scene/tiles/t/a.tif")
    assert uri.endswith("/store/aoi/scene/tiles/t/a.tif")
    assert any_storage.exists("aoi/scene/tiles/t/a.tif")
    any_storage.download("aoi/scene/tiles/t/a.tif", tmp_path / "out" / "b.tif")
    assert (tmp_path / "out" / "b.tif").read_bytes() == b"pixels"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["b.tif"], "no temporary file left"


def test_upload_replaces(any_storage: Storage, tmp_path: Path) -> None:
    any_storage.upload(_file(tmp_path / "a", b"one"), "k/a.tif")
    any_storage.upload(_file(tmp_path / "a", b"two"), "k/a.tif")
    assert any_storage.list_keys("k/") == ["k/a.tif"]
    any_storage.download("k/a.tif", tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == b"two"


def test_upload_leaves_no_temporary_file_and_replaces(storage: LocalStorage, tmp_path: Path) -> None:
    storage.upload(_file(tmp_path / "a", b"one"), "k/a.tif")
    storage.upload(_file(tmp_path / "a", b"two"), "k/a.tif")
    assert [p.name for p in (storage.root / "k").iterdir()] == ["a.tif"]
    assert (storage.root / "k" / "a.tif").read_bytes() == b"two"


def test_failed_upload_keeps_the_old_file_and_no_temporary(
    storage: LocalStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage.upload(_file(tmp_path / "a", b"old"), "k/a.tif")

    def broken_copy(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", broken_copy)
    with pytest.raises(StorageError, match="No space left"):
        storage.upload(_file(tmp_path / "a", b"new"), "k/a.tif")
    assert [p.name for p in (storage.root / "k").iterdir()] == ["a.tif"]
    assert (storage.root / "k" / "a.tif").read_bytes() == b"old"


def test_download_of_a_missing_key(any_storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(StorageNotFoundError, match=r"File not found: .*/missing\.tif"):
        any_storage.download("missing.tif", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_delete_is_idempotent(any_storage: Storage, tmp_path: Path) -> None:
    any_storage.upload(_file(tmp_path / "a", b"x"), "k/a.tif")
    assert any_storage.delete("k/a.tif") is True
    assert any_storage.delete("k/a.tif") is False
    assert not any_storage.exists("k/a.tif")


def test_list_keys(any_storage: Storage, tmp_path: Path) -> None:
    for key in ("aoi/s/a.tif", "aoi/b.tif", "aoi2/c.tif"):
        any_storage.upload(_file(tmp_path / "f", b"x"), key)
    assert any_storage.list_keys("aoi/") == ["aoi/b.tif", "aoi/s/a.tif"]
    assert any_storage.list_keys("none/") == []


@pytest.mark.parametrize("key", ["../escape.tif", "/abs.tif", "a/../../b", "", "a\\b"])
def test_keys_cannot_escape_the_root(any_storage: Storage, key: str) -> None:
    with pytest.raises(StorageError, match="storage key"):
        any_storage.uri_of(key)


def test_upload_of_a_missing_local_file(any_storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        any_storage.upload(tmp_path / "nope.tif", "k/a.tif")


def test_root_must_be_absolute() -> None:
    with pytest.raises(StorageError, match="absolute"):
        LocalStorage("relative/root")


def test_upload_by_move_renames_on_one_disk_with_the_usual_mode(
    storage: LocalStorage, tmp_path: Path
) -> None:
    src = _file(tmp_path / "scratch" / "p.zip", b"product")
    src.chmod(0o600)
    inode = src.stat().st_ino
    uri = storage.upload(src, "aoi/scene/tiles/t/p.zip", move=True)
    assert not src.exists(), "moved, not copied"
    assert Path(uri).read_bytes() == b"product" and Path(uri).stat().st_ino == inode
    umask = os.umask(0)
    os.umask(umask)
    assert Path(uri).stat().st_mode & 0o777 == 0o666 & ~umask, "readable by a Geocube of another user"


def test_upload_by_move_copies_across_disks(
    storage: LocalStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _file(tmp_path / "scratch" / "p.zip", b"product")
    real_replace = Path.replace

    def replace(self: Path, target: Path) -> Path:  # two bind mounts of one device refuse a rename
        if self == src:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    uri = storage.upload(src, "aoi/p.zip", move=True)
    assert Path(uri).read_bytes() == b"product" and src.is_file(), "copied instead"
    assert [p.name for p in (storage.root / "aoi").iterdir()] == ["p.zip"], "no temporary file left"


def test_upload_without_move_keeps_the_source(any_storage: Storage, tmp_path: Path) -> None:
    src = _file(tmp_path / "archive" / "p.zip", b"product")
    any_storage.upload(src, "aoi/p.zip")
    assert src.read_bytes() == b"product" and any_storage.exists("aoi/p.zip")


def test_local_path_is_the_stored_file_or_none(storage: LocalStorage, tmp_path: Path) -> None:
    assert storage.local_path("aoi/p.zip") is None
    storage.upload(_file(tmp_path / "p.zip", b"x"), "aoi/p.zip")
    assert storage.local_path("aoi/p.zip") == storage.root / "aoi" / "p.zip"
    with pytest.raises(StorageError):
        storage.local_path("../p.zip")
