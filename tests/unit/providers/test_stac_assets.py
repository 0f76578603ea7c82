"""The stac-assets provider on the real Earth Search items of the shared fixtures (a Sentinel-2 L2A item
of COGs over https, a Landsat C2 L2 item on requester-pays s3://usgs-landsat), served by local servers:
the item at its self link and the COGs by tests/support/fault_http.py, the s3:// assets by moto."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalogue.models import Constellation, Scene
from providers.errors import ProductNotFoundError
from providers.fetch import ChecksumMismatchError
from providers.objects import ObjectStores
from providers.stac.assets import StacAssetsDownloader, default_assets, multihash_checksums
from providers.stac.items import item_to_scene
from tests.support.cassette import load_interactions
from tests.support.fault_http import FaultServer, Route, fault_server
from tests.support.s3_server import ACCESS_KEY, SECRET_KEY, MotoS3, fault_proxy, moto_s3
from tests.unit.providers.stac_support import CASSETTE

pytestmark = pytest.mark.integration
S2_COGS = "https://sentinel-cogs.s3.us-west-2.amazonaws.com"
EARTH_SEARCH = "https://earth-search.aws.element84.com"


def _items(shared_fixtures: Path) -> dict[str, dict[str, Any]]:
    body = load_interactions(shared_fixtures / CASSETTE)[0]["response"]["body"]["string"]
    return {item["collection"]: item for item in json.loads(body)["features"]}


def _served(item: dict[str, Any], server: FaultServer) -> tuple[dict[str, Any], Scene, str]:
    """The recorded item with its hosts moved to the local server (nothing else changed), served at its
    self link; and the scene the STAC API catalogue makes of it."""
    text = json.dumps(item).replace(EARTH_SEARCH, server.base).replace(S2_COGS, f"{server.base}/cogs")
    local = json.loads(text)
    self_href = next(link["href"] for link in local["links"] if link["rel"] == "self")
    server.routes[self_href.removeprefix(server.base)] = Route(json.dumps(local).encode())
    constellation = Constellation.LANDSAT89 if "landsat" in item["collection"] else Constellation.SENTINEL2
    return local, item_to_scene(local, constellation, catalogue="stac-earth-search"), self_href


@pytest.fixture
def cog(shared_fixtures: Path) -> bytes:
    return (shared_fixtures / "rasters" / "cogeo.tif").read_bytes()


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with fault_server() as state:
        yield state


def _serve_cogs(server: FaultServer, item: dict[str, Any], body: bytes) -> None:
    for asset in item["assets"].values():
        if asset["href"].startswith(server.base):
            server.routes.setdefault(asset["href"].removeprefix(server.base), Route(body))


def test_only_the_assets_asked_for_are_fetched_beside_the_item(
    server: FaultServer, shared_fixtures: Path, cog: bytes, tmp_path: Path
) -> None:
    item, scene, self_href = _served(_items(shared_fixtures)["sentinel-2-l2a"], server)
    _serve_cogs(server, item, cog)
    assert scene.metadata["stac_item_href"] == self_href
    path = StacAssetsDownloader(stores=ObjectStores()).download(scene, tmp_path, assets=["red", "nir"])
    assert path == tmp_path / "S2A_13TDE_20231008_0_L2A"
    assert sorted(p.name for p in path.iterdir()) == ["B04.tif", "B08.tif", "S2A_13TDE_20231008_0_L2A.json"]
    assert (path / "B04.tif").read_bytes() == cog
    fetched = sorted(p for p, _ in server.requests)
    assert fetched == sorted([self_href.removeprefix(server.base), *(
        item["assets"][k]["href"].removeprefix(server.base) for k in ("red", "nir"))])  # fmt: skip
    local_item = json.loads((path / "S2A_13TDE_20231008_0_L2A.json").read_text())
    assert local_item["assets"]["red"]["href"] == "./B04.tif"
    assert local_item["assets"]["blue"]["href"] == item["assets"]["blue"]["href"], "not fetched: kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "no staging folder left"


def test_a_checksum_mismatch_is_the_next_providers_turn(
    server: FaultServer, shared_fixtures: Path, cog: bytes, tmp_path: Path
) -> None:
    recorded = _items(shared_fixtures)["sentinel-2-l2a"]
    # file:checksum (STAC file extension): a sha2-256 multihash, here of other bytes than served.
    recorded["assets"]["red"]["file:checksum"] = "1220" + hashlib.sha256(b"other bytes").hexdigest()
    item, scene, _ = _served(recorded, server)
    _serve_cogs(server, item, cog)
    with pytest.raises(ChecksumMismatchError, match="red"):
        StacAssetsDownloader(stores=ObjectStores()).download(scene, tmp_path, assets=["red"])
    assert not (tmp_path / "S2A_13TDE_20231008_0_L2A").exists()


def test_a_right_checksum_passes(
    server: FaultServer, shared_fixtures: Path, cog: bytes, tmp_path: Path
) -> None:
    recorded = _items(shared_fixtures)["sentinel-2-l2a"]
    recorded["assets"]["red"]["file:checksum"] = "1220" + hashlib.sha256(cog).hexdigest()
    recorded["assets"]["red"]["file:size"] = len(cog)
    item, scene, _ = _served(recorded, server)
    _serve_cogs(server, item, cog)
    path = StacAssetsDownloader(stores=ObjectStores()).download(scene, tmp_path, assets=["red"])
    assert (path / "B04.tif").read_bytes() == cog


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    with moto_s3() as server:
        server.create_bucket("usgs-landsat")
        yield server


def test_landsat_assets_a_graph_reads_come_from_requester_pays_s3_by_default(
    server: FaultServer, s3: MotoS3, shared_fixtures: Path, cog: bytes, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    item, scene, _ = _served(_items(shared_fixtures)["landsat-c2-l2"], server)
    wanted = default_assets(item)
    # the bands, the MTL (its scale and offset) and the QA mask; no thumbnail, browse or saturation mask
    assert {"red", "lwir11", "mtl.json", "qa_pixel"} <= set(wanted)
    assert not {"thumbnail", "reduced_resolution_browse", "qa_radsat"} & set(wanted)
    for key in wanted:
        s3.put("usgs-landsat", item["assets"][key]["href"].removeprefix("s3://usgs-landsat/"), cog)
    with fault_proxy(s3.endpoint) as proxy:
        stores = ObjectStores(s3_endpoint_url=proxy.endpoint, s3_requester_pays=True)
        path = StacAssetsDownloader(stores=stores).download(scene, tmp_path)
    names = sorted(p.name for p in path.iterdir())
    assert len(names) == len(wanted) + 1 and f"{item['id']}.json" in names
    assert any(n.endswith("_MTL.json") for n in names) and not any(
        n.endswith("_thumb_small.jpeg") for n in names
    )
    gets = [p for m, p, h in proxy.requests if m == "GET"]
    assert len(gets) == len(wanted), "only the assets wanted"
    payer = {{k.lower(): v for k, v in h.items()}.get("x-amz-request-payer") for m, p, h in proxy.requests}
    assert payer == {"requester"}, "requester-pays on every request to the bucket"


def test_the_default_leaves_out_earth_searchs_jpeg2000_copies_and_a_jobs_choice_wins(
    server: FaultServer, shared_fixtures: Path, cog: bytes, tmp_path: Path
) -> None:
    recorded = _items(shared_fixtures)["sentinel-2-l2a"]
    wanted = default_assets(recorded)
    assert "red" in wanted and "red-jp2" not in wanted and "granule_metadata" in wanted
    assert "visual" not in wanted and "thumbnail" not in wanted
    item, scene, _ = _served(recorded, server)
    _serve_cogs(server, item, cog)
    path = StacAssetsDownloader(stores=ObjectStores(), assets=["nir"]).download(scene, tmp_path)
    assert sorted(p.name for p in path.iterdir()) == sorted(["B08.tif", f"{item['id']}.json"])


def test_garbage_at_the_item_link_is_a_typed_error(
    server: FaultServer, shared_fixtures: Path, tmp_path: Path
) -> None:
    _, scene, self_href = _served(_items(shared_fixtures)["sentinel-2-l2a"], server)
    server.routes[self_href.removeprefix(server.base)] = Route(b"<html>maintenance</html>")
    with pytest.raises(ProductNotFoundError, match="is not JSON"):
        StacAssetsDownloader(stores=ObjectStores()).download(scene, tmp_path)
    server.routes[self_href.removeprefix(server.base)] = Route(b'{"type": "FeatureCollection"}')
    with pytest.raises(ProductNotFoundError, match="is not a STAC item"):
        StacAssetsDownloader(stores=ObjectStores()).download(scene, tmp_path)


def test_unknown_assets_and_scenes_without_an_item_link(
    server: FaultServer, shared_fixtures: Path, tmp_path: Path
) -> None:
    _, scene, _ = _served(_items(shared_fixtures)["sentinel-2-l2a"], server)
    with pytest.raises(ProductNotFoundError, match=r"no asset B04; it has: aot, aot-jp2, blue"):
        StacAssetsDownloader(stores=ObjectStores()).download(scene, tmp_path, assets=["B04"])
    bare = scene.model_copy(update={"metadata": {}})
    with pytest.raises(ProductNotFoundError, match="no STAC item link"):
        StacAssetsDownloader(stores=ObjectStores()).download(bare, tmp_path)


def test_multihash_checksums() -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    assert multihash_checksums("1220" + digest) == {"sha256": digest}
    assert multihash_checksums("d50110" + "ab" * 16) == {"md5": "ab" * 16}
    assert multihash_checksums("1220abcd") == {}, "length does not match"
    assert multihash_checksums("zz") == {} and multihash_checksums(None) == {}
