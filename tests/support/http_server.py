"""One way to run a test's HTTP handler on 127.0.0.1: ``with serve(Handler) as base: ...``."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free port of 127.0.0.1 in a thread; yields ``http://127.0.0.1:<port>``.

    Stopped on exit, also when the test fails. A short poll interval makes the stop quick (the default
    waits up to 0.5 s).
    """
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A test handler's common part: HTTP/1.1 (kept-alive connections, as real servers), no access
    log on stderr, the request body read, an answer sent with its length."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def read_body(self) -> bytes:
        """The request's body (``Content-Length`` bytes; none without one)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """``status`` with ``headers``, ``Content-Length`` and ``body``."""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
