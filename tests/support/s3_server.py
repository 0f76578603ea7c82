"""A real S3-compatible server for the tests: moto in server mode on 127.0.0.1, and a fault proxy.

``moto_s3()`` starts ``moto.server.ThreadedMotoServer`` (the S3 REST API, path-style, answers as AWS
documents them: ETag, Last-Modified, ranges, multipart uploads, XML errors) and stops it on exit, also
when the test fails. Moto accepts any access key: ``ACCESS_KEY``/``SECRET_KEY`` are what the tests send.

``fault_proxy(upstream)`` stands between a client and moto, forwards every request as it came, and
answers per request as its ``script`` says (the fault table of ``tests/support/fault_http.py``, for
object stores): ``{"cut_at": N}`` forwards moto's answer then closes the connection after N bytes of
its body; ``{"status": 403, "body": ...}`` answers that instead of moto. A step applies to the next GET
of an object, or with ``"match": text`` to the next request whose path (and query) holds ``text``. It
records each request's (method, path, headers) and the body bytes it sent per path, for "bytes re-sent"
assertions.
"""

from __future__ import annotations

import http.client
import http.server
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from moto.server import ThreadedMotoServer

from tests.support.http_server import QuietHandler, serve

ACCESS_KEY = "AKIATESTINGMOTO0000"
SECRET_KEY = "test-secret-key-never-logged-0000"
REGION = "us-east-1"

# S3's error answer to a refused key, as AWS documents it (REST API, "Error responses": an XML
# <Error> with Code, Message, RequestId); the code is that of an unknown access key id.
ACCESS_DENIED_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidAccessKeyId</Code>'
    b"<Message>The AWS Access Key Id you provided does not exist in our records.</Message>"
    b"<RequestId>4442587FB7D0A2F9</RequestId></Error>"
)


@dataclass
class MotoS3:
    endpoint: str

    def create_bucket(self, name: str) -> None:
        _s3_call(self.endpoint, "PUT", f"/{name}")

    def put(self, bucket: str, key: str, body: bytes) -> None:
        _s3_call(self.endpoint, "PUT", f"/{bucket}/{key}", body)

    def get(self, bucket: str, key: str) -> bytes | None:
        status, body = _s3_call(self.endpoint, "GET", f"/{bucket}/{key}", check=False)
        return body if status == 200 else None

    def keys(self, bucket: str) -> list[str]:
        """Every key of the bucket (ListObjectsV2, first page: the tests hold few objects)."""
        _, body = _s3_call(self.endpoint, "GET", f"/{bucket}?list-type=2")
        text = body.decode()
        return [part.split("</Key>", 1)[0] for part in text.split("<Key>")[1:]]

    def pending_uploads(self, bucket: str) -> int:
        """Multipart uploads started and neither completed nor aborted."""
        _, body = _s3_call(self.endpoint, "GET", f"/{bucket}?uploads")
        return body.count(b"<Upload>")


def _s3_call(
    endpoint: str, method: str, path: str, body: bytes = b"", *, check: bool = True
) -> tuple[int, bytes]:
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        # Moto takes unsigned requests; the Authorization header only names the access key.
        headers = {
            "Authorization": f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260101/{REGION}/s3/aws4_request"
        }
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    if check and response.status >= 300:
        raise AssertionError(f"moto {method} {path}: {response.status} {data[:200]!r}")
    return response.status, data


@contextmanager
def moto_s3() -> Iterator[MotoS3]:
    """moto's S3 on 127.0.0.1 (a free port); stopped on exit, also when the test fails."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield MotoS3(endpoint=f"http://{host}:{port}")
    finally:
        server.stop()


@dataclass
class FaultProxy:
    endpoint: str
    script: list[dict[str, Any]] = field(default_factory=list)  # per GET of an object, in order
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    body_bytes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class _ProxyHandler(QuietHandler, http.server.BaseHTTPRequestHandler):  # base named for ruff N802 (do_GET)
    state: FaultProxy
    upstream: tuple[str, int]

    def _forward(self) -> None:
        state = self.state
        path = self.path
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        state.requests.append((self.command, path, dict(self.headers.items())))
        body = self.read_body() or None
        is_object_get = self.command == "GET" and "?" not in path
        index = next(
            (i for i, step in enumerate(state.script)
             if (step["match"] in path if "match" in step else is_object_get)),
            None,
        )  # fmt: skip
        step = state.script.pop(index) if index is not None else {}
        if "status" in step:
            self.send_answer(step["status"], step.get("body", b""), {"Content-Type": "application/xml"})
            return
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            conn.request(
                self.command,
                path,
                body=body,
                headers=headers | {"Host": f"{self.upstream[0]}:{self.upstream[1]}"},
            )
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                self.send_header(key, value)
        if self.command == "HEAD":  # the length of the object, with no body
            self.send_header("Content-Length", response.getheader("Content-Length") or "0")
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        sent = data if "cut_at" not in step else data[: step["cut_at"]]
        state.body_bytes[path.split("?")[0]] += len(sent)
        self.wfile.write(sent)
        if "cut_at" in step:
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)

    def do_GET(self) -> None:
        self._forward()

    def do_PUT(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def do_DELETE(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """A scripted proxy in front of ``upstream`` (moto) on 127.0.0.1; stopped on exit."""
    parts = urlsplit(upstream)
    state = FaultProxy(endpoint="")
    handler = type(
        "Handler",
        (_ProxyHandler,),
        {"state": state, "upstream": (parts.hostname or "127.0.0.1", parts.port or 80)},
    )
    with serve(handler) as state.endpoint:
        yield state
