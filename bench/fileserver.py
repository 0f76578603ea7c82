"""A fast file server for the benchmarks, run in a process of its own: ``python -m bench.fileserver DIR``.

It sends files with ``sendfile`` (the server must not be what is measured), serves ``Range`` requests,
and, for ``?cut=<fraction>``, closes the connection once that fraction of the file is sent, the first
time each path is asked for. ``GET /stats`` answers the body bytes sent so far. It prints its port on
its first line of output.
"""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class _State:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.sent = 0
        self.cut_done: set[str] = set()
        self.lock = threading.Lock()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/stats":
            body = json.dumps({"sent": self.state.sent}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        path = self.state.root / parts.path.lstrip("/")
        if not path.is_file() or not path.resolve().is_relative_to(self.state.root.resolve()):
            self.send_error(404)
            return
        size = path.stat().st_size
        start = 0
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes="):
            start = int(wanted[len("bytes=") :].split("-")[0])
        count = size - start
        cut = parse_qs(parts.query).get("cut")
        with self.state.lock:
            first = parts.path not in self.state.cut_done
            if cut and first:
                self.state.cut_done.add(parts.path)
        if cut and first:
            count = int(size * float(cut[0])) - start
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        with path.open("rb") as f:
            sent = self.connection.sendfile(f, start, count)
        with self.state.lock:
            self.state.sent += sent
        if count < size - start:
            self.close_connection = True


def main() -> None:
    root = Path(sys.argv[1])
    handler = type("Handler", (_Handler,), {"state": _State(root)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print(server.server_port, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        os._exit(0)


if __name__ == "__main__":
    main()
