"""Creodias downloads against local servers: the identity endpoint answering the recorded Keycloak token
shape (``../shared/fixtures/cdse/token/``: Creodias' realm runs the same Keycloak), the catalogue replaying
the real recorded Creodias OData page (``creodias/odata``), and the zipper's ``Products(<Id>)/$value``
route of the fault server (the product bodies are random bytes: no Creodias body was ever recorded)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from pydantic import SecretStr

from catalogue.models import Constellation, Scene
from common.redaction import install_redaction
from common.settings import Settings
from providers.cdse.download import ProductOfflineError
from providers.cdse.products import parse_product
from providers.chain import download_product
from providers.creodias import CLIENT_ID, SETTINGS, CreodiasDownloader
from providers.downloaders import build_providers
from providers.errors import DownloadError, DownloadTemporaryError, ProductNotFoundError
from providers.fetch import CHUNK_SIZE, ChecksumMismatchError, DownloadAuthError, Fetcher
from providers.local import LocalArchiveProvider
from providers.tokens import Account, OidcTokens, totp_code
from tests.support.fault_http import FaultServer, Route, fault_server
from tests.support.replay import ReplayServer
from tests.support.replay import Route as ReplayRoute

pytestmark = pytest.mark.integration

PASSWORD = "creo-pa55-w0rd-secret"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PAGE = "creodias/odata/products_s1_grd_expand_attributes_count_top10.json"
BODY = os.urandom(1 << 20)
NOW_S = 1_780_000_000.0  # the Unix time of the TOTP codes


@pytest.fixture
def recorded(shared_fixtures: Path) -> dict[str, Any]:
    return dict(json.loads((shared_fixtures / PAGE).read_text()))


@pytest.fixture
def token_response(shared_fixtures: Path) -> bytes:
    return (shared_fixtures / "cdse" / "token" / "token_response.redacted.json").read_bytes()


@pytest.fixture
def servers(token_response: bytes) -> Iterator[tuple[FaultServer, FaultServer]]:
    with fault_server() as identity, fault_server() as zipper:
        identity.routes["/token"] = Route(token_response, ranges=False)
        yield identity, zipper


def make_tokens(identity: FaultServer, *, totp: bool = True) -> OidcTokens:
    account = Account(
        f"{identity.base}/token",
        CLIENT_ID,
        "user@example.org",
        SecretStr(PASSWORD),
        settings=SETTINGS,
        totp_secret=SecretStr(TOTP_SECRET) if totp else None,
    )
    return OidcTokens(account, wall_clock=lambda: NOW_S)


def provider(identity: FaultServer, zipper: FaultServer, **options: Any) -> CreodiasDownloader:
    return CreodiasDownloader(
        download_url=f"{zipper.base}/odata/v1",
        tokens=make_tokens(identity),
        fetcher=Fetcher(timeout_s=5),
        **options,
    )


def creodias_scene(recorded: dict[str, Any], **metadata: Any) -> Scene:
    """The first recorded product as the creodias catalogue makes it a scene (``metadata`` added)."""
    scene = parse_product(recorded["value"][0], Constellation.SENTINEL1, catalogue="creodias")
    return scene.model_copy(update={"metadata": scene.metadata | metadata})


def route_of(product_id: str) -> str:
    return f"/odata/v1/Products({product_id})/$value"


def test_a_product_is_fetched_by_id_with_a_totp_login_and_the_token_in_a_header_only(
    servers: tuple[FaultServer, FaultServer],
    recorded: dict[str, Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    token_response: bytes,
) -> None:
    install_redaction()
    caplog.set_level(logging.DEBUG)
    identity, zipper = servers
    scene = creodias_scene(recorded)
    assert scene.metadata["uuid"] == "78d5c597-78e9-56e8-b4ea-3c2aa92a5d4e"
    zipper.routes[route_of(scene.metadata["uuid"])] = Route(BODY)
    path = provider(identity, zipper).download(scene, tmp_path)
    assert path.read_bytes() == BODY and path.name == f"{scene.source_id}.zip"
    form = parse_qs(identity.bodies[0].decode())
    assert form == {
        "client_id": ["CLOUDFERRO_PUBLIC"],
        "grant_type": ["password"],
        "username": ["user@example.org"],
        "password": [PASSWORD],
        "totp": [totp_code(SecretStr(TOTP_SECRET), at_s=NOW_S)],
    }
    (request,) = zipper.requests
    token = json.loads(token_response)["access_token"]
    assert request[1]["Authorization"] == f"Bearer {token}"
    assert request[0] == route_of(scene.metadata["uuid"]), "no ?token= in the URL"
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    for secret in (PASSWORD, TOTP_SECRET, token):
        assert secret not in caplog.text
        assert secret.encode() not in written, "no secret in the files written"


def test_a_scene_found_elsewhere_is_looked_up_by_name_on_the_recorded_catalogue(
    servers: tuple[FaultServer, FaultServer], recorded: dict[str, Any], shared_fixtures: Path, tmp_path: Path
) -> None:
    identity, zipper = servers
    found_by_cdse = creodias_scene(recorded).model_copy(
        update={"catalogue": "cdse", "metadata": {"uuid": "a-cdse-id-creodias-does-not-know"}}
    )
    zipper.routes[route_of("78d5c597-78e9-56e8-b4ea-3c2aa92a5d4e")] = Route(BODY)
    with ReplayServer([ReplayRoute("GET", "/odata/v1/Products", body_file=shared_fixtures / PAGE)]) as odata:
        creodias = provider(identity, zipper, odata_url=odata.url("/odata/v1"))
        assert creodias.download(found_by_cdse, tmp_path).read_bytes() == BODY
        (lookup,) = odata.requests
        name = found_by_cdse.source_id
        assert lookup.param("$filter") == f"Name eq '{name}.SAFE' or Name eq '{name}'"
        missing = found_by_cdse.model_copy(update={"source_id": "S1A_IW_GRDH_1SSV_NOT_ON_CREODIAS"})
        with pytest.raises(ProductNotFoundError, match="no product named S1A_IW_GRDH_1SSV_NOT_ON_CREODIAS"):
            creodias.download(missing, tmp_path)
        phr = missing.model_copy(update={"constellation": Constellation.PHR})
        with pytest.raises(ProductNotFoundError, match="Creodias holds no PHR products"):
            creodias.download(phr, tmp_path)
        assert len(odata.requests) == 2, "a Pléiades scene is not looked up"
    with ReplayServer([ReplayRoute("GET", "/odata/v1/Products", body=b'[{"Id": 1}]')]) as garbage:
        with pytest.raises(DownloadError, match="not an OData Products answer"):
            provider(identity, zipper, odata_url=garbage.url("/odata/v1")).download(found_by_cdse, tmp_path)


def test_a_cut_mid_body_is_resumed_where_it_stopped(
    servers: tuple[FaultServer, FaultServer], recorded: dict[str, Any], tmp_path: Path
) -> None:
    identity, zipper = servers
    scene = creodias_scene(
        recorded,
        checksums={"MD5": hashlib.md5(BODY, usedforsecurity=False).hexdigest()},
        size_bytes=len(BODY),
    )
    cut = 600_000
    zipper.routes[route_of(scene.metadata["uuid"])] = Route(BODY, script=[{"cut_at": cut}])
    assert provider(identity, zipper).download(scene, tmp_path).read_bytes() == BODY
    first, second = zipper.requests
    assert "Range" not in first[1]
    resumed_at = int(second[1]["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 <= cut - resumed_at < CHUNK_SIZE, "bytes sent again: less than one chunk"


def test_a_401_after_the_token_expired_is_refreshed_once(
    servers: tuple[FaultServer, FaultServer], recorded: dict[str, Any], tmp_path: Path
) -> None:
    identity, zipper = servers
    scene = creodias_scene(recorded)
    zipper.routes[route_of(scene.metadata["uuid"])] = Route(BODY, script=[{"status": 401}])
    creodias = provider(identity, zipper)
    assert creodias.download(scene, tmp_path).read_bytes() == BODY
    assert (creodias.tokens.logins, creodias.tokens.refreshes) == (1, 1), "a refresh, not a new TOTP login"
    zipper.routes[route_of(scene.metadata["uuid"])] = Route(BODY, script=[{"status": 401}] * 2)
    with pytest.raises(DownloadAuthError, match="credentials refused"):
        creodias.download(scene, tmp_path / "again")


def test_429_and_503_are_temporary_and_the_next_attempt_succeeds(
    servers: tuple[FaultServer, FaultServer], recorded: dict[str, Any], tmp_path: Path
) -> None:
    identity, zipper = servers
    scene = creodias_scene(recorded)
    zipper.routes[route_of(scene.metadata["uuid"])] = Route(
        BODY, script=[{"status": 429, "headers": {"Retry-After": "7"}}, {"status": 503}]
    )
    creodias = provider(identity, zipper)
    with pytest.raises(DownloadTemporaryError, match="answered 429") as info:
        creodias.download(scene, tmp_path)
    assert info.value.retry_after_s == 7
    with pytest.raises(DownloadTemporaryError, match="answered 503"):
        creodias.download(scene, tmp_path)
    assert creodias.download(scene, tmp_path).read_bytes() == BODY


def test_a_truncated_body_without_ranges_is_temporary_and_leaves_nothing(
    servers: tuple[FaultServer, FaultServer], recorded: dict[str, Any], tmp_path: Path
) -> None:
    identity, zipper = servers
    scene = creodias_scene(recorded)
    zipper.routes[route_of(scene.metadata["uuid"])] = Route(BODY, script=[{"cut_at": 1000}], ranges=False)
    with pytest.raises(DownloadTemporaryError, match=r"sent 1000 of 1048576 bytes|after 1000 bytes"):
        provider(identity, zipper).download(scene, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_checksum_is_fetched_again_once_then_the_source_is_bad(
    servers: tuple[FaultServer, FaultServer], recorded: dict[str, Any], tmp_path: Path
) -> None:
    identity, zipper = servers
    scene = creodias_scene(recorded, checksums={"MD5": hashlib.md5(BODY, usedforsecurity=False).hexdigest()})
    zipper.routes[route_of(scene.metadata["uuid"])] = Route(BODY, script=[{"corrupt": True}] * 2)
    with pytest.raises(ChecksumMismatchError, match=r"md5 .* twice; the source is bad"):
        provider(identity, zipper).download(scene, tmp_path)
    assert len(zipper.requests) == 2


def test_offline_and_unknown_products_are_the_next_providers(
    servers: tuple[FaultServer, FaultServer], recorded: dict[str, Any], tmp_path: Path
) -> None:
    identity, zipper = servers
    creodias = provider(identity, zipper)
    with pytest.raises(ProductOfflineError, match="offline on Creodias"):
        creodias.download(creodias_scene(recorded, online=False), tmp_path)
    with pytest.raises(ProductNotFoundError, match="answered 404"):
        creodias.download(creodias_scene(recorded), tmp_path)


def test_a_refused_login_names_the_settings_and_shows_no_secret(
    servers: tuple[FaultServer, FaultServer], recorded: dict[str, Any], tmp_path: Path
) -> None:
    identity, zipper = servers
    identity.routes["/token"] = Route(
        b'{"error":"invalid_grant","error_description":"Invalid user credentials"}',
        script=[{"status": 401}],
        ranges=False,
    )
    with pytest.raises(DownloadAuthError) as info:
        provider(identity, zipper).download(creodias_scene(recorded), tmp_path)
    message = str(info.value)
    assert "refused password for 'user@example.org' (401" in message
    assert "GEOCUBE_INGESTER_CREODIAS_TOTP_SECRET" in message
    assert PASSWORD not in message and TOTP_SECRET not in message


def test_creodias_is_configured_by_its_account_settings() -> None:
    settings = Settings(providers="sentinel2=creodias,url")
    assert [p.name for p in build_providers(settings, Constellation.SENTINEL2)] == ["url"], "no account"
    with_account = settings.model_copy(
        update={
            "creodias_username": "u",
            "creodias_password": SecretStr(PASSWORD),
            "creodias_totp_secret": SecretStr(TOTP_SECRET),
        }
    )
    creodias, _ = build_providers(with_account, Constellation.SENTINEL2)
    assert isinstance(creodias, CreodiasDownloader)
    assert creodias.download_url == "https://zipper.creodias.eu/odata/v1"
    assert creodias.tokens.account.token_url.startswith(
        "https://identity.cloudferro.com/auth/realms/Creodias-new/"
    )
    assert creodias.tokens.account.totp_secret == SecretStr(TOTP_SECRET)
    assert PASSWORD not in repr(creodias) and TOTP_SECRET not in repr(creodias)


@pytest.mark.parametrize("answer", [b"<html>login</html>", b"[1]", b'{"token_type": "Bearer"}'])
def test_a_token_endpoint_answering_something_else_is_a_typed_error(
    servers: tuple[FaultServer, FaultServer], recorded: dict[str, Any], tmp_path: Path, answer: bytes
) -> None:
    identity, zipper = servers
    identity.routes["/token"] = Route(answer, ranges=False)
    with pytest.raises(DownloadAuthError, match="not a token answer"):
        provider(identity, zipper).download(creodias_scene(recorded), tmp_path)


def test_a_corrupt_copy_on_creodias_hands_over_to_the_next_provider(
    servers: tuple[FaultServer, FaultServer], recorded: dict[str, Any], tmp_path: Path
) -> None:
    identity, zipper = servers
    scene = creodias_scene(recorded, checksums={"MD5": hashlib.md5(BODY, usedforsecurity=False).hexdigest()})
    zipper.routes[route_of(scene.metadata["uuid"])] = Route(BODY, script=[{"corrupt": True}] * 2)
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / f"{scene.source_id}.zip").write_bytes(BODY)
    path: Path
    path, served_by = download_product(
        scene, [provider(identity, zipper), LocalArchiveProvider(str(archive))], tmp_path / "scratch"
    )
    assert (served_by, path) == ("local", archive / f"{scene.source_id}.zip")
    assert len(zipper.requests) == 2, "fetched again once, then the next provider"
    assert list((tmp_path / "scratch" / "creodias").iterdir()) == [], "the bad copy is gone"
