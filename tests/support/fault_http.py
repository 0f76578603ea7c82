"""A local HTTP file server that misbehaves on request: the fault table of the download core's tests.

Each route serves one body. ``script`` lists, per request in order, how to answer it; past the end of
the script requests are served normally (200, or 206 for a Range). A step is a dict:

- ``{"status": 429, "headers": {...}}``: that answer, with no body;
- ``{"cut_at": N}``: the headers of a full answer, the first N bytes from the requested offset, then
  the connection is closed;
- ``{"corrupt": True}``: the body with one byte flipped;
- ``{"redirect": URL}``: a 302 to URL;
- ``{"ignore_range": True}``: a 200 with the whole body even when a Range was asked;
- ``{"wrong_range": True}``: a 206 of the whole body (``Content-Range: bytes 0-…``) whatever was asked;
- ``{"chunked": True}``: the whole body in ``Transfer-Encoding: chunked`` (no ``Content-Length``).

``requests`` records (path, headers) of every request, and ``bodies`` the body of each POST, for the
assertions.
"""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.http_server import QuietHandler, serve


@dataclass
class Route:
    body: bytes
    script: list[dict[str, Any]] = field(default_factory=list)
    ranges: bool = True  # Accept-Ranges: bytes, and 206 answers to a Range


@dataclass
class FaultServer:
    base: str
    routes: dict[str, Route]
    requests: list[tuple[str, dict[str, str]]]
    bodies: list[bytes] = field(default_factory=list)


class _Handler(QuietHandler, http.server.BaseHTTPRequestHandler):  # base named for ruff N802 (do_GET)
    server_state: FaultServer

    def do_POST(self) -> None:
        self.server_state.bodies.append(self.read_body())
        self.do_GET()

    def do_GET(self) -> None:
        state = self.server_state
        path = self.path.split("?")[0]
        state.requests.append((path, dict(self.headers.items())))
        route = state.routes.get(path)
        if route is None:
            self.send_answer(404, b"not found")
            return
        step = route.script.pop(0) if route.script else {}
        if "status" in step:
            self.send_answer(step["status"], b"", step.get("headers", {}))
            return
        if "redirect" in step:
            self.send_answer(302, b"", {"Location": step["redirect"]})
            return
        offset = 0
        wanted = self.headers.get("Range", "")
        if route.ranges and wanted.startswith("bytes=") and not step.get("ignore_range"):
            offset = int(wanted[len("bytes=") :].split("-")[0])
        body = route.body
        if step.get("corrupt"):
            body = body[:10] + bytes([body[10] ^ 0xFF]) + body[11:]
        headers = {"Accept-Ranges": "bytes"} if route.ranges else {}
        if step.get("wrong_range"):
            offset = 0
            headers["Content-Range"] = f"bytes 0-{len(body) - 1}/{len(body)}"
        if offset:
            headers["Content-Range"] = f"bytes {offset}-{len(body) - 1}/{len(body)}"
        if step.get("chunked"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 100_000):
                piece = body[start : start + 100_000]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_response(206 if offset or step.get("wrong_range") else 200)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) - offset))
        self.end_headers()
        if "cut_at" in step:
            self.wfile.write(body[offset : offset + step["cut_at"]])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body[offset:])


@contextmanager
def fault_server() -> Iterator[FaultServer]:
    """Start a FaultServer on 127.0.0.1; stopped on exit, also when the test fails."""
    state = FaultServer(base="", routes={}, requests=[])
    handler = type("Handler", (_Handler,), {"server_state": state})
    with serve(handler) as state.base:
        yield state
