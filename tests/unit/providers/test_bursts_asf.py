"""ASF's burst extractor against a local server that behaves like it: 202 while it extracts (with and
without Retry-After), then the XML and the TIFF, assembled into a one-burst SAFE."""

from __future__ import annotations

import logging
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pydantic import SecretStr
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from catalogue.burst_safe import check_one_burst_safe, find_swath_files, read_burst_pixels
from catalogue.models import Constellation, Scene, Tile
from providers.asf_bursts import AsfBurstDownloader
from providers.errors import BurstDeliveryError, DownloadTemporaryError, ProductNotFoundError
from providers.fetch import DownloadAuthError
from tests.support.burst_servers import Answer, scripted_server
from tests.support.s1_bursts import EFA4, asf_burst_tiff, asf_metadata_xml, unpack_efa4

pytestmark = pytest.mark.integration

TOKEN = "edl-token-burst-secret"
BOX = "POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))"


@pytest.fixture(scope="module")
def efa4(shared_fixtures: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack_efa4(shared_fixtures, tmp_path_factory.mktemp("asf-efa4"))


def _scene() -> Scene:
    return Scene(source_id=EFA4, date=datetime(2021, 4, 1, 5, 26, 22, tzinfo=UTC),
                 constellation=Constellation.SENTINEL1, footprint_wkt=BOX)  # fmt: skip


def _tile(nr: int) -> Tile:
    return Tile(source_id=f"A117_IW1_{nr}", scene_id=EFA4, date=datetime(2021, 4, 1, tzinfo=UTC),
                footprint_wkt=BOX, swath_id="IW1", tile_nr=nr)  # fmt: skip


@pytest.mark.slow  # a full-size burst TIFF: about 6 s
def test_202_twice_then_the_burst(efa4: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    xml = asf_metadata_xml(efa4, swath="IW1", polarisation="VV")
    tiff = asf_burst_tiff(efa4, tmp_path / "b.tiff", swath="IW1", polarisation="VV", burst=3)
    slept: list[float] = []
    with scripted_server() as server:
        base = f"/{EFA4}/IW1/VV/2"  # tile_nr 3: ASF counts bursts from 0
        server.routes[("GET", f"{base}.xml")] = [
            Answer(202, headers={"Retry-After": "0"}),
            Answer(202),
            Answer(200, xml),
        ]
        server.routes[("GET", f"{base}.tiff")] = [Answer(202), Answer(200, tiff)]
        provider = AsfBurstDownloader(
            SecretStr(TOKEN), burst_url=server.base, poll_s=0.01, sleep=slept.append
        )
        with caplog.at_level(logging.DEBUG):
            safe = provider.download_burst(_scene(), _tile(3), "vv", tmp_path / "out")
        assert slept == [0.0, 0.01, 0.01]  # Retry-After when sent, else the poll interval
        assert [r[1] for r in server.requests] == [f"{base}.xml"] * 3 + [f"{base}.tiff"] * 2
        assert all(r[2]["Authorization"] == f"Bearer {TOKEN}" for r in server.requests)
    burst = check_one_burst_safe(safe)
    assert (burst.swath, burst.polarisations, burst.lines, burst.samples) == ("IW1", ("VV",), 1501, 21632)
    [measurement] = (safe / "measurement").glob("*.tiff")
    assert measurement.name == Path(find_swath_files(efa4, "IW1")["VV"].measurement or "").name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(efa4 / "measurement" / measurement.name) as src:
            expected = src.read(1, window=Window(0, 2 * 1501, 21632, 1501))
    np.testing.assert_array_equal(read_burst_pixels(measurement), expected)
    assert TOKEN not in caplog.text


def test_extraction_that_takes_too_long_is_temporary(efa4: Path, tmp_path: Path) -> None:
    with scripted_server() as server:
        server.routes[("GET", f"/{EFA4}/IW1/VV/0.xml")] = [Answer(202, headers={"Retry-After": "30"})]
        provider = AsfBurstDownloader(
            SecretStr(TOKEN), burst_url=server.base, max_wait_s=90, sleep=lambda s: None
        )
        with pytest.raises(DownloadTemporaryError, match=r"still extracting after") as late:
            provider.download_burst(_scene(), _tile(1), "VV", tmp_path)
        assert late.value.retry_after_s == 30
        assert len(server.requests) == 4  # at 0, 30, 60 and 90 s: one more would pass the 90 s cap


def test_missing_refused_and_garbage(efa4: Path, tmp_path: Path) -> None:
    with scripted_server() as server:
        provider = AsfBurstDownloader(
            SecretStr(TOKEN), burst_url=server.base, poll_s=0.01, sleep=lambda s: None
        )
        with pytest.raises(ProductNotFoundError, match=r"answered 404"):
            provider.download_burst(_scene(), _tile(1), "VV", tmp_path)
        server.routes[("GET", f"/{EFA4}/IW1/VV/0.xml")] = [Answer(401)]
        with pytest.raises(DownloadAuthError, match=r"GEOCUBE_INGESTER_EARTHDATA_TOKEN") as refused:
            provider.download_burst(_scene(), _tile(1), "VV", tmp_path)
        assert TOKEN not in str(refused.value)
        server.routes[("GET", f"/{EFA4}/IW1/VV/0.xml")] = [Answer(200, b"<html>oops</html>")]
        server.routes[("GET", f"/{EFA4}/IW1/VV/0.tiff")] = [Answer(200, b"II*\x00 not a tiff")]
        with pytest.raises(BurstDeliveryError, match=r"no metadata element"):
            provider.download_burst(_scene(), _tile(1), "VV", tmp_path)
        server.routes[("GET", f"/{EFA4}/IW1/VV/0.xml")] = [
            Answer(200, asf_metadata_xml(efa4, swath="IW1", polarisation="VV"))
        ]
        with pytest.raises(BurstDeliveryError, match=r"not a readable TIFF"):
            provider.download_burst(_scene(), _tile(1), "VV", tmp_path)
        with pytest.raises(BurstDeliveryError, match=r"no product annotation of IW1 HH"):
            server.routes[("GET", f"/{EFA4}/IW1/HH/0.xml")] = server.routes[("GET", f"/{EFA4}/IW1/VV/0.xml")]
            server.routes[("GET", f"/{EFA4}/IW1/HH/0.tiff")] = [Answer(200, b"")]
            provider.download_burst(_scene(), _tile(1), "HH", tmp_path)
