"""CDSE downloads against local servers: the identity endpoint answering the recorded token response
shape (``../shared/fixtures/cdse/token/``), and the OData ``$value`` route redirecting to a download host."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import blake3
import pytest
from pydantic import SecretStr

from catalogue.models import Constellation, Scene
from common.redaction import install_redaction
from common.settings import Settings
from providers.cdse.download import CdseDownloader, ProductOfflineError
from providers.downloaders import build_providers
from providers.errors import DownloadTemporaryError, ProductNotFoundError
from providers.fetch import ChecksumMismatchError, DownloadAuthError, Fetcher
from providers.tokens import Account, OidcTokens
from tests.support.fault_http import FaultServer, Route, fault_server
from tests.support.peak import Peak

pytestmark = pytest.mark.integration

PASSWORD = "pa55-w0rd-secret"
PRODUCT_ID = "cb28c2e3-f258-4af0-96a7-9af05a82cc5c"
BODY = os.urandom(1 << 20)


@pytest.fixture
def token_response(shared_fixtures: Path) -> bytes:
    return (shared_fixtures / "cdse" / "token" / "token_response.redacted.json").read_bytes()


@pytest.fixture
def servers(token_response: bytes) -> Iterator[tuple[FaultServer, FaultServer]]:
    with fault_server() as identity, fault_server() as odata:
        identity.routes["/token"] = Route(token_response, ranges=False)
        yield identity, odata


def make_tokens(identity: FaultServer, clock: list[float] | None = None) -> OidcTokens:
    now = clock if clock is not None else [0.0]
    account = Account(f"{identity.base}/token", "cdse-public", "user@example.org", SecretStr(PASSWORD))
    return OidcTokens(account, clock=lambda: now[0])


def scene(**metadata: object) -> Scene:
    return Scene(
        source_id="S1B_IW_SLC__1SDV_20210401T052623_20210401T052650_026269_032297_EFA4",
        date=datetime(2021, 4, 1, 5, 26, 23, tzinfo=UTC),
        constellation=Constellation.SENTINEL1,
        footprint_wkt="POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))",
        metadata={"uuid": PRODUCT_ID, **metadata},
        catalogue="cdse",
    )


def test_the_password_grant_then_refresh_tokens_one_login_per_process(
    servers: tuple[FaultServer, FaultServer], token_response: bytes
) -> None:
    identity, _ = servers
    clock = [0.0]
    tokens = make_tokens(identity, clock)
    access = json.loads(token_response)["access_token"]
    assert tokens.headers() == {"Authorization": f"Bearer {access}"}
    form = parse_qs(identity.bodies[0].decode())
    assert form == {"client_id": ["cdse-public"], "username": ["user@example.org"], "password": [PASSWORD],
                    "grant_type": ["password"]}  # fmt: skip
    clock[0] = 100.0  # within expires_in (600 s): the same token, no call
    tokens.headers()
    assert len(identity.bodies) == 1
    clock[0] = 580.0  # 30 s from expiry: refreshed with the refresh token, not a new login
    tokens.headers()
    refresh = parse_qs(identity.bodies[1].decode())
    assert refresh["grant_type"] == ["refresh_token"] and "password" not in refresh
    assert (tokens.logins, tokens.refreshes) == (1, 1)
    clock[0] = 5000.0  # the refresh token has expired too (refresh_expires_in 3600): a login
    tokens.headers()
    assert parse_qs(identity.bodies[2].decode())["grant_type"] == ["password"] and tokens.logins == 2
    assert PASSWORD not in repr(tokens) and access not in repr(tokens)


def test_a_refused_password_is_permanent_and_shows_no_secret(
    servers: tuple[FaultServer, FaultServer],
) -> None:
    identity, _ = servers
    refusal = b'{"error":"invalid_grant","error_description":"Invalid user credentials"}'
    identity.routes["/token"] = Route(refusal, script=[{"status": 401}], ranges=False)
    with pytest.raises(DownloadAuthError, match=r"refused password for 'user@example.org' \(401") as info:
        make_tokens(identity).headers()
    assert PASSWORD not in str(info.value)


def test_a_busy_identity_endpoint_is_temporary(servers: tuple[FaultServer, FaultServer]) -> None:
    identity, _ = servers
    identity.routes["/token"] = Route(b"", script=[{"status": 503, "headers": {"Retry-After": "20"}}])
    with pytest.raises(DownloadTemporaryError) as info:
        make_tokens(identity).headers()
    assert info.value.retry_after_s == 20


def test_a_product_is_fetched_by_id_through_the_redirect_with_its_checksums_verified(
    servers: tuple[FaultServer, FaultServer], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    install_redaction()
    caplog.set_level(logging.DEBUG)
    identity, odata = servers
    with fault_server() as download:
        download.routes[f"/odata/v1/Products({PRODUCT_ID})/$value"] = Route(BODY)
        odata.routes[f"/odata/v1/Products({PRODUCT_ID})/$value"] = Route(
            b"", script=[{"redirect": f"{download.base}/odata/v1/Products({PRODUCT_ID})/$value"}]
        )
        provider = CdseDownloader(download_url=f"{odata.base}/odata/v1", tokens=make_tokens(identity))
        provider.trusted_hosts = frozenset({"127.0.0.1"})  # the download host is CDSE's own
        checksums = {"MD5": hashlib.md5(BODY, usedforsecurity=False).hexdigest(),
                     "BLAKE3": blake3.blake3(BODY).hexdigest()}  # fmt: skip
        path = provider.download(scene(checksums=checksums, size_bytes=len(BODY)), tmp_path)
        assert path.read_bytes() == BODY and path.name.endswith("_EFA4.zip")
        bearer = download.requests[0][1]["Authorization"]
        assert bearer.startswith("Bearer ey"), "the token follows to CDSE's download host"
        assert bearer.removeprefix("Bearer ") not in caplog.text and PASSWORD not in caplog.text

        corrupt = Route(BODY, script=[{"corrupt": True}] * 2)
        odata.routes[f"/odata/v1/Products({PRODUCT_ID})/$value"] = corrupt
        with pytest.raises(ChecksumMismatchError, match="blake3"):
            provider.download(scene(checksums=checksums), tmp_path)


def test_a_401_refreshes_the_token_once(servers: tuple[FaultServer, FaultServer], tmp_path: Path) -> None:
    identity, odata = servers
    odata.routes[f"/odata/v1/Products({PRODUCT_ID})/$value"] = Route(BODY, script=[{"status": 401}])
    tokens = make_tokens(identity)
    provider = CdseDownloader(
        download_url=f"{odata.base}/odata/v1", tokens=tokens, fetcher=Fetcher(timeout_s=5)
    )
    assert provider.download(scene(), tmp_path).read_bytes() == BODY
    assert (tokens.logins, tokens.refreshes) == (1, 1), "renewed by the refresh token, not a new login"


def test_scenes_cdse_cannot_serve_go_to_the_next_provider(
    servers: tuple[FaultServer, FaultServer], tmp_path: Path
) -> None:
    identity, odata = servers
    provider = CdseDownloader(download_url=f"{odata.base}/odata/v1", tokens=make_tokens(identity))
    no_id = scene().model_copy(update={"metadata": {}, "catalogue": "asf"})
    with pytest.raises(ProductNotFoundError, match="no CDSE product id \\(found by asf\\)"):
        provider.download(no_id, tmp_path)
    with pytest.raises(ProductOfflineError):
        provider.download(scene(online=False), tmp_path)
    with pytest.raises(ProductNotFoundError, match="answered 404"):
        provider.download(scene(), tmp_path)
    assert len(identity.bodies) == 1, "one login, for the 404 only"


def test_providers_are_chosen_per_constellation_and_cdse_needs_an_account() -> None:
    settings = Settings(providers="sentinel1=cdse,url; *=local,url", local_archive="/archive")
    assert [p.name for p in build_providers(settings, Constellation.SENTINEL1)] == ["url"], "no account"
    with_account = settings.model_copy(update={"cdse_username": "u", "cdse_password": SecretStr(PASSWORD)})
    assert [p.name for p in build_providers(with_account, Constellation.SENTINEL1)] == ["cdse", "url"]
    assert [p.name for p in build_providers(with_account, Constellation.SENTINEL2)] == ["local", "url"]


def test_an_account_downloads_at_most_its_connections_at_once(
    servers: tuple[FaultServer, FaultServer], tmp_path: Path
) -> None:
    import threading

    identity, _ = servers
    account = Account(f"{identity.base}/token", "cdse-public", "u", SecretStr(PASSWORD), connections=2)
    peak = Peak()

    class SlowFetcher:
        def fetch(self, url: str, dest: Path, **kwargs: object) -> object:
            with peak:
                dest.write_bytes(b"x")
            return type("F", (), {"path": dest})()

    provider = CdseDownloader(download_url="https://cdse.example/odata/v1", tokens=OidcTokens(account),
                              fetcher=SlowFetcher())  # type: ignore[arg-type]  # fmt: skip
    threads = [
        threading.Thread(target=provider.download, args=(scene(), tmp_path / str(i))) for i in range(6)
    ]
    for i, thread in enumerate(threads):
        (tmp_path / str(i)).mkdir()
        thread.start()
    for thread in threads:
        thread.join()
    assert peak.max == 2


def test_after_a_401_the_token_is_renewed_once_not_at_every_redirect(
    servers: tuple[FaultServer, FaultServer], tmp_path: Path
) -> None:
    identity, odata = servers
    with fault_server() as download:
        download.routes[f"/odata/v1/Products({PRODUCT_ID})/$value"] = Route(BODY)
        redirect = {"redirect": f"{download.base}/odata/v1/Products({PRODUCT_ID})/$value"}
        odata.routes[f"/odata/v1/Products({PRODUCT_ID})/$value"] = Route(
            b"", script=[{"status": 401}, redirect]
        )
        tokens = make_tokens(identity)
        provider = CdseDownloader(download_url=f"{odata.base}/odata/v1", tokens=tokens)
        provider.trusted_hosts = frozenset({"127.0.0.1"})
        assert provider.download(scene(), tmp_path).read_bytes() == BODY
    assert (tokens.logins, tokens.refreshes) == (1, 1), "one renewal for one refusal"
