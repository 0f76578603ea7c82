"""CDSE's burst service against local servers that behave like it: the real Bursts entity as the lookup
answer, the POST answered 401 (an expired token, refreshed once), then a 302 whose Location takes the
POST again, then the zipped one-burst SAFE."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from catalogue.burst_safe import check_one_burst_safe
from catalogue.models import Constellation, Scene, Tile
from providers.cdse.bursts import CdseBurstDownloader
from providers.errors import BurstDeliveryError, DownloadTemporaryError, ProductNotFoundError
from providers.fetch import Fetcher
from providers.tokens import Account, OidcTokens
from tests.support.burst_servers import Answer, ScriptedServer, scripted_server
from tests.support.s1_bursts import one_burst_zip, unpack_efa4

pytestmark = pytest.mark.integration

PASSWORD = "pa55-w0rd-burst-secret"
PARENT = "S1A_IW_SLC__1SDV_20240802T060719_20240802T060746_055030_06B44E_E7CC"  # the entity's parent


@pytest.fixture(scope="module")
def entity(shared_fixtures: Path) -> dict[str, object]:
    path = shared_fixtures / "cdse" / "bursts" / "bursts_entity_46577370-83b3-4410-89de-09b4bb23e5dd.json"
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


@pytest.fixture(scope="module")
def burst_zip(shared_fixtures: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    work = tmp_path_factory.mktemp("cdse-burst")
    return one_burst_zip(unpack_efa4(shared_fixtures, work), work, swath="IW1", burst=2, polarisation="VH")


def _scene() -> Scene:
    return Scene(
        source_id=PARENT,
        date=datetime(2024, 8, 2, 6, 7, 19, tzinfo=UTC),
        constellation=Constellation.SENTINEL1,
        footprint_wkt="POLYGON ((2 51, 3 51, 3 52, 2 52, 2 51))",
    )


def _tile() -> Tile:
    return Tile(source_id="D8_IW1_21209", scene_id=PARENT, date=datetime(2024, 8, 2, tzinfo=UTC),
                footprint_wkt="POLYGON ((2 51, 3 51, 3 52, 2 52, 2 51))", swath_id="IW1", tile_nr=3,
                burst_id=15805)  # fmt: skip


def _provider(server: ScriptedServer, token_body: bytes) -> CdseBurstDownloader:
    server.routes[("POST", "/token")] = [Answer(200, token_body, {"Content-Type": "application/json"})]
    account = Account(f"{server.base}/token", "cdse-public", "user@example.org", SecretStr(PASSWORD))
    return CdseBurstDownloader(
        odata_url=f"{server.base}/odata/v1",
        burst_url=f"{server.base}/download/odata/v1",
        tokens=OidcTokens(account),
        fetcher=Fetcher(timeout_s=10),
    )


def _lookup(entity: dict[str, object]) -> Answer:
    listing = {
        "@odata.context": "$metadata#Bursts",
        "value": [{k: v for k, v in entity.items() if k != "@odata.context"}],
    }
    return Answer(200, json.dumps(listing).encode(), {"Content-Type": "application/json"})


def test_the_burst_is_found_posted_again_at_the_redirect_and_checked(
    shared_fixtures: Path,
    entity: dict[str, object],
    burst_zip: bytes,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token_body = (shared_fixtures / "cdse" / "token" / "token_response.redacted.json").read_bytes()
    burst_path = f"/download/odata/v1/Bursts({entity['Id']})/$value"
    with scripted_server() as server:
        provider = _provider(server, token_body)
        server.routes[("GET", "/odata/v1/Bursts")] = [_lookup(entity)]
        server.routes[("POST", burst_path)] = [
            Answer(401, b'{"detail": "Expired signature!"}'),  # the token died: refreshed once
            Answer(302, headers={"Location": f"{server.base}/zipper/Bursts({entity['Id']})/$value"}),
        ]
        server.routes[("POST", f"/zipper/Bursts({entity['Id']})/$value")] = [Answer(200, burst_zip)]
        with caplog.at_level(logging.DEBUG):
            safe = provider.download_burst(_scene(), _tile(), "VH", tmp_path)

        [lookup] = server.asked("GET", "/odata/v1/Bursts")
        query = parse_qs(urlsplit(lookup[1]).query)
        assert query["$filter"] == [
            f"ParentProductName eq '{PARENT}.SAFE' and BurstId eq 15805 and SwathIdentifier eq 'IW1' and "
            "PolarisationChannels eq 'VH'"
        ]
        assert "Authorization" not in lookup[2]  # the catalogue is anonymous
        posts = [r for r in server.requests if r[0] == "POST" and "Bursts(" in r[1]]
        assert [urlsplit(r[1]).path for r in posts] == [
            burst_path,
            burst_path,
            f"/zipper/Bursts({entity['Id']})/$value",
        ]
        access = json.loads(token_body)["access_token"]
        assert all(r[2]["Authorization"] == f"Bearer {access}" for r in posts)
        grants = [r for r in server.requests if r[1] == "/token"]
        assert len(grants) == 2  # a login, then the refresh after the 401
    checked = check_one_burst_safe(safe)
    assert (checked.swath, checked.polarisations, checked.lines) == ("IW1", ("VH",), 1501)
    assert PASSWORD not in caplog.text and access not in caplog.text


def test_a_burst_cdse_does_not_list_goes_elsewhere(shared_fixtures: Path, tmp_path: Path) -> None:
    token_body = (shared_fixtures / "cdse" / "token" / "token_response.redacted.json").read_bytes()
    with scripted_server() as server:
        provider = _provider(server, token_body)
        server.routes[("GET", "/odata/v1/Bursts")] = [
            Answer(200, b'{"@odata.context": "$metadata#Bursts", "value": []}')
        ]
        with pytest.raises(ProductNotFoundError, match=r"CDSE lists no such burst \(burst id 15805\)"):
            provider.download_burst(_scene(), _tile(), "VV", tmp_path)
        assert not server.asked("POST", "/token")  # no login for a burst that is not there
        with pytest.raises(ProductNotFoundError, match=r"no ESA burst id"):
            provider.download_burst(_scene(), _tile().model_copy(update={"burst_id": None}), "VV", tmp_path)


def test_bad_answers_are_typed_errors(
    shared_fixtures: Path, entity: dict[str, object], burst_zip: bytes, tmp_path: Path
) -> None:
    token_body = (shared_fixtures / "cdse" / "token" / "token_response.redacted.json").read_bytes()
    with scripted_server() as server:
        provider = _provider(server, token_body)
        lookup = ("GET", "/odata/v1/Bursts")
        server.routes[lookup] = [Answer(200, b"<html>maintenance</html>")]
        with pytest.raises(BurstDeliveryError, match=r"not JSON"):
            provider.download_burst(_scene(), _tile(), "VH", tmp_path)
        server.routes[lookup] = [Answer(200, b'{"value": [{"Name": "no id"}]}')]
        with pytest.raises(BurstDeliveryError, match=r"not an OData list of entities with an Id"):
            provider.download_burst(_scene(), _tile(), "VH", tmp_path)
        server.routes[lookup] = [Answer(503, headers={"Retry-After": "120"})]
        with pytest.raises(DownloadTemporaryError) as busy:
            provider.download_burst(_scene(), _tile(), "VH", tmp_path)
        assert busy.value.retry_after_s == 120
        server.routes[lookup] = [_lookup(entity)]
        server.routes[("POST", f"/download/odata/v1/Bursts({entity['Id']})/$value")] = [
            Answer(200, b"not a zip")
        ]
        with pytest.raises(BurstDeliveryError, match=r"not a usable zip"):
            provider.download_burst(_scene(), _tile(), "VH", tmp_path)
