"""Hostile catalogue answers end in a typed error, within bounded memory and time (issue 12, item 3)."""

from __future__ import annotations

import gzip
import http.server
import time
import tracemalloc
from collections.abc import Callable, Iterator

import httpx
import pytest

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.http import decode_json_object, send
from tests.support.http_server import QuietHandler, serve


class Hostile(QuietHandler, http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        answer = ROUTES[self.path.split("?")[0]]
        answer(self)


def huge(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", str(300 * 1024 * 1024))
    handler.end_headers()
    block = b"x" * (1024 * 1024)
    try:
        for _ in range(300):
            handler.wfile.write(block)
    except OSError:
        pass  # the client stopped reading: what it must do


def endless_chunked(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"y" * 65536
    try:
        while True:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        pass


def trickle(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    try:
        for _ in range(1000):
            handler.wfile.write(b"{")
            handler.wfile.flush()
            time.sleep(0.05)
    except OSError:
        pass


def gzip_garbage(handler: QuietHandler) -> None:
    handler.send_answer(200, b"\x1f\x8b\x08\x00garbage, not deflate", {"Content-Encoding": "gzip"})


def loop(handler: QuietHandler) -> None:
    handler.send_answer(302, b"", {"Location": "/loop"})


def deep(handler: QuietHandler) -> None:
    handler.send_answer(200, b"[" * 200_000 + b"]" * 200_000, {"Content-Type": "application/json"})


def echo_auth(handler: QuietHandler) -> None:
    handler.send_answer(
        400, f"bad request; you sent Authorization: {handler.headers['Authorization']}".encode()
    )


def fine(handler: QuietHandler) -> None:
    handler.send_answer(200, gzip.compress(b'{"value": [1, 2]}'), {"Content-Encoding": "gzip"})


ROUTES: dict[str, Callable[..., None]] = {
    "/huge": huge,
    "/endless": endless_chunked,
    "/trickle": trickle,
    "/gzip": gzip_garbage,
    "/loop": loop,
    "/deep": deep,
    "/echo": echo_auth,
    "/fine": fine,
}


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve(Hostile) as url:
        yield url


def get(base: str, path: str, **kwargs: object) -> httpx.Response:
    with httpx.Client(follow_redirects=True) as client:
        return send(client, "GET", base + path, catalogue="test", timeout_s=10, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/huge", "/endless"])
def test_a_huge_or_endless_body_stops_at_the_cap_in_bounded_memory(base: str, path: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(CatalogueError, match=r"more than 8 MiB.*_MAX_RESPONSE_MB"):
            get(base, path, max_bytes=8 * 1024 * 1024, deadline_s=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024  # the cap and one read's worth, not the 300 MB body


def test_a_trickling_body_is_bounded_by_the_deadline(base: str) -> None:
    started = time.monotonic()
    with pytest.raises(CatalogueTemporaryError, match=r"too slowly.*_DEADLINE_S"):
        get(base, "/trickle", max_bytes=1 << 20, deadline_s=1.0)
    assert time.monotonic() - started < 5


def test_the_defaults_come_from_the_settings(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOCUBE_INGESTER_CATALOGUE_MAX_RESPONSE_MB", "1")
    with pytest.raises(CatalogueError, match="more than 1 MiB"):
        get(base, "/huge")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/gzip", "sent a body that cannot be decoded"),
        ("/loop", "redirects without end"),
    ],
)
def test_undecodable_bodies_and_redirect_loops_are_permanent_errors(
    base: str, path: str, message: str
) -> None:
    with pytest.raises(CatalogueError, match=message) as raised:
        get(base, path)
    assert not isinstance(raised.value, CatalogueTemporaryError)
    assert raised.value.__cause__ is None  # httpx's error (and its request's headers) does not travel


def test_json_nested_without_end_is_a_typed_error(base: str) -> None:
    response = get(base, "/deep")
    with pytest.raises(CatalogueError, match="nested too deeply"):
        decode_json_object(response, catalogue="test")


def test_an_error_page_echoing_the_credentials_is_redacted(base: str) -> None:
    with pytest.raises(CatalogueError) as raised:
        get(base, "/echo", auth=("user", "hunter2-echoed"))
    assert "dXNlcjpodW50ZXIyLWVjaG9lZA" not in str(raised.value)
    assert "answered 400" in str(raised.value)


def test_a_normal_compressed_answer_still_reads(base: str) -> None:
    response = get(base, "/fine")
    assert decode_json_object(response, catalogue="test") == {"value": [1, 2]}
