"""One fault table for every HTTP download provider (issue 9): each fault, each provider kind.

Every provider is pointed at local servers that misbehave on request (``tests.support.fault_http``): the
product route, and for token accounts an identity endpoint answering the recorded CDSE token response
shape (``cdse/token/``). Scenes are the providers' own: ASF's from its recorded jsonlite answer, DHuS's
with the hub's recorded OData entity (``dhus/test_download_single``), its checksum and length made those
of the body served (the recorded body is empty upstream).

Faults: a cut mid-body then resumed (bytes sent twice < one chunk); a 401 after a token expired, then one
refresh (token accounts) or a permanent error naming the setting (static credentials); 429 with its
Retry-After; 503 then success; a truncated body from a server without ranges (nothing left behind); a
wrong checksum (fetched twice, then the next provider); a 302 to another host (no credentials follow);
provider A without the product and B serving it. The 202 of a burst extraction is in the burst tests.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from catalogue.models import Constellation, Scene
from common.errors import ProductUnavailableError
from providers.asf import AsfDownloader, parse_result
from providers.base import Downloader
from providers.cdse.download import CdseDownloader
from providers.chain import download_product
from providers.creodias import CreodiasDownloader
from providers.dhus_download import DhusDownloader
from providers.errors import DownloadTemporaryError
from providers.fetch import CHUNK_SIZE, ChecksumMismatchError, DownloadAuthError, Fetcher
from providers.local import LocalArchiveProvider
from providers.tokens import Account, OidcTokens
from providers.url import UrlProvider
from tests.support.fault_http import FaultServer, Route, fault_server

pytestmark = pytest.mark.integration

BODY = os.urandom((1 << 20) + 4321)
MD5 = hashlib.md5(BODY, usedforsecurity=False).hexdigest()
PASSWORD = "pw-faults-5e1d"
TOKEN = "edl-faults-7a2c"
PRODUCT_ID = "cb28c2e3-f258-4af0-96a7-9af05a82cc5c"
S1_NAME = "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4"


@dataclass
class Case:
    provider: Downloader
    scene: Scene
    path: str  # the product's route on the product server
    tokens: OidcTokens | None = None  # a token account (refreshable), else static credentials
    sends_credentials: bool = True


@dataclass
class Servers:
    product: FaultServer
    identity: FaultServer
    fixtures: Path


def _s1_scene(**metadata: Any) -> Scene:
    return Scene(
        source_id=S1_NAME,
        date=datetime(2021, 4, 1, 5, 26, 22, tzinfo=UTC),
        constellation=Constellation.SENTINEL1,
        footprint_wkt="POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))",
        metadata={"size_bytes": len(BODY), "checksums": {"MD5": MD5}, **metadata},
    )


def _tokens(servers: Servers, client_id: str) -> OidcTokens:
    account = Account(f"{servers.identity.base}/token", client_id, "user@example.org", SecretStr(PASSWORD))
    return OidcTokens(account)


def _url(servers: Servers) -> Case:
    path = f"/products/{S1_NAME}.zip"
    scene = _s1_scene(download_link=f"{servers.product.base}{path}")
    return Case(UrlProvider(timeout_s=5), scene, path, sends_credentials=False)


def _cdse(servers: Servers) -> Case:
    tokens = _tokens(servers, "cdse-public")
    provider = CdseDownloader(
        download_url=f"{servers.product.base}/odata/v1", tokens=tokens, fetcher=Fetcher(timeout_s=5)
    )
    scene = _s1_scene(uuid=PRODUCT_ID).model_copy(update={"catalogue": "cdse"})
    return Case(provider, scene, f"/odata/v1/Products({PRODUCT_ID})/$value", tokens)


def _creodias(servers: Servers) -> Case:
    tokens = _tokens(servers, "CLOUDFERRO_PUBLIC")
    provider = CreodiasDownloader(
        download_url=f"{servers.product.base}/odata/v1", tokens=tokens, fetcher=Fetcher(timeout_s=5)
    )
    provider.trusted_hosts = frozenset({"127.0.0.1"})
    scene = _s1_scene(uuid=PRODUCT_ID).model_copy(update={"catalogue": "creodias"})
    return Case(provider, scene, f"/odata/v1/Products({PRODUCT_ID})/$value", tokens)


def _asf(servers: Servers) -> Case:
    rows = json.loads((servers.fixtures / "asf" / "Fairbanks_SLC_jsonlite.json").read_text())["results"]
    recorded = parse_result(rows[0])
    path = f"/SA/{recorded.metadata['file_name']}"
    metadata = recorded.metadata | {"download_link": f"{servers.product.base}{path}",
                                    "size_bytes": len(BODY), "checksums": {"MD5": MD5}}  # fmt: skip
    provider = AsfDownloader(SecretStr(TOKEN), fetcher=Fetcher(timeout_s=5), hosts=frozenset({"127.0.0.1"}))
    return Case(provider, recorded.model_copy(update={"metadata": metadata}), path)


def _dhus(servers: Servers) -> Case:
    cassette = yaml.safe_load((servers.fixtures / "dhus" / "test_download_single.cassette.yaml").read_text())
    entity = next(
        json.loads(i["response"]["body"]["string"])
        for i in cassette["interactions"]
        if "?$format=json" in i["request"]["uri"] and i["response"]["status"]["code"] == 200
    )
    d = entity["d"] | {"ContentLength": str(len(BODY))}
    d["Checksum"] = dict(d["Checksum"]) | {"Value": MD5}
    product = f"/dhus/odata/v1/Products('{d['Id']}')"
    servers.product.routes[product] = Route(json.dumps({"d": d}).encode(), ranges=False)
    provider = DhusDownloader(
        api_url=f"{servers.product.base}/dhus/", user="user", password=SecretStr(PASSWORD),
        fetcher=Fetcher(timeout_s=5),
    )  # fmt: skip
    scene = _s1_scene(uuid=d["Id"]).model_copy(update={"catalogue": "dhus", "source_id": d["Name"]})
    return Case(provider, scene, f"{product}/$value")


PROVIDER_KINDS: dict[str, Callable[[Servers], Case]] = {
    "url": _url,
    "cdse": _cdse,
    "creodias": _creodias,
    "asf": _asf,
    "dhus": _dhus,
}


@pytest.fixture(params=sorted(PROVIDER_KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def servers(shared_fixtures: Path) -> Iterator[Servers]:
    token_response = (shared_fixtures / "cdse" / "token" / "token_response.redacted.json").read_bytes()
    with fault_server() as product, fault_server() as identity:
        identity.routes["/token"] = Route(token_response, ranges=False)
        yield Servers(product, identity, shared_fixtures)


def case_with(kind: str, servers: Servers, route: Route) -> Case:
    case = PROVIDER_KINDS[kind](servers)
    servers.product.routes[case.path] = route
    return case


def product_requests(servers: Servers, case: Case) -> list[dict[str, str]]:
    return [headers for path, headers in servers.product.requests if path == case.path]


def test_a_cut_mid_body_is_resumed_sending_less_than_a_chunk_twice(
    kind: str, servers: Servers, tmp_path: Path
) -> None:
    cut = 600_000
    case = case_with(kind, servers, Route(BODY, script=[{"cut_at": cut}]))
    assert case.provider.download(case.scene, tmp_path).read_bytes() == BODY
    first, second = product_requests(servers, case)
    offset = int(second["Range"].removeprefix("bytes=").rstrip("-"))
    assert "Range" not in first and 0 <= cut - offset < CHUNK_SIZE


def test_a_401_after_the_token_expired_is_refreshed_once_or_names_the_setting(
    kind: str, servers: Servers, tmp_path: Path
) -> None:
    case = case_with(kind, servers, Route(BODY, script=[{"status": 401}]))
    if case.tokens is not None:
        assert case.provider.download(case.scene, tmp_path).read_bytes() == BODY
        assert (case.tokens.logins, case.tokens.refreshes) == (1, 1), "a refresh, not a new login"
        return
    if not case.sends_credentials:  # no credentials for this host: the refusal is permanent at once
        with pytest.raises(DownloadAuthError):
            case.provider.download(case.scene, tmp_path)
        return
    servers.product.routes[case.path] = Route(BODY, script=[{"status": 401}] * 3)
    with pytest.raises(DownloadAuthError, match="GEOCUBE_INGESTER_") as info:
        case.provider.download(case.scene, tmp_path)
    assert PASSWORD not in str(info.value) and TOKEN not in str(info.value)


def test_a_429_is_temporary_with_its_retry_after(kind: str, servers: Servers, tmp_path: Path) -> None:
    case = case_with(kind, servers, Route(BODY, script=[{"status": 429, "headers": {"Retry-After": "7"}}]))
    with pytest.raises(DownloadTemporaryError) as info:
        case.provider.download(case.scene, tmp_path)
    assert info.value.retry_after_s == 7


def test_a_503_is_temporary_and_the_retry_succeeds(kind: str, servers: Servers, tmp_path: Path) -> None:
    case = case_with(kind, servers, Route(BODY, script=[{"status": 503}]))
    with pytest.raises(DownloadTemporaryError):
        case.provider.download(case.scene, tmp_path)
    assert case.provider.download(case.scene, tmp_path).read_bytes() == BODY


def test_a_truncated_body_without_ranges_is_temporary_and_leaves_nothing(
    kind: str, servers: Servers, tmp_path: Path
) -> None:
    case = case_with(kind, servers, Route(BODY, script=[{"cut_at": 5000}], ranges=False))
    with pytest.raises(DownloadTemporaryError):
        case.provider.download(case.scene, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_checksum_is_fetched_twice_then_the_next_provider_serves(
    kind: str, servers: Servers, tmp_path: Path
) -> None:
    case = case_with(kind, servers, Route(BODY, script=[{"corrupt": True}] * 2))
    (tmp_path / "alone").mkdir()
    with pytest.raises(ChecksumMismatchError):
        case.provider.download(case.scene, tmp_path / "alone")
    assert len(product_requests(servers, case)) == 2
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / f"{case.scene.source_id}.zip").write_bytes(BODY)
    servers.product.routes[case.path] = Route(BODY, script=[{"corrupt": True}] * 2)
    path: Path
    path, used = download_product(case.scene, [case.provider, LocalArchiveProvider(archive)], tmp_path / "w")
    assert used == "local" and path.read_bytes() == BODY
    assert list((tmp_path / "w" / case.provider.name).iterdir()) == [], "the bad copy is not kept"


def test_a_302_to_another_host_gets_the_body_but_not_the_credentials(
    kind: str, servers: Servers, tmp_path: Path
) -> None:
    with fault_server() as elsewhere:
        elsewhere.routes["/signed.zip"] = Route(BODY)
        other = elsewhere.base.replace("127.0.0.1", "localhost") + "/signed.zip?X-Signature=s"
        case = case_with(kind, servers, Route(b"", script=[{"redirect": other}]))
        assert case.provider.download(case.scene, tmp_path).read_bytes() == BODY
    (_, headers), *_ = elsewhere.requests
    assert "Authorization" not in headers
    if case.sends_credentials:
        assert "Authorization" in product_requests(servers, case)[0]


def test_provider_a_without_the_product_hands_it_to_b(kind: str, servers: Servers, tmp_path: Path) -> None:
    case = case_with(kind, servers, Route(BODY, script=[{"status": 404}]))
    (tmp_path / "alone").mkdir()
    with pytest.raises(ProductUnavailableError):
        case.provider.download(case.scene, tmp_path / "alone")
    servers.product.routes[case.path] = Route(BODY, script=[{"status": 404}])
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / f"{case.scene.source_id}.zip").write_bytes(BODY)
    path: Path
    path, used = download_product(case.scene, [case.provider, LocalArchiveProvider(archive)], tmp_path / "w")
    assert used == "local" and path == archive / f"{case.scene.source_id}.zip"
