"""The cdse-s3 provider against a real S3 API (moto in server mode) holding a product at its real
CDSE ``S3Path``, with faults from a proxy in front of moto (cuts mid-body, a refused key)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from catalogue.models import Constellation, Scene
from common.settings import Settings
from providers.cdse.eodata import CdseS3Downloader, eodata_key
from providers.cdse.products import parse_product
from providers.errors import ProductNotFoundError
from providers.fetch import DownloadAuthError
from providers.objects import READ_SIZE
from tests.support.s3_server import ACCESS_DENIED_XML, ACCESS_KEY, SECRET_KEY, MotoS3, fault_proxy, moto_s3
from tests.unit.providers.cdse_support import S1_PAGES, S2_TOP2

pytestmark = pytest.mark.integration
L1C = "S2A_MSIL1C_20180101T105441_N0206_R051_T31TDH_20180101T124911.SAFE"
GRANULE = "GRANULE/L1C_T31TDH_A013204_20180101T105435"
# Real files of a Sentinel-2 L1C .SAFE (shared fixtures), placed under the S3Path CDSE gives.
SAFE_FILES = ["MTD_MSIL1C.xml", f"{GRANULE}/MTD_TL.xml", f"{GRANULE}/IMG_DATA/T31TDH_20180101T105441_B01.jp2"]


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    with moto_s3() as server:
        server.create_bucket("eodata")
        yield server


@pytest.fixture
def scene(shared_fixtures: Path) -> Scene:
    """The first product of a recorded CDSE OData answer, as the cdse searcher makes it a Scene."""
    product = json.loads((shared_fixtures / S2_TOP2).read_text())["value"][0]
    return parse_product(product, Constellation.SENTINEL2)


@pytest.fixture
def product(s3: MotoS3, scene: Scene, shared_fixtures: Path) -> dict[str, bytes]:
    key = eodata_key(scene.metadata["s3_path"])
    assert key is not None
    files = {name: (shared_fixtures / "s2" / L1C / name).read_bytes() for name in SAFE_FILES}
    for name, body in files.items():
        s3.put("eodata", f"{key}/{name}", body)
    return files


def _downloader(endpoint: str) -> CdseS3Downloader:
    return CdseS3Downloader(endpoint=endpoint, access_key=ACCESS_KEY, secret_key=SecretStr(SECRET_KEY),
                            max_retries=0)  # fmt: skip


def test_the_searcher_keeps_s3path_and_it_names_the_key(scene: Scene) -> None:
    assert scene.metadata["s3_path"].startswith("/eodata/Sentinel-2/MSI/L1C_N0500/2020/08/08/")
    assert eodata_key(scene.metadata["s3_path"]) == (
        "Sentinel-2/MSI/L1C_N0500/2020/08/08/S2A_MSIL1C_20200808T010311_N0500_R045_T54PXA_20230413T212505.SAFE"
    )
    assert eodata_key("/other/x/y") is None


def test_a_safe_folder_is_fetched_file_by_file_then_renamed_into_place(
    s3: MotoS3, scene: Scene, product: dict[str, bytes], tmp_path: Path
) -> None:
    path = _downloader(s3.endpoint).download(scene, tmp_path)
    assert path == tmp_path / f"{scene.source_id}.SAFE"
    for name, body in product.items():
        assert (path / name).read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "no staging folder, no .part left"


def test_a_cut_is_resumed_per_file_and_less_than_one_chunk_is_sent_again(
    s3: MotoS3, scene: Scene, product: dict[str, bytes], tmp_path: Path
) -> None:
    band = SAFE_FILES[2]
    size = len(product[band])
    with fault_proxy(s3.endpoint) as proxy:
        proxy.script = [{"match": "B01.jp2", "cut_at": size // 2}]
        path = _downloader(proxy.endpoint).download(scene, tmp_path)
    assert (path / band).read_bytes() == product[band]
    sent = next(n for p, n in proxy.body_bytes.items() if p.endswith("B01.jp2"))
    assert size <= sent < size + READ_SIZE, f"{sent - size} bytes sent twice"
    ranged = [h for m, p, h in proxy.requests if p.endswith("B01.jp2") and "range" in {k.lower() for k in h}]
    assert ranged, "the rest came with a ranged GET"


def test_files_already_there_are_not_fetched_again(
    s3: MotoS3, scene: Scene, product: dict[str, bytes], tmp_path: Path
) -> None:
    # A first attempt failed after two files: they are in the staging folder, whole.
    staging = tmp_path / f".{scene.source_id}.SAFE.partial"
    for name in SAFE_FILES[:2]:
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(product[name])
    band = staging / SAFE_FILES[2]
    band.parent.mkdir(parents=True, exist_ok=True)
    (band.parent / (band.name + ".part")).write_bytes(product[SAFE_FILES[2]][:100_000])
    with fault_proxy(s3.endpoint) as proxy:
        path = _downloader(proxy.endpoint).download(scene, tmp_path)
    gets = [p for m, p, h in proxy.requests if m == "GET" and "?" not in p]
    assert len(gets) == 1 and gets[0].endswith("B01.jp2"), gets
    sent = next(n for p, n in proxy.body_bytes.items() if p.endswith("B01.jp2"))
    assert sent == len(product[SAFE_FILES[2]]) - 100_000, "the .part was resumed"
    assert (path / SAFE_FILES[2]).read_bytes() == product[SAFE_FILES[2]]


def test_a_refused_key_is_an_auth_error_naming_the_settings_and_no_secret(
    s3: MotoS3, scene: Scene, product: dict[str, bytes], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with fault_proxy(s3.endpoint) as proxy:
        proxy.script = [{"match": "list-type", "status": 403, "body": ACCESS_DENIED_XML}]
        downloader = _downloader(proxy.endpoint)
        with pytest.raises(DownloadAuthError, match="GEOCUBE_INGESTER_CDSE_S3_ACCESS_KEY") as info:
            downloader.download(scene, tmp_path)
    shown = f"{info.value} {downloader!r} {caplog.text}"
    assert SECRET_KEY not in shown and ACCESS_KEY not in shown


def test_a_product_missing_from_the_bucket_goes_to_the_next_provider(
    s3: MotoS3, scene: Scene, tmp_path: Path
) -> None:
    missing = scene.model_copy(
        update={"metadata": {"s3_path": "/eodata/Sentinel-2/MSI/L1C/2020/01/01/X.SAFE"}}
    )
    with pytest.raises(ProductNotFoundError, match=r"X\.SAFE does not exist"):
        _downloader(s3.endpoint).download(missing, tmp_path)
    without = scene.model_copy(update={"metadata": {}})
    with pytest.raises(ProductNotFoundError, match="no CDSE S3Path"):
        _downloader(s3.endpoint).download(without, tmp_path)


def test_a_one_object_product_is_that_file(s3: MotoS3, shared_fixtures: Path, tmp_path: Path) -> None:
    aux = json.loads((shared_fixtures / S1_PAGES[0]).read_text())["value"][0]  # S3Path ends in .SAFE.zip
    scene = parse_product(aux, Constellation.SENTINEL1, required_attributes=())
    key = eodata_key(scene.metadata["s3_path"])
    assert key is not None and key.endswith(".SAFE.zip")
    s3.put("eodata", key, b"PK\x05\x06" + bytes(18))
    path = _downloader(s3.endpoint).download(scene, tmp_path)
    assert path.name.endswith(".SAFE.zip") and path.read_bytes() == b"PK\x05\x06" + bytes(18)


def test_from_settings_needs_the_key_pair() -> None:
    assert CdseS3Downloader.from_settings(Settings()) is None
    settings = Settings(cdse_s3_access_key="KEY-ID-42", cdse_s3_secret_key=SecretStr("SECRET-XYZ"))
    downloader = CdseS3Downloader.from_settings(settings)
    assert downloader is not None and downloader.name == "cdse-s3"
    assert "SECRET-XYZ" not in repr(downloader) and "KEY-ID-42" not in repr(downloader)
