"""ASF downloads: a granule of the recorded ASF search (``../shared/fixtures/asf/``), fetched with an
Earthdata bearer token from a local datapool that redirects to a signed URL on another host."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from catalogue.models import Scene
from providers.asf import AsfDownloader, parse_result
from providers.errors import ProductNotFoundError
from providers.fetch import DownloadAuthError, Fetcher
from tests.support.fault_http import Route, fault_server

pytestmark = pytest.mark.integration

TOKEN = "edl-t0ken-secret"
BODY = os.urandom(1 << 20)


def recorded_scene(shared_fixtures: Path, link: str) -> Scene:
    results = json.loads((shared_fixtures / "asf" / "Fairbanks_SLC_jsonlite.json").read_text())["results"]
    scene = parse_result(results[0])
    assert scene.metadata["download_link"].startswith("https://datapool.asf.alaska.edu/")
    md5 = hashlib.md5(BODY, usedforsecurity=False).hexdigest()
    metadata = scene.metadata | {"download_link": link, "size_bytes": len(BODY), "checksums": {"MD5": md5}}
    return scene.model_copy(update={"metadata": metadata})


def test_a_granule_is_fetched_with_the_token_which_stays_on_asf_hosts(
    shared_fixtures: Path, tmp_path: Path
) -> None:
    with fault_server() as datapool, fault_server() as cloudfront:
        cloudfront.routes["/signed.zip"] = Route(BODY)
        signed = cloudfront.base.replace("127.0.0.1", "localhost") + "/signed.zip?Signature=x"
        datapool.routes["/SA/S1B.zip"] = Route(b"", script=[{"redirect": signed}])
        scene = recorded_scene(shared_fixtures, f"{datapool.base}/SA/S1B.zip")
        provider = AsfDownloader(SecretStr(TOKEN), fetcher=Fetcher(timeout_s=5), hosts=frozenset())
        with pytest.raises(ProductNotFoundError, match="no ASF download link"):
            provider.download(scene, tmp_path)
        provider.hosts = frozenset({"127.0.0.1"})  # the datapool's host; the signed URL's is another
        path = provider.download(scene, tmp_path)
    assert path.read_bytes() == BODY and path.name == scene.metadata["file_name"]
    assert datapool.requests[-1][1]["Authorization"] == f"Bearer {TOKEN}"
    assert "Authorization" not in cloudfront.requests[0][1], "no token for the signed URL's host"


def test_a_refused_token_names_the_setting_and_is_not_shown(shared_fixtures: Path, tmp_path: Path) -> None:
    with fault_server() as datapool:
        datapool.routes["/SA/S1B.zip"] = Route(BODY, script=[{"status": 401}])
        scene = recorded_scene(shared_fixtures, f"{datapool.base}/SA/S1B.zip")
        provider = AsfDownloader(
            SecretStr(TOKEN), fetcher=Fetcher(timeout_s=5), hosts=frozenset({"127.0.0.1"})
        )
        with pytest.raises(DownloadAuthError, match="GEOCUBE_INGESTER_EARTHDATA_TOKEN") as info:
            provider.download(scene, tmp_path)
    assert TOKEN not in str(info.value) and TOKEN not in repr(provider)
