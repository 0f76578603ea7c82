"""A server that answers slowly, or never, never hangs a search or a download (issue 12, item 3).

Three servers on 127.0.0.1, each accepting the connection and reading the request:

- ``silent`` never answers: the read timeout (``http_timeout_s``) ends the call;
- ``slow-headers`` sends its status line and headers one byte every 0.3 s, for ever: every read gets a
  byte, so only a bound on the whole answer ends it (``catalogue_deadline_s`` for a catalogue, the stall
  window for a download);
- ``slow-body`` sends its headers at once and then its body one byte every 0.3 s (about 3 bytes/s).

Every HTTP catalogue of the registry (httpx, pystac-client's and sentinelsat's ``requests`` sessions) and
the first calls of every HTTP downloader (a token endpoint, a product's description, the file) are called
in a thread: the call must end in a typed temporary error naming the setting that bounded it, and within a
generous outer bound (``OUTER_S``; never a tight timing: the machine is shared).
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from catalogue.http import send
from catalogue.models import Constellation, Scene, SceneQuery
from common.errors import IngestError, TemporaryError
from common.settings import Settings
from providers.downloaders import PROVIDERS
from providers.fetch import Fetcher
from providers.registry import CATALOGUES
from tests.contract.test_provider_contract import CONSTELLATION, HTTP_CATALOGUES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTER_S = 60.0  # a hang, not a timing: the bounds below are 1-3 s
BYTE_EVERY_S = 0.3
MODES = ("silent", "slow-headers", "slow-body")
# What may bound each mode: the setting the error must name.
BOUNDS = {
    "silent": ("HTTP_TIMEOUT_S",),
    "slow-headers": ("CATALOGUE_DEADLINE_S", "STALL_WINDOW_S", "bytes/s"),
    "slow-body": ("CATALOGUE_DEADLINE_S", "STALL_WINDOW_S", "bytes/s"),
}
AOI = "POLYGON ((1.26 43.5, 1.35 43.5, 1.35 43.6, 1.26 43.6, 1.26 43.5))"


class SlowServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.stop = threading.Event()
        self.requests = 0
        super().__init__(("127.0.0.1", 0), SlowHandler)


class SlowHandler(socketserver.BaseRequestHandler):
    server: SlowServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(0.5)
        received = b""
        while b"\r\n\r\n" not in received and not self.server.stop.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            received += data
        self.server.requests += 1
        mode = self.server.mode
        if mode == "silent":
            self.server.stop.wait(OUTER_S * 2)
            return
        if mode == "slow-headers":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 100_000
            body = b""
        else:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            body = b'{"value": [' + b" " * 99_988 + b"]}"
            try:
                sock.sendall(head)
            except OSError:
                return
            head = b""
        for byte in head + body:
            if self.server.stop.wait(BYTE_EVERY_S):
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return


@contextlib.contextmanager
def serving(mode: str) -> Iterator[tuple[str, str]]:
    server = SlowServer(mode)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", mode
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(params=MODES)
def slow(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    with serving(request.param) as served:
        yield served


def ends_in_time(call: Callable[[], object]) -> BaseException | None:
    """What ``call()`` raised (None when it returned), failing the test if it runs over ``OUTER_S``."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(OUTER_S)
    assert not thread.is_alive(), f"still waiting after {OUTER_S:g} s: hung"
    return outcome[0]


def assert_bounded(error: BaseException | None, mode: str) -> None:
    assert error is not None, "a slow server's answer was taken as a result"
    assert isinstance(error, TemporaryError), f"{type(error).__name__}: {error}"
    assert any(bound in str(error) for bound in BOUNDS[mode]), f"names no setting of {BOUNDS[mode]}: {error}"


def settings_for(base: str) -> Settings:
    url = f"{base}/api"
    return Settings(
        cdse_odata_url=url, creodias_odata_url=url, asf_search_url=url, dhus_url=f"{base}/dhus/",
        dhus_user="slow", dhus_password=SecretStr("pw-slow-1"), oneatlas_apikey=SecretStr("key-slow-1"),
        oneatlas_search_url=url, oneatlas_order_url=url, oneatlas_auth_url=f"{base}/auth",
        stac_landsat_url=url, stac_earth_search_url=url, stac_cdse_url=url,
        cdse_username="slow", cdse_password=SecretStr("pw-slow-2"), cdse_token_url=f"{base}/token",
        cdse_download_url=f"{base}/dl", creodias_username="slow", creodias_password=SecretStr("pw-slow-3"),
        creodias_token_url=f"{base}/token", creodias_download_url=f"{base}/dl",
        earthdata_token=SecretStr("tok-slow-4"),
        http_timeout_s=1, catalogue_deadline_s=2, download_min_rate_bps=100, download_stall_window_s=2,
    )  # fmt: skip


@pytest.mark.parametrize("name", HTTP_CATALOGUES)
def test_a_slow_catalogue_is_a_temporary_error_naming_its_bound(name: str, slow: tuple[str, str]) -> None:
    base, mode = slow
    settings = settings_for(base)
    searcher = CATALOGUES[name](settings)
    query = SceneQuery(
        aoi_wkt=AOI,
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 2, 1, tzinfo=UTC),
        constellation=CONSTELLATION[name],
    )
    setattr(searcher, "max_retries", 0)  # noqa: B010 (one attempt: the bound, not the retries, is tested)
    assert_bounded(ends_in_time(lambda: searcher.search(query)), mode)


def test_send_bounds_slow_headers_by_the_deadline(slow: tuple[str, str]) -> None:
    import httpx

    base, mode = slow
    with httpx.Client(timeout=1) as client:
        error = ends_in_time(
            lambda: send(
                client, "GET", f"{base}/x", catalogue="t", timeout_s=1, max_bytes=10**6, deadline_s=2
            )
        )
    assert_bounded(error, mode)


def scene(catalogue: str, **metadata: object) -> Scene:
    return Scene(
        source_id="S2A_MSIL1C_20240105T105421_N0510_R051_T31TCJ_20240105T120624",
        date=datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC),
        constellation=Constellation.SENTINEL2,
        footprint_wkt=AOI,
        catalogue=catalogue,
        metadata=metadata,
    )


def stalling_fetcher() -> Fetcher:
    return Fetcher(timeout_s=1, max_resumes=1, min_rate_bps=100, stall_window_s=2)


UUID = "0a6a3e1c-5a0e-4f9b-9a2c-1b2c3d4e5f60"
# What each HTTP downloader calls first: the file (url; asf and the others fetch theirs through the same
# Fetcher, asf only from its own hosts), a product's OData description (dhus), a token endpoint (cdse,
# creodias).
DOWNLOADS: dict[str, Callable[[str], Scene]] = {
    "url": lambda base: scene("stac", download_link=f"{base}/p.zip"),
    "dhus": lambda base: scene("dhus", uuid=UUID),
    "cdse": lambda base: scene("cdse", uuid=UUID),
    "creodias": lambda base: scene("creodias", uuid=UUID),
}


@pytest.mark.parametrize("name", sorted(DOWNLOADS))
def test_a_slow_download_is_a_temporary_error_naming_its_bound(
    name: str, slow: tuple[str, str], tmp_path: Path
) -> None:
    base, mode = slow
    provider = PROVIDERS[name](settings_for(base))  # the stall bound and timeouts from the settings
    assert provider is not None
    error = ends_in_time(lambda: provider.download(DOWNLOADS[name](base), tmp_path))
    if isinstance(error, IngestError) and not isinstance(error, TemporaryError):
        pytest.fail(f"{type(error).__name__}: {error}")
    assert_bounded(error, mode)


def test_the_fetcher_bounds_slow_headers_by_the_stall_window(slow: tuple[str, str], tmp_path: Path) -> None:
    base, mode = slow
    error = ends_in_time(lambda: stalling_fetcher().fetch(f"{base}/p.zip", tmp_path / "p.zip", what="p"))
    assert_bounded(error, mode)
