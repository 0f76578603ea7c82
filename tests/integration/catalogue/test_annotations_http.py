"""Annotations read from zips over HTTP Range requests, against a real server on 127.0.0.1."""

from __future__ import annotations

import io
import logging
import os
import re
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from catalogue.annotations import read_annotations
from catalogue.errors import CatalogueError, CatalogueTemporaryError
from common.errors import ProductUnavailableError, is_temporary

pytestmark = pytest.mark.integration

EFA4 = "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class RangeServer:
    """Serves ``files`` (path: bytes) with single-range support; ``faults`` answer path: (status, headers)."""

    files: dict[str, bytes] = field(default_factory=dict)
    faults: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    ignore_range: set[str] = field(default_factory=set)
    redirects: dict[str, str] = field(default_factory=dict)
    bytes_sent: int = 0
    ranges: list[str] = field(default_factory=list)
    base_url: str = ""

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        if path in self.faults:
            status, headers = self.faults[path]
            self._send(handler, status, b"fault", headers)
        elif path in self.redirects:
            self._send(handler, 302, b"", {"Location": self.redirects[path]})
        elif path not in self.files:
            self._send(handler, 404, b"not found", {})
        else:
            self._send_file(
                handler, self.files[path], handler.headers.get("Range"), path in self.ignore_range
            )

    def _send_file(
        self, handler: BaseHTTPRequestHandler, data: bytes, header: str | None, ignore: bool
    ) -> None:
        match = _RANGE.match(header or "")
        if ignore or match is None:
            self._send(handler, 200, data, {})
            return
        first, last = match.groups()
        if not first:  # suffix range: the last N bytes
            start, end = max(0, len(data) - int(last)), len(data) - 1
        else:
            start, end = int(first), min(len(data) - 1, int(last)) if last else len(data) - 1
        self.ranges.append(f"{start}-{end}")
        body = data[start : end + 1]
        self.bytes_sent += len(body)
        self._send(handler, 206, body, {"Content-Range": f"bytes {start}-{end}/{len(data)}"})

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        handler.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture
def server() -> Iterator[RangeServer]:
    state = RangeServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.answer(self)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def efa4_zip(shared_fixtures: Path) -> bytes:
    return (shared_fixtures / "s1" / f"{EFA4}.zip").read_bytes()


def test_zip_over_http_fetches_only_the_directory_and_annotations(
    server: RangeServer, efa4_zip: bytes, shared_fixtures: Path
) -> None:
    server.files[f"/products/{EFA4}.zip"] = efa4_zip
    files = read_annotations(EFA4, [server.base_url + "/products/{SCENE}.zip"])
    assert files == read_annotations(EFA4, [f"{shared_fixtures}/s1/{{SCENE}}.zip"])
    with zipfile.ZipFile(shared_fixtures / "s1" / f"{EFA4}.zip") as archive:
        annotation_bytes = sum(archive.getinfo(name).compress_size for name, _ in files)
    # the tail (directory), each annotation member, and at most one read-ahead block per member
    assert server.bytes_sent <= annotation_bytes + (1 + len(files)) * 64 * 1024
    assert server.bytes_sent < 0.65 * len(efa4_zip)  # the annotations are half of this small zip
    assert server.ranges[0] == f"{len(efa4_zip) - 65536}-{len(efa4_zip) - 1}"  # the tail comes first


def test_measurement_files_are_not_downloaded(server: RangeServer, efa4_zip: bytes, tmp_path: Path) -> None:
    """A product-like zip: the annotations plus 24 MiB of incompressible 'measurement'."""
    product = tmp_path / "product.zip"
    with zipfile.ZipFile(product, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(f"{EFA4}.SAFE/measurement/s1b-iw1-slc-vv.tiff", os.urandom(24 << 20), zipfile.ZIP_STORED)
        with zipfile.ZipFile(io.BytesIO(efa4_zip)) as source:
            for info in source.infolist():
                if info.filename.endswith(".xml"):
                    out.writestr(info.filename, source.read(info))
        out.writestr(f"{EFA4}.SAFE/measurement/s1b-iw2-slc-vh.tiff", os.urandom(8 << 20), zipfile.ZIP_STORED)
    data = product.read_bytes()
    server.files["/p.zip"] = data
    files = read_annotations(EFA4, [server.base_url + "/p.zip"])
    assert len(files) == 3
    assert server.bytes_sent < 0.05 * len(data)
    assert len(server.ranges) <= 1 + 2 * len(files)


def test_a_missing_product_then_a_hit(server: RangeServer, efa4_zip: bytes) -> None:
    server.files[f"/b/{EFA4}.zip"] = efa4_zip
    files = read_annotations(EFA4, [server.base_url + "/a/{SCENE}.zip", server.base_url + "/b/{SCENE}.zip"])
    assert len(files) == 3


def test_redirects_are_followed(server: RangeServer, efa4_zip: bytes) -> None:
    server.files["/store/product.zip"] = efa4_zip
    server.redirects[f"/download/{EFA4}.zip"] = server.base_url + "/store/product.zip"
    assert len(read_annotations(EFA4, [server.base_url + "/download/{SCENE}.zip"])) == 3


def test_not_found_is_product_unavailable(server: RangeServer) -> None:
    with pytest.raises(ProductUnavailableError, match=r"HTTP 404, not found") as caught:
        read_annotations(EFA4, [server.base_url + "/{SCENE}.zip"])
    assert not is_temporary(caught.value)


@pytest.mark.parametrize(("status", "retry_after"), [(503, "7"), (429, "30"), (500, None)])
def test_overload_and_server_errors_are_temporary(
    server: RangeServer, status: int, retry_after: str | None
) -> None:
    server.faults["/p.zip"] = (status, {"Retry-After": retry_after} if retry_after else {})
    with pytest.raises(CatalogueTemporaryError, match=f"HTTP {status}") as caught:
        read_annotations(EFA4, [server.base_url + "/p.zip", server.base_url + "/missing.zip"])
    assert caught.value.retry_after_s == (float(retry_after) if retry_after else None)


def test_access_denied_and_no_range_support_are_permanent(server: RangeServer, efa4_zip: bytes) -> None:
    server.faults["/denied.zip"] = (403, {})
    server.files["/plain.zip"] = efa4_zip
    server.ignore_range.add("/plain.zip")
    with pytest.raises(CatalogueError) as caught:
        read_annotations(EFA4, [server.base_url + "/denied.zip", server.base_url + "/plain.zip"])
    assert "HTTP 403, access denied" in str(caught.value)
    assert "the server ignored the Range header" in str(caught.value)
    assert not is_temporary(caught.value)


def test_connection_refused_is_temporary() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(CatalogueTemporaryError, match="ConnectError"):
        read_annotations(EFA4, [f"http://127.0.0.1:{port}/{{SCENE}}.zip"], timeout_s=5)


def test_tokens_never_reach_messages_or_logs(server: RangeServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.faults["/p.zip"] = (403, {})
    with pytest.raises(CatalogueError) as caught:
        read_annotations(
            EFA4, [server.base_url.replace("//", "//user:SECRET@") + "/p.zip?X-Amz-Signature=SECRET"]
        )
    assert "SECRET" not in str(caught.value)
    # Our own log lines; httpx's "HTTP Request: GET <url>" is the redaction filter's job (STYLE.md §7).
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("catalogue")]
    assert ours
    assert not [m for m in ours if "SECRET" in m]
