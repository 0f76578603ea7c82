"""The download core against a local server that misbehaves: the fault table of issue 9."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from common.redaction import install_redaction
from providers.errors import DownloadTemporaryError, ProductNotFoundError
from providers.fetch import (
    CHUNK_SIZE,
    ChecksumMismatchError,
    DownloadAuthError,
    Expected,
    Fetched,
    Fetcher,
    pick_checksum,
)
from tests.support.fault_http import FaultServer, Route, fault_server

pytestmark = pytest.mark.integration

BODY = os.urandom(3 * (1 << 20) + 12345)  # a few chunks, not a multiple of one
MD5 = hashlib.md5(BODY, usedforsecurity=False).hexdigest()
SECRET = "s3cr3t-token"


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with fault_server() as state:
        yield state


def fetch(server: FaultServer, tmp_path: Path, route: Route, **kwargs: object) -> tuple[Path, Fetched]:
    server.routes["/p.zip"] = route
    dest = tmp_path / "p.zip"
    fetcher = Fetcher(timeout_s=5, max_resumes=3)
    fetched = fetcher.fetch(f"{server.base}/p.zip?token={SECRET}", dest, what="S2X", **kwargs)  # type: ignore[arg-type]
    return dest, fetched


def test_a_whole_body_is_verified_then_renamed(server: FaultServer, tmp_path: Path) -> None:
    dest, fetched = fetch(server, tmp_path, Route(BODY), expected=Expected(len(BODY), {"MD5": MD5}))
    assert dest.read_bytes() == BODY and fetched.checksum == "md5"
    assert list(tmp_path.iterdir()) == [dest], "no .part left"


def test_a_cut_mid_body_resumes_with_range_and_sends_nothing_twice(
    server: FaultServer, tmp_path: Path
) -> None:
    cut = 1_500_000
    route = Route(BODY, script=[{"cut_at": cut}])
    dest, fetched = fetch(server, tmp_path, route, expected=Expected(len(BODY), {"md5": MD5}))
    assert dest.read_bytes() == BODY
    (_, first), (_, second) = server.requests
    offset = int(second["Range"].removeprefix("bytes=").rstrip("-"))
    assert "Range" not in first and cut - CHUNK_SIZE < offset <= cut, "bytes sent again: less than a chunk"
    assert fetched.resumed_bytes == offset


def test_a_server_that_ignores_the_range_is_fetched_again_from_zero(
    server: FaultServer, tmp_path: Path
) -> None:
    route = Route(BODY, script=[{"cut_at": 700_000}, {"ignore_range": True}])
    dest, _ = fetch(server, tmp_path, route, expected=Expected(len(BODY), {"md5": MD5}))
    assert dest.read_bytes() == BODY


def test_a_cut_without_range_support_is_temporary_and_leaves_nothing(
    server: FaultServer, tmp_path: Path
) -> None:
    with pytest.raises(DownloadTemporaryError, match=r"S2X: .*/p\.zip: .*after") as info:
        fetch(server, tmp_path, Route(BODY, script=[{"cut_at": 1000}], ranges=False))
    assert SECRET not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_body_is_resumed(server: FaultServer, tmp_path: Path) -> None:
    route = Route(BODY, script=[{"cut_at": 10}, {"cut_at": 20}, {"cut_at": 30}])
    dest, _ = fetch(server, tmp_path, route)
    assert dest.read_bytes() == BODY and len(server.requests) == 4


def test_a_wrong_checksum_is_fetched_again_once_then_sends_to_the_next_provider(
    server: FaultServer, tmp_path: Path
) -> None:
    dest, _ = fetch(
        server, tmp_path, Route(BODY, script=[{"corrupt": True}]), expected=Expected(None, {"MD5": MD5})
    )
    assert dest.read_bytes() == BODY and len(server.requests) == 2
    with pytest.raises(ChecksumMismatchError, match=r"md5 .* twice; the source is bad") as info:
        fetch(
            server,
            tmp_path,
            Route(BODY, script=[{"corrupt": True}] * 2),
            expected=Expected(None, {"MD5": MD5}),
        )
    assert isinstance(info.value, ProductNotFoundError.__mro__[1])  # a ProductUnavailableError
    assert not any(p.name.endswith(".part") for p in tmp_path.iterdir())


def test_a_wrong_size_counts_as_a_mismatch(server: FaultServer, tmp_path: Path) -> None:
    with pytest.raises(ChecksumMismatchError, match="bytes where the catalogue says"):
        fetch(server, tmp_path, Route(BODY), expected=Expected(len(BODY) + 1))


@pytest.mark.parametrize(("status", "error"), [(404, ProductNotFoundError), (410, ProductNotFoundError)])
def test_not_found_goes_to_the_next_provider(
    server: FaultServer, tmp_path: Path, status: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        fetch(server, tmp_path, Route(BODY, script=[{"status": status}]))


def test_429_and_503_are_temporary_with_their_retry_after(server: FaultServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadTemporaryError) as info:
        fetch(server, tmp_path, Route(BODY, script=[{"status": 429, "headers": {"Retry-After": "3600"}}]))
    assert info.value.retry_after_s == 3600
    with pytest.raises(DownloadTemporaryError):
        fetch(server, tmp_path, Route(BODY, script=[{"status": 503}]))
    dest, _ = fetch(server, tmp_path, Route(BODY))  # then success
    assert dest.read_bytes() == BODY


class Tokens:
    """An account whose first token has expired: a refresh gives a good one."""

    def __init__(self) -> None:
        self.calls: list[bool] = []

    def __call__(self, refresh: bool) -> Mapping[str, str]:
        self.calls.append(refresh)
        return {"Authorization": f"Bearer {'fresh' if refresh else 'expired'}-{SECRET}"}


def test_a_401_after_token_expiry_refreshes_once(server: FaultServer, tmp_path: Path) -> None:
    tokens = Tokens()
    dest, _ = fetch(server, tmp_path, Route(BODY, script=[{"status": 401}]), auth=tokens)
    assert dest.read_bytes() == BODY and tokens.calls == [False, True]
    assert server.requests[1][1]["Authorization"].startswith("Bearer fresh")


def test_refused_fresh_credentials_are_permanent_and_not_shown(
    server: FaultServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    install_redaction()  # as every flow does: httpx logs each request's URL, query included
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DownloadAuthError, match="credentials refused") as info:
        fetch(server, tmp_path, Route(BODY, script=[{"status": 401}, {"status": 401}]), auth=Tokens())
    assert SECRET not in str(info.value) and SECRET not in caplog.text


def test_credentials_follow_a_redirect_only_to_the_same_origin_or_a_trusted_host(tmp_path: Path) -> None:
    with fault_server() as catalogue, fault_server() as download:
        download.routes["/p.zip"] = Route(BODY)
        catalogue.routes["/p.zip"] = Route(BODY, script=[{"redirect": f"{download.base}/p.zip"}])
        dest = tmp_path / "p.zip"
        Fetcher(timeout_s=5).fetch(f"{catalogue.base}/p.zip", dest, what="S2X", auth=Tokens())
        assert dest.read_bytes() == BODY
        assert "Authorization" not in download.requests[0][1], "another origin: no credentials"

        catalogue.routes["/p.zip"] = Route(BODY, script=[{"redirect": f"{download.base}/p.zip"}])
        Fetcher(timeout_s=5).fetch(
            f"{catalogue.base}/p.zip", dest, what="S2X", auth=Tokens(), trusted_hosts=frozenset({"127.0.0.1"})
        )
        assert download.requests[1][1]["Authorization"].startswith("Bearer expired"), "a trusted host"


def test_the_checksum_checked_is_the_fastest_published() -> None:
    published = {"MD5": "A" * 32, "SHA256": "b" * 64}
    assert pick_checksum(published) == ("sha256", "b" * 64)
    assert pick_checksum({"MD5": "A" * 32}) == ("md5", "a" * 32)
    assert pick_checksum({"CRC32": "x"}) is None


def test_the_url_provider_takes_a_hosts_credentials_from_the_workers_netrc(
    server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from catalogue.models import Constellation, Scene
    from providers.url import UrlProvider

    netrc_file = tmp_path / "netrc"
    netrc_file.write_text(f"machine 127.0.0.1 login reader password {SECRET}\n")
    netrc_file.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc_file))
    server.routes["/p.zip"] = Route(BODY)
    scene = Scene(
        source_id="S2X",
        date=datetime(2024, 1, 1, tzinfo=UTC),
        constellation=Constellation.SENTINEL2,
        footprint_wkt="POLYGON EMPTY",
        metadata={"download_link": f"{server.base}/p.zip"},
    )
    work = tmp_path / "work"
    work.mkdir()
    assert UrlProvider(timeout_s=5).download(scene, work).read_bytes() == BODY
    assert server.requests[0][1]["Authorization"].startswith("Basic ")
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    UrlProvider(timeout_s=5).download(scene, work)
    assert "Authorization" not in server.requests[1][1], "no netrc entry: no credentials"


def test_progress_goes_to_the_reporter_of_the_context(server: FaultServer, tmp_path: Path) -> None:
    from providers.fetch import progress_reporter

    seen: list[tuple[int, int | None]] = []
    token = progress_reporter.set(lambda written, total: seen.append((written, total)))
    try:
        server.routes["/p.zip"] = Route(BODY)
        Fetcher(timeout_s=5, progress_every_s=0).fetch(f"{server.base}/p.zip", tmp_path / "p.zip", what="S2X")
    finally:
        progress_reporter.reset(token)
    assert seen[-1] == (len(BODY), len(BODY)) and len(seen) > 2
    assert [w for w, _ in seen] == sorted(w for w, _ in seen), "bytes only grow"


def test_a_whole_part_the_server_will_not_extend_is_fetched_again(
    server: FaultServer, tmp_path: Path
) -> None:
    (tmp_path / "p.zip.part").write_bytes(BODY)  # left by an attempt that stopped before the rename
    route = Route(BODY, script=[{"status": 416}])
    dest, _ = fetch(server, tmp_path, route, expected=Expected(len(BODY), {"md5": MD5}))
    assert dest.read_bytes() == BODY
    assert server.requests[0][1]["Range"] == f"bytes={len(BODY)}-" and "Range" not in server.requests[1][1]


def test_a_206_for_another_range_starts_again_from_zero(server: FaultServer, tmp_path: Path) -> None:
    route = Route(BODY, script=[{"cut_at": 500_000}, {"wrong_range": True}])
    dest, _ = fetch(server, tmp_path, route, expected=Expected(len(BODY), {"md5": MD5}))
    assert dest.read_bytes() == BODY


def test_a_chunked_body_without_length_is_read_through_h11(server: FaultServer, tmp_path: Path) -> None:
    route = Route(BODY, script=[{"chunked": True}])
    dest, fetched = fetch(server, tmp_path, route, expected=Expected(len(BODY), {"md5": MD5}))
    assert dest.read_bytes() == BODY and fetched.size == len(BODY)


def test_a_client_reused_after_a_body_read_off_the_connection_opens_a_fresh_one(
    server: FaultServer, tmp_path: Path
) -> None:
    """A body read straight off the connection leaves it unfinished for httpcore, which must close it
    rather than hand it to the next request (whose answer would start mid-body)."""
    server.routes["/p.zip"] = Route(BODY)
    server.routes["/q.zip"] = Route(BODY[::-1])
    with httpx.Client(timeout=5) as client:
        fetcher = Fetcher(client=client)
        first = fetcher.fetch(f"{server.base}/p.zip", tmp_path / "p.zip", what="S2X")
        second = fetcher.fetch(f"{server.base}/q.zip", tmp_path / "q.zip", what="S2X")
    assert first.path.read_bytes() == BODY and second.path.read_bytes() == BODY[::-1]


def test_a_202_accepted_is_not_the_product_but_a_temporary_answer(
    server: FaultServer, tmp_path: Path
) -> None:
    """A hub restoring an offline product, or a burst being extracted, answers 202 with no product."""
    route = Route(BODY, script=[{"status": 202, "headers": {"Retry-After": "15"}}])
    with pytest.raises(DownloadTemporaryError, match="accepted, not ready yet") as info:
        fetch(server, tmp_path, route)
    assert info.value.retry_after_s == 15
    assert list(tmp_path.iterdir()) == [], "nothing stored for a 202"
    dest, _ = fetch(server, tmp_path, route)  # ready on the next try
    assert dest.read_bytes() == BODY
