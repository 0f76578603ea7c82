"""The url provider's s3:// and gs:// links, against moto in server mode and fake-gcs-server."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from catalogue.models import Constellation, Scene
from providers.errors import ProductNotFoundError
from providers.fetch import ChecksumMismatchError
from providers.objects import ObjectStores
from providers.url import UrlProvider
from tests.support.gcs_server import fake_gcs
from tests.support.s3_server import ACCESS_KEY, SECRET_KEY, MotoS3, fault_proxy, moto_s3

pytestmark = pytest.mark.integration
_buckets = itertools.count()
SCENE_ID = "LC08_L2SP_008059_20191201_20200825_02_T1"


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    with moto_s3() as server:
        yield server


@pytest.fixture(autouse=True)
def aws_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", "us-west-2")


@pytest.fixture
def bucket(s3: MotoS3) -> str:
    name = f"links-{next(_buckets)}"
    s3.create_bucket(name)
    return name


def _scene(link: str, **metadata: object) -> Scene:
    when = datetime(2019, 12, 1, tzinfo=UTC)
    return Scene(source_id=SCENE_ID, date=when, constellation=Constellation.LANDSAT89,
                 footprint_wkt="POLYGON EMPTY", metadata={"download_link": link, **metadata})  # fmt: skip


@pytest.fixture
def band(shared_fixtures: Path) -> bytes:
    """A real Landsat C2 L2 band (reduced GeoTIFF of the shared fixtures)."""
    return (shared_fixtures / "landsat" / SCENE_ID / f"{SCENE_ID}_SR_B4.TIF").read_bytes()


def test_an_s3_object_link_is_fetched_and_verified(
    s3: MotoS3, bucket: str, band: bytes, tmp_path: Path
) -> None:
    s3.put(bucket, f"c2/{SCENE_ID}_SR_B4.TIF", band)
    provider = UrlProvider(stores=ObjectStores(s3_endpoint_url=s3.endpoint))
    md5 = hashlib.md5(band).hexdigest()  # noqa: S324 - the catalogue's checksum, not a security hash
    scene = _scene(f"s3://{bucket}/c2/{SCENE_ID}_SR_B4.TIF", size_bytes=len(band), checksums={"MD5": md5})
    path = provider.download(scene, tmp_path)
    assert path == tmp_path / f"{SCENE_ID}_SR_B4.TIF" and path.read_bytes() == band
    assert list(tmp_path.iterdir()) == [path], "no .part left"


def test_a_wrong_checksum_is_the_next_providers_turn(
    s3: MotoS3, bucket: str, band: bytes, tmp_path: Path
) -> None:
    s3.put(bucket, "b.TIF", band)
    provider = UrlProvider(stores=ObjectStores(s3_endpoint_url=s3.endpoint))
    with pytest.raises(ChecksumMismatchError, match="twice"):
        provider.download(_scene(f"s3://{bucket}/b.TIF", checksums={"MD5": "0" * 32}), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_s3_folder_link_is_fetched_file_by_file(
    s3: MotoS3, bucket: str, band: bytes, tmp_path: Path
) -> None:
    for name in ("manifest.safe", "measurement/a.tiff", "annotation/a.xml"):
        s3.put(bucket, f"archive/{SCENE_ID}.SAFE/{name}", band[:1000] + name.encode())
    provider = UrlProvider(stores=ObjectStores(s3_endpoint_url=s3.endpoint))
    path = provider.download(_scene(f"s3://{bucket}/archive/{SCENE_ID}.SAFE"), tmp_path)
    assert path == tmp_path / f"{SCENE_ID}.SAFE"
    assert (path / "measurement" / "a.tiff").read_bytes() == band[:1000] + b"measurement/a.tiff"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_requester_pays_is_sent_when_the_setting_says_so(
    s3: MotoS3, bucket: str, band: bytes, tmp_path: Path
) -> None:
    s3.put(bucket, "rp/B4.TIF", band)
    with fault_proxy(s3.endpoint) as proxy:
        for pays in (False, True):
            provider = UrlProvider(
                stores=ObjectStores(s3_endpoint_url=proxy.endpoint, s3_requester_pays=pays)
            )
            provider.download(_scene(f"s3://{bucket}/rp/B4.TIF"), tmp_path / str(pays))
    payer = [{k.lower(): v for k, v in h.items()}.get("x-amz-request-payer") for m, p, h in proxy.requests]
    half = len(payer) // 2
    assert payer[:half] == [None] * half, "not without the setting"
    assert payer[half:] == ["requester"] * half, "on every request (list, head, get) with it"


def test_a_missing_object_is_not_found(s3: MotoS3, bucket: str, tmp_path: Path) -> None:
    provider = UrlProvider(stores=ObjectStores(s3_endpoint_url=s3.endpoint))
    with pytest.raises(ProductNotFoundError, match=rf"s3://{bucket}/nope\.zip does not exist"):
        provider.download(_scene(f"s3://{bucket}/nope.zip"), tmp_path)


def test_a_gs_link_is_fetched_from_the_emulator(band: bytes, tmp_path: Path) -> None:
    with fake_gcs() as gcs:
        gcs.create_bucket("gcp-public-data-landsat")
        gcs.seed("gcp-public-data-landsat", f"LC08/01/008/059/{SCENE_ID}_SR_B4.TIF", band)
        provider = UrlProvider(stores=ObjectStores(gs_endpoint_url=gcs.endpoint))
        link = f"gs://gcp-public-data-landsat/LC08/01/008/059/{SCENE_ID}_SR_B4.TIF"
        path = provider.download(_scene(link, size_bytes=len(band)), tmp_path)
    assert path.read_bytes() == band
