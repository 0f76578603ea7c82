"""DHuS downloads against local servers serving sentinelsat's real recorded DHuS answers (vcrpy
cassettes, shared fixtures ``dhus/``; PROVENANCE.md, "DHuS"): the OData product entities of
``test_download_single`` (online, MD5 ``Checksum``) and ``test_get_product_odata_short`` (three products
``Online: false``), the 401 answers of ``test_SentinelAPI_wrong_credentials``. The ``$value`` bodies are
empty upstream (only their headers were recorded): random bytes are served in their place, with the
recorded ``Accept-Ranges: bytes``.

The recorded products are Sentinel-3 ones; the scenes below say Sentinel-1 only because a Scene needs one
of our constellations: the downloader reads the scene's uuid and name, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from catalogue.models import Constellation, Scene
from common.redaction import install_redaction
from common.settings import Settings
from providers.cdse.download import ProductOfflineError
from providers.chain import download_product
from providers.creodias import CreodiasDownloader
from providers.dhus_download import DhusDownloader
from providers.downloaders import build_providers
from providers.errors import DownloadError, DownloadTemporaryError, ProductNotFoundError
from providers.fetch import ChecksumMismatchError, DownloadAuthError, Fetcher
from providers.tokens import Account, OidcTokens
from tests.support.cassette import routes_from_cassette
from tests.support.fault_http import FaultServer, Route, fault_server
from tests.support.replay import ReplayServer
from tests.support.replay import Route as ReplayRoute

pytestmark = pytest.mark.integration

USER = "tester"
PASSWORD = "test-dhus-password-9f3a"
ONLINE_UUID = "b1d8a9ab-6072-4ecd-bc44-8d64419d71cb"  # test_download_single
OFFLINE_UUID = "11af8bd9-24d0-4401-9789-b7b73786e122"  # test_get_product_odata_short
BODY = os.urandom(599_540)  # the recorded ContentLength


def recorded_entities(fixtures: Path, cassette: str) -> dict[str, dict[str, Any]]:
    """The OData product entities (``{"d": {...}}``) a cassette recorded, by uuid."""
    data = yaml.safe_load((fixtures / "dhus" / cassette).read_text(encoding="utf-8"))
    found = {}
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        if "?$format=json" in request["uri"] and response["status"]["code"] == 200:
            body = json.loads(response["body"]["string"])
            found[body["d"]["Id"]] = body
    return found


@pytest.fixture
def entities(shared_fixtures: Path) -> dict[str, dict[str, Any]]:
    return recorded_entities(shared_fixtures, "test_download_single.cassette.yaml") | recorded_entities(
        shared_fixtures, "test_get_product_odata_short.cassette.yaml"
    )


@pytest.fixture
def hub() -> Iterator[FaultServer]:
    with fault_server() as server:
        yield server


def entity_path(uuid: str) -> str:
    return f"/apihub/odata/v1/Products('{uuid}')"


def serve(hub: FaultServer, entity: dict[str, Any], body: bytes = BODY, **route: Any) -> None:
    uuid = entity["d"]["Id"]
    hub.routes[entity_path(uuid)] = Route(json.dumps(entity).encode(), ranges=False)
    hub.routes[entity_path(uuid) + "/$value"] = Route(body, **route)


def with_checksum_of(entity: dict[str, Any], body: bytes) -> dict[str, Any]:
    """The recorded entity, its ``Checksum`` and ``ContentLength`` those of the body served instead of
    the recorded (empty) one."""
    d = dict(entity["d"])
    d["Checksum"] = dict(d["Checksum"]) | {"Value": hashlib.md5(body, usedforsecurity=False).hexdigest()}
    d["ContentLength"] = str(len(body))
    return {"d": d}


def dhus_scene(entity: dict[str, Any], **changes: Any) -> Scene:
    fields: dict[str, Any] = {
        "source_id": entity["d"]["Name"],
        "date": datetime(2023, 3, 9, 20, 45, 58, tzinfo=UTC),
        "constellation": Constellation.SENTINEL1,
        "footprint_wkt": "POLYGON ((0 63, 1 63, 1 64, 0 64, 0 63))",
        "metadata": {"uuid": entity["d"]["Id"]},
        "catalogue": "dhus",
    }
    return Scene(**(fields | changes))


def downloader(hub: FaultServer | ReplayServer, **options: Any) -> DhusDownloader:
    root = hub.base if isinstance(hub, FaultServer) else hub.url("")
    return DhusDownloader(
        api_url=f"{root}/apihub/",
        user=USER,
        password=SecretStr(PASSWORD),
        fetcher=Fetcher(timeout_s=5),
        **options,
    )


def test_a_product_is_fetched_with_basic_auth_resumed_after_a_cut_and_its_md5_verified(
    hub: FaultServer, entities: dict[str, dict[str, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    install_redaction()
    caplog.set_level(logging.DEBUG)
    entity = with_checksum_of(entities[ONLINE_UUID], BODY)
    serve(hub, entity, script=[{"cut_at": 300_000}])
    path = downloader(hub).download(dhus_scene(entity), tmp_path)
    assert path.read_bytes() == BODY and path.name == f"{entity['d']['Name']}.zip"
    described, _cut, resumed = hub.requests
    assert described[0] == entity_path(ONLINE_UUID)
    basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert {r[1]["Authorization"] for r in hub.requests} == {basic}
    assert resumed[1]["Range"] == "bytes=300000-", "the bytes already there are not sent again"
    assert PASSWORD not in caplog.text and basic.split()[1] not in caplog.text


def test_the_recorded_md5_of_another_body_is_a_bad_source_after_one_more_fetch(
    hub: FaultServer, entities: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    entity = entities[ONLINE_UUID]  # as recorded: MD5 1495b98f..., ContentLength 599540
    serve(hub, entity)
    with pytest.raises(
        ChecksumMismatchError, match=r"md5 .* where the catalogue says 1495b98f859949929b14c1b7cd62dffc"
    ):
        downloader(hub).download(dhus_scene(entity), tmp_path)
    assert [path for path, _ in hub.requests].count(entity_path(ONLINE_UUID) + "/$value") == 2
    assert list(tmp_path.iterdir()) == []


def test_an_offline_product_asks_the_long_term_archive_and_is_tried_again_later(
    hub: FaultServer, entities: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    entity = entities[OFFLINE_UUID]
    assert entity["d"]["Online"] is False
    serve(hub, entity, script=[{"status": 202}, {"status": 403}])
    scene = dhus_scene(entity)
    with pytest.raises(
        DownloadTemporaryError, match=r"Long Term Archive.*retrieval requested \(202 Accepted\)"
    ):
        downloader(hub).download(scene, tmp_path)
    with pytest.raises(ProductOfflineError, match="quota of offline retrievals"):
        downloader(hub).download(scene, tmp_path)
    hub.requests.clear()
    with pytest.raises(ProductOfflineError, match=r"Online: false"):
        downloader(hub, trigger_offline=False).download(scene, tmp_path)
    assert [path for path, _ in hub.requests] == [entity_path(OFFLINE_UUID)], "no retrieval asked"


def test_recorded_wrong_credentials_name_the_settings_and_never_the_password(
    shared_fixtures: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    install_redaction()
    caplog.set_level(logging.DEBUG)
    routes = routes_from_cassette(shared_fixtures / "dhus/test_SentinelAPI_wrong_credentials.cassette.yaml")
    scene = dhus_scene({"d": {"Id": "8df46c9e-a20c-43db-a19a-4240c2ed3b8b", "Name": "S1A_recorded_401"}})
    with ReplayServer(routes) as server:
        with pytest.raises(DownloadAuthError) as info:
            downloader(server).download(scene, tmp_path)
        assert server.requests[0].param("$format") == "json" and not server.unmatched
    message = str(info.value)
    assert "refused the credentials of user 'tester'" in message
    assert "GEOCUBE_INGESTER_DHUS_USER and GEOCUBE_INGESTER_DHUS_PASSWORD" in message
    assert PASSWORD not in message and PASSWORD not in caplog.text


def test_busy_hubs_and_missing_products_say_what_happens_next(
    hub: FaultServer, entities: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    entity = with_checksum_of(entities[ONLINE_UUID], BODY)
    serve(hub, entity, script=[{"status": 429, "headers": {"Retry-After": "30"}}, {"status": 503}])
    dhus = downloader(hub)
    with pytest.raises(DownloadTemporaryError, match="answered 429") as info:
        dhus.download(dhus_scene(entity), tmp_path)
    assert info.value.retry_after_s == 30
    with pytest.raises(DownloadTemporaryError, match="answered 503"):
        dhus.download(dhus_scene(entity), tmp_path)
    assert dhus.download(dhus_scene(entity), tmp_path).read_bytes() == BODY
    with pytest.raises(ProductNotFoundError, match="answered 404"):
        dhus.download(dhus_scene(entity, metadata={"uuid": "00000000-0000-0000-0000-000000000000"}), tmp_path)
    with pytest.raises(ProductNotFoundError, match=r"no DHuS product uuid \(found by cdse\)"):
        dhus.download(dhus_scene(entity, catalogue="cdse"), tmp_path)


@pytest.mark.parametrize("answer", [b"<html>maintenance</html>", b"[1, 2]", b'{"d": "x"}'])
def test_an_answer_that_is_not_an_odata_product_is_a_typed_error(
    hub: FaultServer, entities: dict[str, dict[str, Any]], tmp_path: Path, answer: bytes
) -> None:
    hub.routes[entity_path(ONLINE_UUID)] = Route(answer, ranges=False)
    with pytest.raises(DownloadError, match="not a DHuS OData product"):
        downloader(hub).download(dhus_scene(entities[ONLINE_UUID]), tmp_path)


def test_provider_a_missing_the_product_hands_over_to_dhus(
    hub: FaultServer, entities: dict[str, dict[str, Any]], tmp_path: Path, shared_fixtures: Path
) -> None:
    entity = with_checksum_of(entities[ONLINE_UUID], BODY)
    serve(hub, entity)
    token = (shared_fixtures / "cdse" / "token" / "token_response.redacted.json").read_bytes()
    with (
        fault_server() as identity,
        ReplayServer([ReplayRoute("GET", "/odata/v1/Products", body=b'{"value": []}')]) as odata,
    ):
        identity.routes["/token"] = Route(token, ranges=False)
        tokens = OidcTokens(Account(f"{identity.base}/token", "CLOUDFERRO_PUBLIC", "u", SecretStr("pw")))
        creodias = CreodiasDownloader(
            download_url=f"{identity.base}/odata/v1", odata_url=odata.url("/odata/v1"), tokens=tokens
        )
        path: Path
        path, served_by = download_product(dhus_scene(entity), [creodias, downloader(hub)], tmp_path)
    assert (served_by, path.read_bytes() == BODY) == ("dhus", True)
    assert path.parent == tmp_path / "dhus"
    assert identity.bodies == [], "no login for a product Creodias has not got"


def test_dhus_is_configured_by_its_hub_and_account() -> None:
    settings = Settings(providers="sentinel1=dhus,url", dhus_url="https://mirror.example/dhus")
    assert [p.name for p in build_providers(settings, Constellation.SENTINEL1)] == ["url"], "no account"
    full = settings.model_copy(update={"dhus_user": USER, "dhus_password": SecretStr(PASSWORD)})
    dhus, _ = build_providers(full, Constellation.SENTINEL1)
    assert isinstance(dhus, DhusDownloader) and dhus.api_url == "https://mirror.example/dhus/"
    assert PASSWORD not in repr(dhus)
