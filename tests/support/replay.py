"""A real HTTP server on 127.0.0.1 that replays recorded responses (STYLE.md §8).

Routes match a request by method, path and an optional predicate on the request (e.g. on ``$skip``, or
on a JSON body); the first route that matches and has uses left answers. A route answers a fixed body
(a recorded file) or, with ``respond``, a body computed from the request (a test double whose answers
are built from recorded objects); ``tests.support.cassette`` makes routes of vcrpy cassettes. Every
request is recorded, so a test can assert the query a client built. Absolute URLs of the recorded host
inside bodies (``@odata.nextLink``...) are rewritten to this server. Use it as a context manager: it stops
on exit, also when the test fails::

    with ReplayServer([Route("GET", "/odata/v1/Products", body_file=page1)],
                      rewrite_hosts=["https://catalogue.dataspace.copernicus.eu"]) as server:
        searcher = CdseODataSearcher(base_url=server.url("/odata/v1"))
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str) -> str | None:
        """The first value of query parameter ``name`` (decoded), or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        """The body decoded as JSON (None when there is no body)."""
        return json.loads(self.body) if self.body else None


def query_has(expected: Mapping[str, str | None]) -> Callable[[RecordedRequest], bool]:
    """A predicate: each named parameter has this first value (None: the parameter is absent)."""
    return lambda request: all(request.param(k) == v for k, v in expected.items())


def json_body_is(expected: Any, *, ignore: Collection[str] = ()) -> Callable[[RecordedRequest], bool]:
    """A predicate: the JSON body equals ``expected``, apart from the top-level keys in ``ignore``."""

    def strip(value: Any) -> Any:
        return {k: v for k, v in value.items() if k not in ignore} if isinstance(value, dict) else value

    def matches(request: RecordedRequest) -> bool:
        try:
            return bool(strip(request.json()) == strip(expected))
        except ValueError:
            return False

    return matches


@dataclass
class Route:
    """What to answer to ``method path`` (and ``when``, if given), at most ``times`` times.

    ``delay_s`` holds the answer back (timeout tests); ``status`` and ``headers`` serve faults.
    ``respond``, if given, computes the body from the request instead of ``body_file``/``body``.
    """

    method: str
    path: str
    body_file: Path | None = None
    body: bytes = b""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    when: Callable[[RecordedRequest], bool] | None = None
    times: int | None = None
    delay_s: float = 0.0
    served: int = 0
    respond: Callable[[RecordedRequest], bytes] | None = None

    def matches(self, request: RecordedRequest) -> bool:
        if request.method != self.method.upper() or request.path != self.path:
            return False
        if self.times is not None and self.served >= self.times:
            return False
        return self.when is None or self.when(request)

    def payload(self, request: RecordedRequest | None = None) -> bytes:
        if self.respond is not None and request is not None:
            return self.respond(request)
        return self.body_file.read_bytes() if self.body_file is not None else self.body


class ReplayServer:
    """Threaded HTTP server on 127.0.0.1 (a free port) replaying ``routes``."""

    def __init__(self, routes: Iterable[Route] = (), *, rewrite_hosts: Sequence[str] = ()) -> None:
        self.routes = list(routes)
        self.rewrite_hosts = [h.rstrip("/") for h in rewrite_hosts]
        self.requests: list[RecordedRequest] = []
        self.unmatched: list[RecordedRequest] = []
        self.errors: list[Exception] = []  # raised by ``respond`` callables
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url = ""

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``; still known after the server stopped (refused-connection tests)."""
        if not self._base_url:
            raise RuntimeError("the replay server is not started; use it as a context manager")
        return self._base_url

    def url(self, path: str = "") -> str:
        return self.base_url + path

    def add(self, route: Route) -> Route:
        with self._lock:
            self.routes.append(route)
        return route

    def __enter__(self) -> ReplayServer:
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        host, port = self._httpd.server_address[:2]
        self._base_url = f"http://{host!s}:{port}"
        # A short poll interval makes shutdown() quick (the default waits up to 0.5 s).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="replay-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def _answer(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(request)
            route = next((r for r in self.routes if r.matches(request)), None)
            if route is None:
                self.unmatched.append(request)
                known = ", ".join(f"{r.method} {r.path}" for r in self.routes)
                return (
                    404,
                    {"Content-Type": "text/plain"},
                    (
                        f"replay: no route for {request.method} {request.path} {request.query}; "
                        f"routes: {known}"
                    ).encode(),
                )
            route.served += 1
        if route.delay_s:
            time.sleep(route.delay_s)
        try:
            body = route.payload(request)
        except Exception as exc:  # noqa: BLE001 - a failing test double answers 500 and says why
            log.warning("replay: the route for %s %s failed: %r", request.method, request.path, exc)
            self.errors.append(exc)
            return 500, {"Content-Type": "text/plain"}, f"replay: route failed: {exc!r}".encode()
        for host in self.rewrite_hosts:
            body = body.replace(host.encode(), self.base_url.encode())
            # JSON may escape the slashes: "https:\/\/host".
            body = body.replace(host.replace("/", "\\/").encode(), self.base_url.replace("/", "\\/").encode())
        return route.status, {"Content-Type": route.content_type, **route.headers}, body

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                status, headers, body = server._answer(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _handle  # noqa: N815

            def log_message(self, fmt: str, *args: object) -> None:
                log.debug("replay: " + fmt, *args)  # noqa: G003

        return Handler


class _QuietServer(ThreadingHTTPServer):
    """Logs a client that went away (e.g. after its timeout) instead of printing a traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        log.debug("replay: connection from %s ended abruptly", client_address, exc_info=True)
