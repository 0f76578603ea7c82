"""Download providers: local archive, URL (http over a real local server), fallback chain."""

from __future__ import annotations

import http.server
import threading
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import ClassVar

import pytest

from catalogue.models import Constellation, Scene
from common.redaction import redact_url
from providers.chain import download_product
from providers.errors import (
    AllProvidersFailedError,
    DownloadError,
    DownloadTemporaryError,
    ProductNotFoundError,
)
from providers.local import LocalArchiveProvider
from providers.unpack import check_archive, open_product, unpack_product
from providers.url import UrlProvider
from storage.errors import StorageError

NAME = "S2A_MSIL1C_20210403T101021_N0300_R022_T33TUM_20210403T110551"


def scene(**metadata: object) -> Scene:
    return Scene(
        source_id=NAME,
        date=datetime(2021, 4, 3, 10, 10, 21, tzinfo=UTC),
        constellation=Constellation.SENTINEL2,
        footprint_wkt="POINT (1 1)",
        metadata=dict(metadata),
    )


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


PRODUCT = {f"{NAME}.SAFE/manifest.safe": b"<xfdu/>", f"{NAME}.SAFE/GRANULE/x/IMG_DATA/B01.jp2": b"jp2"}


def test_local_archive_dated_layout_then_flat(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    make_zip(root / "2021" / "04" / "03" / f"{NAME}.zip", PRODUCT)
    out = tmp_path / "work"
    out.mkdir()
    arrived = LocalArchiveProvider(root).download(scene(), out)
    assert arrived == root / "2021" / "04" / "03" / f"{NAME}.zip", "read where it lies"
    assert list(out.iterdir()) == [], "nothing copied by the provider"
    product = open_product(arrived, out)
    assert product == out / f"{NAME}.SAFE"
    assert (product / "manifest.safe").read_bytes() == b"<xfdu/>"
    assert sorted(p.name for p in out.iterdir()) == [f"{NAME}.SAFE"], "no temp folder left behind"
    assert arrived.is_file(), "the archive is the user's: never moved or deleted"

    flat = tmp_path / "flat"
    make_zip(flat / f"{NAME}.zip", PRODUCT)
    out2 = tmp_path / "work2"
    out2.mkdir()
    assert open_product(LocalArchiveProvider(flat).download(scene(), out2), out2).name == f"{NAME}.SAFE"


def test_local_archive_missing_product_names_the_paths(tmp_path: Path) -> None:
    with pytest.raises(ProductNotFoundError, match=r"2021/04/03"):
        LocalArchiveProvider(tmp_path).download(scene(), tmp_path)


def test_zip_slip_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    make_zip(root / f"{NAME}.zip", {"../../evil.txt": b"x"})
    out = tmp_path / "w" / "x"
    out.mkdir(parents=True)
    arrived = LocalArchiveProvider(root).download(scene(), out)
    with pytest.raises(DownloadError, match=r"'\.\./\.\./evil\.txt' would escape the target folder"):
        open_product(arrived, out)
    with pytest.raises(DownloadError, match=r"'\.\./\.\./evil\.txt' would escape the target folder"):
        check_archive(arrived)
    assert not (tmp_path / "evil.txt").exists()
    assert list(out.iterdir()) == [], "no temp folder left behind"


def test_unpack_ignores_macos_forks_and_refuses_empty_or_invalid_archives(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    product = unpack_product(make_zip(tmp_path / "p.zip", {"__MACOSX/._x": b"", **PRODUCT}), out)
    assert product == out / f"{NAME}.SAFE"
    assert sorted(p.name for p in out.iterdir()) == [f"{NAME}.SAFE"]
    with pytest.raises(DownloadError, match=r"empty\.zip: empty archive"):
        unpack_product(make_zip(tmp_path / "empty.zip", {"__MACOSX/._x": b""}), out)
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(DownloadError, match=r"bad\.zip: not a valid zip") as info:
        unpack_product(tmp_path / "bad.zip", out)
    assert isinstance(info.value.__cause__, StorageError)
    assert sorted(p.name for p in out.iterdir()) == [f"{NAME}.SAFE"], "no temp folder left behind"


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, bytes, dict[str, str]]]] = {}

    def do_GET(self) -> None:
        status, body, headers = self.routes.get(self.path.split("?")[0], (404, b"nope", {}))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, dict[str, tuple[int, bytes, dict[str, str]]]]]:
    routes: ClassVar[dict[str, tuple[int, bytes, dict[str, str]]]] = {}
    handler = type("H", (_Handler,), {"routes": routes})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", routes
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
def test_http_download_streams_then_unpacks(tmp_path: Path, http_server) -> None:
    base, routes = http_server
    body = make_zip(tmp_path / "p.zip", PRODUCT).read_bytes()
    routes[f"/products/{NAME}.zip"] = (200, body, {})
    out = tmp_path / "work"
    out.mkdir()
    arrived = UrlProvider().download(scene(download_link=f"{base}/products/{NAME}.zip?token=SECRET"), out)
    assert arrived == out / f"{NAME}.zip" and arrived.read_bytes() == body, "kept as it arrived"
    assert not list(out.glob("*.part"))
    product = open_product(arrived, tmp_path)
    assert (product / "GRANULE" / "x" / "IMG_DATA" / "B01.jp2").read_bytes() == b"jp2"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, ProductNotFoundError),
        (503, DownloadTemporaryError),
        (429, DownloadTemporaryError),
        (401, DownloadError),
    ],
)
def test_http_status_classification_never_shows_the_query(
    tmp_path: Path, http_server, status: int, error: type[Exception]
) -> None:
    base, routes = http_server
    routes["/p.zip"] = (status, b"", {"Retry-After": "7"} if status == 503 else {})
    with pytest.raises(error) as info:
        UrlProvider().download(scene(download_link=f"{base}/p.zip?token=SECRET"), tmp_path)
    assert "SECRET" not in str(info.value)
    if status == 503:
        assert info.value.retry_after_s == 7


@pytest.mark.integration
def test_http_retry_after_may_be_a_date(tmp_path: Path, http_server) -> None:
    base, routes = http_server
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    routes["/p.zip"] = (429, b"", {"Retry-After": later})
    with pytest.raises(DownloadTemporaryError) as info:
        UrlProvider().download(scene(download_link=f"{base}/p.zip"), tmp_path)
    assert info.value.retry_after_s is not None and 100 < info.value.retry_after_s <= 120


@pytest.mark.integration
def test_http_short_body_is_temporary_and_leaves_no_part_file(tmp_path: Path, http_server) -> None:
    base, routes = http_server
    routes["/p.zip"] = (200, b"PK-short", {"Content-Length": "100"})
    with pytest.raises(DownloadTemporaryError):
        UrlProvider(timeout_s=2).download(scene(download_link=f"{base}/p.zip"), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_file_link_and_directory_link(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "src" / f"{NAME}.zip", PRODUCT)
    out = tmp_path / "w"
    out.mkdir()
    assert UrlProvider().download(scene(download_link=archive.as_uri()), out) == archive, "where it lies"
    assert open_product(archive, out).name == f"{NAME}.SAFE"
    folder = open_product(archive, tmp_path / "src")
    assert UrlProvider().download(scene(download_link=folder.as_uri()), out) == folder
    copied = open_product(folder, out / "graph")
    assert copied == out / "graph" / f"{NAME}.SAFE" and (copied / "manifest.safe").is_file()
    assert folder.is_dir(), "a product given as a folder is copied, never moved"


def test_redact_url_drops_query_and_credentials() -> None:
    assert redact_url("https://user:pw@host:8443/a/b.zip?sig=abc#x") == "https://host:8443/a/b.zip"


def test_chain_falls_back_and_reports_every_provider(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    make_zip(root / f"{NAME}.zip", PRODUCT)
    out = tmp_path / "w"
    out.mkdir()
    path, used = download_product(scene(), [UrlProvider(), LocalArchiveProvider(root)], out)
    assert used == "local" and path == root / f"{NAME}.zip"
    assert open_product(path, out).name == f"{NAME}.SAFE"

    with pytest.raises(AllProvidersFailedError) as info:
        download_product(scene(), [UrlProvider(), LocalArchiveProvider(tmp_path / "none")], out)
    assert "url:" in str(info.value) and "local:" in str(info.value)


def test_when_all_fail_the_error_says_which_catalogue_found_it_and_which_provider_serves_it(
    tmp_path: Path,
) -> None:
    found = scene().model_copy(update={"catalogue": "cdse"})
    with pytest.raises(AllProvidersFailedError) as info:
        download_product(found, [UrlProvider(), LocalArchiveProvider(tmp_path / "none")], tmp_path)
    text = str(info.value)
    assert text.startswith(f"{NAME} (found by catalogue cdse): no provider could deliver it:")
    assert text.endswith(
        "catalogue cdse found it; provider 'cdse' serves its scenes: add it to GEOCUBE_INGESTER_PROVIDERS, "
        "with GEOCUBE_INGESTER_CDSE_USERNAME and GEOCUBE_INGESTER_CDSE_PASSWORD"
    )
    with pytest.raises(AllProvidersFailedError) as info:  # a catalogue we know no provider for: no hint
        download_product(scene(), [LocalArchiveProvider(tmp_path / "none")], tmp_path)
    assert "provider '" not in str(info.value)


def test_chain_tries_the_next_provider_when_a_delivered_product_is_refused(tmp_path: Path) -> None:
    class Broken:
        name = "broken"

        def download(self, scene: Scene, dest_dir: Path) -> Path:
            return make_zip(dest_dir / "x.zip", {"../evil": b"x"})

    root = tmp_path / "archive"
    make_zip(root / f"{NAME}.zip", PRODUCT)
    out = tmp_path / "w"
    out.mkdir()
    product, used = download_product(
        scene(), [Broken(), LocalArchiveProvider(root)], out, accept=lambda p: open_product(p, out)
    )
    assert used == "local" and product == out / f"{NAME}.SAFE"
    assert not (out / "broken" / "x.zip").exists(), "the refused zip was removed"
    assert sorted(p.name for p in out.iterdir()) == [f"{NAME}.SAFE", "broken", "local"], "one folder each"
    with pytest.raises(AllProvidersFailedError, match=r"broken: .*would escape"):
        download_product(scene(), [Broken()], out, accept=check_archive)


def test_chain_is_temporary_when_any_provider_was(tmp_path: Path) -> None:
    class Flaky:
        name = "flaky"

        def download(self, scene: Scene, dest_dir: Path) -> Path:
            raise DownloadTemporaryError("503")

    with pytest.raises(DownloadTemporaryError, match="flaky"):
        download_product(scene(), [Flaky(), LocalArchiveProvider(tmp_path)], tmp_path)


@pytest.mark.integration
def test_http_gzip_encoded_body_is_not_a_short_read(tmp_path: Path, http_server) -> None:
    import gzip

    base, routes = http_server
    body = make_zip(tmp_path / "p.zip", PRODUCT).read_bytes()
    packed = gzip.compress(body)
    routes["/p.zip"] = (200, packed, {"Content-Encoding": "gzip", "Content-Length": str(len(packed))})
    out = tmp_path / "work"
    out.mkdir()
    arrived = UrlProvider().download(scene(download_link=f"{base}/p.zip"), out)
    assert arrived.read_bytes() == body, "the body as sent, its content encoding undone"
    assert (open_product(arrived, tmp_path) / "manifest.safe").read_bytes() == b"<xfdu/>"
