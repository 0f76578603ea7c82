"""The contract every Searcher and every Downloader keeps, whatever the provider (STYLE.md §2, §3).

Each registered catalogue is built from the settings, as a deployment builds it, against a local HTTP
server that answers every request with one fault. Whatever the provider, a fault is classified (retry
later, next provider, or stop), a body of the wrong shape is an error of ours and never a crash, and no
secret (password, API key, signed query) is in any message.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import SecretStr

from catalogue.models import Constellation, Scene, SceneQuery
from common.errors import IngestError, PermanentError, ProductUnavailableError, TemporaryError
from common.settings import Settings
from providers.downloaders import PROVIDERS
from providers.registry import CATALOGUES

pytestmark = pytest.mark.integration

PASSWORD = "pw-contract-6f1c"
APIKEY = "key-contract-93ab"
TOKEN = "sig-contract-22d0"
AOI = "POLYGON ((1.26 43.5, 1.35 43.5, 1.35 43.6, 1.26 43.6, 1.26 43.5))"
CONSTELLATION = {
    "cdse": Constellation.SENTINEL2,
    "creodias": Constellation.SENTINEL1,
    "asf": Constellation.SENTINEL1,
    "dhus": Constellation.SENTINEL2,
    "oneatlas": Constellation.PHR,
    "stac-landsat": Constellation.LANDSAT89,
    "stac-earth-search": Constellation.SENTINEL2,
    "stac-cdse": Constellation.SENTINEL2,
}
HTTP_CATALOGUES = sorted(CONSTELLATION)


class Fault:
    """What the server answers to every request."""

    def __init__(self) -> None:
        self.status, self.body, self.headers = 200, b"{}", {"Content-Type": "application/json"}


@pytest.fixture
def server() -> Iterator[tuple[str, Fault]]:
    fault = Fault()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(fault.status)
            for key, value in fault.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(fault.body)))
            self.end_headers()
            self.wfile.write(fault.body)

        do_GET = do_POST = _answer  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", fault
    finally:
        httpd.shutdown()
        httpd.server_close()


def settings_for(base: str) -> Settings:
    url = f"{base}/api?token={TOKEN}"
    return Settings(
        cdse_odata_url=url, creodias_odata_url=url, asf_search_url=url, dhus_url=f"{base}/dhus",
        dhus_user="contract", dhus_password=PASSWORD, oneatlas_apikey=APIKEY, oneatlas_search_url=url,
        oneatlas_order_url=url, oneatlas_auth_url=f"{base}/auth?token={TOKEN}", stac_landsat_url=url,
        stac_earth_search_url=url, stac_cdse_url=url, http_timeout_s=5,
    )  # fmt: skip


def search(name: str, base: str) -> None:
    searcher = CATALOGUES[name](settings_for(base))
    query = SceneQuery(
        aoi_wkt=AOI,
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 2, 1, tzinfo=UTC),
        constellation=CONSTELLATION[name],
    )
    searcher.search(query)


def assert_no_secret(error: BaseException) -> None:
    text = f"{error} {error!r} {error.__cause__!r}"
    for secret in (PASSWORD, APIKEY, TOKEN):
        assert secret not in text, f"a secret in: {text}"


def test_every_http_catalogue_of_the_registry_is_covered() -> None:
    assert set(CATALOGUES) == {*HTTP_CATALOGUES, "static-stac"}


@pytest.mark.parametrize("name", HTTP_CATALOGUES)
def test_a_busy_catalogue_is_temporary_and_says_when_to_come_back(name: str, server) -> None:
    base, fault = server
    fault.status, fault.headers = 503, {"Retry-After": "3600", "Content-Type": "text/plain"}
    fault.body = b"busy"
    with pytest.raises(TemporaryError) as info:
        search(name, base)
    assert info.value.retry_after_s is not None and info.value.retry_after_s >= 3500
    assert_no_secret(info.value)


@pytest.mark.parametrize("name", HTTP_CATALOGUES)
def test_refused_credentials_stop_without_showing_them(name: str, server) -> None:
    base, fault = server
    fault.status, fault.body = 401, b'{"error": "unauthorized"}'
    with pytest.raises(IngestError) as info:
        search(name, base)
    assert isinstance(info.value, PermanentError) and not isinstance(info.value, TemporaryError)
    assert_no_secret(info.value)


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"value": 3, "features": 3, "results": 3}', b"not json"])
@pytest.mark.parametrize("name", HTTP_CATALOGUES)
def test_a_body_of_the_wrong_shape_is_our_error_not_a_crash(name: str, body: bytes, server) -> None:
    base, fault = server
    fault.body = body
    try:
        search(name, base)
    except IngestError as exc:
        assert_no_secret(exc)
    # A body that happens to read as "nothing found" is fine too; any other exception fails the test.


def scene(link: str = "") -> Scene:
    return Scene(
        source_id="S2A_MSIL1C_20240105T105421_N0510_R051_T31TCJ_20240105T120624",
        date=datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC),
        constellation=Constellation.SENTINEL2,
        footprint_wkt=AOI,
        metadata={"download_link": link} if link else {},
    )


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_an_unknown_product_is_unavailable_so_the_next_provider_is_tried(
    name: str, server: tuple[str, Fault], tmp_path: Path
) -> None:
    base, fault = server
    fault.body = b'{"value": []}'  # a catalogue asked where the product is lists nothing
    account = {  # every provider configured, with a secret the messages must not show
        "cdse_username": "user",
        "cdse_password": SecretStr(TOKEN),
        "cdse_s3_access_key": "access",
        "cdse_s3_secret_key": SecretStr(TOKEN),
        "earthdata_token": SecretStr(TOKEN),
        "creodias_username": "user",
        "creodias_password": SecretStr(PASSWORD),
        "creodias_totp_secret": SecretStr("JBSWY3DPEHPK3PXP"),
        "creodias_odata_url": f"{base}/odata/v1",
        "dhus_url": f"{base}/dhus/",
        "dhus_user": "user",
        "dhus_password": SecretStr(PASSWORD),
        "oneatlas_apikey": SecretStr(APIKEY),
    }
    provider = PROVIDERS[name](Settings(local_archive=str(tmp_path / "archive"), **account))
    assert provider is not None
    (tmp_path / "archive").mkdir()
    with pytest.raises(ProductUnavailableError):
        provider.download(scene(), tmp_path / "work")


@pytest.mark.parametrize(
    ("status", "family"), [(503, TemporaryError), (404, ProductUnavailableError), (401, PermanentError)]
)
def test_the_url_provider_classifies_and_hides_the_signature(
    status: int, family: type[Exception], server, tmp_path: Path
) -> None:
    base, fault = server
    fault.status, fault.body = status, b"no"
    provider = PROVIDERS["url"](Settings())
    assert provider is not None
    with pytest.raises(family) as info:
        provider.download(scene(f"{base}/product.zip?token={TOKEN}"), tmp_path)
    assert_no_secret(info.value)
