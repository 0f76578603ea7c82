"""ObjectStorage on a real S3 API (moto in server mode) and a GCS emulator (fake-gcs-server).

The contract every storage keeps (round trip, replace, missing key, idempotent delete, key checks) runs
on local and S3 storage in ``test_local_storage.py``; here is what is particular to object storage.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import ObjectStorage, StorageError, StorageNotFoundError, open_storage
from storage import object as object_module
from storage.errors import StorageTemporaryError
from storage.object import open_store
from tests.support.gcs_server import FakeGcs, fake_gcs
from tests.support.s3_server import ACCESS_KEY, SECRET_KEY, MotoS3, fault_proxy, moto_s3

pytestmark = pytest.mark.integration
_names = itertools.count()


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    with moto_s3() as server:
        yield server


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, s3: MotoS3) -> MotoS3:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("GEOCUBE_INGESTER_S3_ENDPOINT_URL", s3.endpoint)
    return s3


@pytest.fixture
def bucket(s3: MotoS3) -> str:
    name = f"bucket-{next(_names)}"
    s3.create_bucket(name)
    return name


def _file(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_open_storage_serves_s3_uris_indexable_as_they_are(
    s3_env: MotoS3, bucket: str, tmp_path: Path
) -> None:
    storage = open_storage(f"s3://{bucket}/geocube")
    assert isinstance(storage, ObjectStorage)
    uri = storage.upload(_file(tmp_path / "a.tif", b"pixels"), "aoi/scene/a.tif")
    assert uri == f"s3://{bucket}/geocube/aoi/scene/a.tif" == storage.uri_of("aoi/scene/a.tif")
    assert s3_env.get(bucket, "geocube/aoi/scene/a.tif") == b"pixels"
    assert storage.local_path("aoi/scene/a.tif") is None, "remote: a job downloads what it reads"


def test_large_upload_is_multipart_and_round_trips(s3_env: MotoS3, bucket: str, tmp_path: Path) -> None:
    storage = open_storage(f"s3://{bucket}")
    body = bytes(range(256)) * (80 * 1024)  # 20 MiB: three parts
    storage.upload(_file(tmp_path / "big.tif", body), "big.tif", move=True)
    assert not (tmp_path / "big.tif").exists(), "move: the local file is given up once stored"
    storage.download("big.tif", tmp_path / "out" / "big.tif")
    assert (tmp_path / "out" / "big.tif").read_bytes() == body
    assert list((tmp_path / "out").iterdir()) == [tmp_path / "out" / "big.tif"], "no temporary file left"


def test_a_failure_mid_upload_leaves_no_object_and_no_pending_upload(
    s3_env: MotoS3, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = open_storage(f"s3://{bucket}")
    src = _file(tmp_path / "big.tif", b"x" * (20 << 20))

    def failing_reader(path: Path, size: int) -> Iterator[bytes]:
        yield b"x" * object_module.CHUNK_SIZE  # one part reaches the server, then the disk fails
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(object_module, "_read_exactly", failing_reader)
    with pytest.raises(StorageError, match="Input/output error"):
        storage.upload(src, "k/big.tif")
    assert s3_env.keys(bucket) == [], "no partial object is ever visible"
    assert s3_env.pending_uploads(bucket) == 0, "the multipart upload was aborted"
    assert src.is_file(), "a failed upload gives nothing up"


def test_a_file_shrinking_during_the_upload_fails_it(s3_env: MotoS3, bucket: str, tmp_path: Path) -> None:
    src = _file(tmp_path / "big.tif", b"x" * (20 << 20))
    chunks = object_module._read_exactly(src, 30 << 20)  # the size it had when the upload began
    with pytest.raises(OSError, match="changed during the upload"):
        list(chunks)


def test_list_keys_delete_exists(s3_env: MotoS3, bucket: str, tmp_path: Path) -> None:
    storage = open_storage(f"s3://{bucket}/root")
    for key in ("aoi/a.tif", "aoi/sub/b.tif", "aoi2/c.tif", "aoi/.hidden.part"):
        storage.upload(_file(tmp_path / "f", key.encode()), key)
    assert storage.list_keys("aoi/") == ["aoi/a.tif", "aoi/sub/b.tif"]
    assert storage.list_keys("aoi") == ["aoi/a.tif", "aoi/sub/b.tif"], "whole path parts only"
    assert storage.list_keys("") == ["aoi/a.tif", "aoi/sub/b.tif", "aoi2/c.tif"]
    assert storage.list_keys("nothing/") == []
    assert storage.exists("aoi/a.tif") and not storage.exists("aoi/zzz.tif")
    assert storage.delete("aoi/a.tif") is True
    assert storage.delete("aoi/a.tif") is False, "idempotent: a retried cleanup passes"
    with pytest.raises(StorageNotFoundError, match=rf"File not found: s3://{bucket}/root/aoi/a\.tif"):
        storage.download("aoi/a.tif", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_missing_bucket_is_a_clear_storage_error(s3_env: MotoS3, tmp_path: Path) -> None:
    storage = open_storage("s3://no-such-bucket/x")
    with pytest.raises(StorageError, match=r"upload of .* to s3://no-such-bucket/x/a\.tif failed"):
        storage.upload(_file(tmp_path / "a", b"x"), "a.tif")


@pytest.mark.parametrize(
    "uri", ["s3://AKIA:secret@bucket/x", "s3://bucket/x?X-Amz-Signature=secret", "gs://bucket/p?token=secret"]
)
def test_object_uris_carry_no_credentials(uri: str) -> None:
    with pytest.raises(StorageError, match="without credentials") as info:
        open_storage(uri)
    assert "secret" not in str(info.value)


def test_credentials_stay_out_of_repr_and_logs(
    s3_env: MotoS3, bucket: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = open_store("s3", bucket, endpoint_url=s3_env.endpoint, access_key_id=ACCESS_KEY,
                       secret_access_key=SECRET_KEY)  # fmt: skip
    storage = ObjectStorage(f"s3://{bucket}/p", store=store)
    storage.upload(_file(tmp_path / "a", b"x"), "a.tif")
    with pytest.raises(StorageNotFoundError) as info:
        storage.download("missing.tif", tmp_path / "m")
    shown = f"{storage!r} {store!r} {info.value} {caplog.text}"
    assert SECRET_KEY not in shown and ACCESS_KEY not in shown
    assert repr(storage) == f"ObjectStorage('s3://{bucket}/p')"


# ----------------------------------------------------------------------------------- gs:// (emulator)


@pytest.fixture(scope="module")
def gcs() -> Iterator[FakeGcs]:
    with fake_gcs() as server:
        yield server


def test_gs_reads_lists_deletes_on_the_emulator(
    gcs: FakeGcs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gcs.create_bucket("gbucket")
    gcs.seed("gbucket", "root/aoi/a.tif", b"pixels")
    gcs.seed("gbucket", "root/aoi/b.tif", b"more")
    monkeypatch.setenv("GEOCUBE_INGESTER_GS_ENDPOINT_URL", gcs.endpoint)
    storage = open_storage("gs://gbucket/root")
    assert isinstance(storage, ObjectStorage)
    assert storage.uri_of("aoi/a.tif") == "gs://gbucket/root/aoi/a.tif"
    assert storage.list_keys("aoi/") == ["aoi/a.tif", "aoi/b.tif"]
    storage.download("aoi/a.tif", tmp_path / "a.tif")
    assert (tmp_path / "a.tif").read_bytes() == b"pixels"
    assert storage.exists("aoi/b.tif")
    assert storage.delete("aoi/b.tif") is True and storage.delete("aoi/b.tif") is False
    assert gcs.keys("gbucket") == ["root/aoi/a.tif"]
    with pytest.raises(StorageNotFoundError, match=r"gs://gbucket/root/aoi/zz\.tif"):
        storage.download("aoi/zz.tif", tmp_path / "zz")


def test_a_store_that_keeps_answering_503_is_a_temporary_failure(
    s3_env: MotoS3, bucket: str, tmp_path: Path
) -> None:
    """After obstore's own retries a 5xx is still worth retrying later (the task does); a refusal is not."""
    storage = open_storage(f"s3://{bucket}/geocube")
    storage.upload(_file(tmp_path / "a.tif", b"pixels"), "a.tif")
    with fault_proxy(s3_env.endpoint) as proxy:
        store = open_store("s3", bucket, endpoint_url=proxy.endpoint, access_key_id=ACCESS_KEY,
                           secret_access_key=SECRET_KEY, region="us-east-1", max_retries=0)  # fmt: skip
        through = ObjectStorage(f"s3://{bucket}/geocube", store=store)
        proxy.script = [{"status": 503, "body": b"<Error><Code>SlowDown</Code></Error>"}]
        with pytest.raises(StorageTemporaryError, match="download of s3://"):
            through.download("a.tif", tmp_path / "back.tif")
        proxy.script = [{"status": 403, "body": b"<Error><Code>AccessDenied</Code></Error>"}]
        with pytest.raises(StorageError, match="credentials were refused"):
            through.download("a.tif", tmp_path / "back.tif")
        through.download("a.tif", tmp_path / "back.tif")
    assert (tmp_path / "back.tif").read_bytes() == b"pixels"
