"""A body that trickles is cut by the minimum-rate bound and resumed, never waited on for ever (issue 12)."""

from __future__ import annotations

import http.server
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from providers.errors import DownloadTemporaryError
from providers.fetch import Expected, Fetcher
from tests.support.http_server import QuietHandler, serve

BODY = bytes(range(256)) * 64  # 16 KiB


class Trickle(QuietHandler, http.server.BaseHTTPRequestHandler):
    """The first 4 KiB at once, then one byte every 50 ms; honours Range (so a resume is visible)."""

    starts: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        start = int(self.headers.get("Range", "bytes=0-").removeprefix("bytes=").split("-")[0] or 0)
        type(self).starts.append(start)
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(BODY) - start))
        self.send_header("Accept-Ranges", "bytes")
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(BODY) - 1}/{len(BODY)}")
        self.end_headers()
        try:
            self.wfile.write(BODY[start : start + 4096])
            self.wfile.flush()
            for byte in BODY[start + 4096 :]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass


@pytest.fixture
def base() -> Iterator[str]:
    Trickle.starts = []
    with serve(Trickle) as url:
        yield url


@pytest.mark.slow  # seconds: a prefect CLI, or a slow server
def test_a_trickling_body_is_cut_resumed_then_given_up_as_temporary(base: str, tmp_path: Path) -> None:
    fetcher = Fetcher(timeout_s=5, max_resumes=2, min_rate_bps=200, stall_window_s=0.5)
    started = time.monotonic()
    with pytest.raises(DownloadTemporaryError, match="slower than 200 bytes/s"):
        fetcher.fetch(f"{base}/p.zip", tmp_path / "p.zip", what="p", expected=Expected(size=len(BODY)))
    assert time.monotonic() - started < 10  # not 16 KiB at 20 bytes/s (10 minutes)
    assert Trickle.starts[0] == 0 and all(s >= 4096 for s in Trickle.starts[1:])  # resumed, not restarted
    assert (tmp_path / "p.zip.part").stat().st_size >= 4096  # kept for the next attempt
    assert not (tmp_path / "p.zip").exists()
