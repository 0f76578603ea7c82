"""The download job on a generated product: provider chain, scene graph, storage, re-run skip."""

from __future__ import annotations

import http.server
import json
import threading
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import storage.local
from catalogue.models import Constellation, Scene
from catalogue.tiles import scene_tiles
from common.settings import Settings
from demo.archive import make_demo_archive
from jobs.download import run_scene_job
from jobs.models import SceneJob
from providers.errors import AllProvidersFailedError


def test_product_is_stored_once_and_a_rerun_does_not_download_again(tmp_path: Path) -> None:
    (product,) = make_demo_archive(tmp_path / "demo", dates=None)[:1]
    scene = Scene(
        source_id=product.source_id,
        date=product.date,
        constellation=Constellation.SENTINEL2,
        footprint_wkt="POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))",
    )
    job = SceneJob(
        aoi="A",
        scene=scene,
        tiles=scene_tiles(scene),
        graph_name="CopyProductToStorage",
        storage_uri=str(tmp_path / "storage"),
    )
    settings = Settings(
        providers="local", local_archive=str(tmp_path / "demo" / "archive"), workdir=tmp_path / "work"
    )
    first = run_scene_job(job, settings)
    stored = (
        tmp_path / "storage" / "A" / scene.source_id / "tiles" / scene.source_id / f"{scene.source_id}.zip"
    )
    assert first.provider == "local" and first.stored == [str(stored)]
    assert stored.is_file() and list((tmp_path / "work").iterdir()) == []
    assert stored.read_bytes() == product.zip_path.read_bytes(), "stored as it arrived, not zipped again"
    assert first.message.startswith("downloaded by local (") and first.message.endswith(
        "MB/s), stored as it arrived"
    )
    assert first.bytes_fetched == product.zip_path.stat().st_size

    # The archive is gone: a second run must not need it.
    product.zip_path.unlink()
    second = run_scene_job(job, settings)
    assert second.message == "already in storage" and second.stored == first.stored


def _job(tmp_path: Path, scene: Scene) -> SceneJob:
    return SceneJob(
        aoi="A",
        scene=scene,
        tiles=scene_tiles(scene),
        graph_name="CopyProductToStorage",
        storage_uri=str(tmp_path / "storage"),
    )


def _scene(source_id: str, date: datetime, **metadata: str) -> Scene:
    return Scene(
        source_id=source_id,
        date=date,
        constellation=Constellation.SENTINEL2,
        footprint_wkt="POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))",
        metadata=metadata,
    )


def _stored(tmp_path: Path, scene: Scene) -> Path:
    return tmp_path / "storage" / "A" / scene.source_id / "tiles" / scene.source_id / f"{scene.source_id}.zip"


@pytest.mark.integration
def test_a_downloaded_product_is_moved_into_storage_not_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (product,) = make_demo_archive(tmp_path / "demo", dates=None)[:1]
    body = product.zip_path.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    copies: list[Path] = []
    real_copy = storage.local.copy_atomically
    monkeypatch.setattr(storage.local, "copy_atomically", lambda s, d: (copies.append(s), real_copy(s, d)))
    try:
        link = f"http://127.0.0.1:{server.server_port}/odata/v1/Products(1)/$value?token=SECRET"
        scene = _scene(product.source_id, product.date, download_link=link)
        result = run_scene_job(_job(tmp_path, scene), Settings(providers="url", workdir=tmp_path / "work"))
    finally:
        server.shutdown()
        server.server_close()
    assert result.message.endswith(", stored as it arrived") and result.bytes_fetched == len(body)
    assert _stored(tmp_path, scene).read_bytes() == body
    assert copies == [], "renamed into a storage on the same disk"
    assert list((tmp_path / "work").iterdir()) == []


def test_an_archive_with_extra_entries_is_unpacked_once_and_stored_without_them(tmp_path: Path) -> None:
    (product,) = make_demo_archive(tmp_path / "demo", dates=None)[:1]
    with zipfile.ZipFile(product.zip_path, "a") as zf:
        zf.writestr(f"__MACOSX/{product.source_id}.SAFE/._manifest.safe", b"fork")
    settings = Settings(
        providers="local", local_archive=str(tmp_path / "demo" / "archive"), workdir=tmp_path / "work"
    )
    scene = _scene(product.source_id, product.date)
    result = run_scene_job(_job(tmp_path, scene), settings)
    assert result.message.startswith("downloaded by local (")
    assert result.message.endswith(", unpacked for the scene graph")
    with zipfile.ZipFile(_stored(tmp_path, scene)) as zf:
        names = zf.namelist()
    assert names and all(n.startswith(f"{product.source_id}.SAFE/") for n in names)


def test_a_corrupt_archive_is_refused_before_anything_is_stored_and_the_next_provider_tried(
    tmp_path: Path,
) -> None:
    (product,) = make_demo_archive(tmp_path / "demo", dates=None)[:1]
    good = product.zip_path.read_bytes()
    data = bytearray(good)
    data[len(data) // 3] ^= 0xFF
    corrupt = tmp_path / "elsewhere" / product.zip_path.name
    corrupt.parent.mkdir()
    corrupt.write_bytes(bytes(data))
    scene = _scene(product.source_id, product.date, download_link=str(corrupt))
    only_url = Settings(providers="url", workdir=tmp_path / "work")
    with pytest.raises(AllProvidersFailedError, match=r"url: .*not a valid zip"):
        run_scene_job(_job(tmp_path, scene), only_url)
    assert not _stored(tmp_path, scene).exists()
    assert list((tmp_path / "work").iterdir()) == [] and corrupt.is_file(), "a user's file is never removed"

    then_local = Settings(
        providers="url,local", local_archive=str(tmp_path / "demo" / "archive"), workdir=tmp_path / "work"
    )
    result = run_scene_job(_job(tmp_path, scene), then_local)
    assert result.provider == "local" and _stored(tmp_path, scene).read_bytes() == good


def test_graph_config_layers_the_deployment_the_graph_and_the_payload() -> None:
    from graphs.loader import load_graph
    from jobs.config import graph_config

    graph = load_graph("ExtractS2Bands")
    config = graph_config(graph, {"dformat_out": "uint16,0,1000,11000"}, Settings(step_timeout_s=90))
    assert config["step_timeout_s"] == "90"
    assert config["dformat_out"] == "uint16,0,1000,11000"
    assert graph_config(graph, {}, Settings())["dformat_out"] == graph.config["dformat_out"]


@pytest.mark.integration
def test_a_retry_resumes_the_part_the_failed_attempt_left(tmp_path: Path) -> None:
    from providers.errors import DownloadTemporaryError
    from tests.support.fault_http import Route, fault_server

    (product,) = make_demo_archive(tmp_path / "demo", dates=None)[:1]
    body = product.zip_path.read_bytes()
    cut = len(body) // 2
    settings = Settings(providers="url", workdir=tmp_path / "work")
    with fault_server() as server:
        # the first attempt is cut again and again, past the resumes one call allows
        server.routes["/p.zip"] = Route(body, script=[{"cut_at": cut}] + [{"cut_at": 0}] * 10)
        scene = _scene(product.source_id, product.date, download_link=f"{server.base}/p.zip")
        with pytest.raises(DownloadTemporaryError):
            run_scene_job(_job(tmp_path, scene), settings)
        parts = list((tmp_path / "work" / "downloads").rglob("*.part"))
        kept = parts[0].stat().st_size if len(parts) == 1 else 0
        assert 0 < kept <= cut, "kept for the retry"
        server.routes["/p.zip"].script.clear()
        result = run_scene_job(_job(tmp_path, scene), settings)
        resumed_at = int(server.requests[-1][1]["Range"].removeprefix("bytes=").rstrip("-"))
    assert result.message.endswith("stored as it arrived") and _stored(tmp_path, scene).read_bytes() == body
    assert resumed_at == kept, "the retry asked for the rest only"
    assert list((tmp_path / "work").iterdir()) == [], "the download folder goes once the scene is stored"


@pytest.mark.integration
def test_a_stac_items_assets_are_only_those_the_payloads_graph_config_names(tmp_path: Path) -> None:
    from tests.support.fault_http import Route, fault_server

    with fault_server() as server:
        item: dict[str, Any] = {
            "type": "Feature", "stac_version": "1.0.0", "id": "S2B_31TCJ_20240105_0_L2A",
            "properties": {"datetime": "2024-01-05T10:53:39Z"}, "geometry": None, "links": [],
            "assets": {
                "red": {"href": f"{server.base}/B04.tif", "roles": ["data", "reflectance"]},
                "nir": {"href": f"{server.base}/B08.tif", "roles": ["data", "reflectance"]},
            },
        }  # fmt: skip
        server.routes["/item.json"] = Route(json.dumps(item).encode())
        server.routes["/B04.tif"] = Route(b"red band")
        server.routes["/B08.tif"] = Route(b"nir band")
        scene = _scene(item["id"], datetime(2024, 1, 5, 10, 53, 39, tzinfo=UTC))
        scene = scene.model_copy(update={"metadata": {"stac_item_href": f"{server.base}/item.json"}})
        job = _job(tmp_path, scene).model_copy(update={"graph_config": {"assets": "red"}})
        result = run_scene_job(job, Settings(providers="stac-assets", workdir=tmp_path / "work"))
    assert result.provider == "stac-assets"
    assert "/B08.tif" not in {path for path, _ in server.requests}, "nir was not asked for"
    with zipfile.ZipFile(result.stored[0]) as stored:
        files = sorted(n for n in stored.namelist() if not n.endswith("/"))
    assert files == [f"{item['id']}/B04.tif", f"{item['id']}/{item['id']}.json"]


def test_a_tile_job_wants_the_layers_it_stores_and_those_it_indexes() -> None:
    from graphs.loader import load_graph
    from jobs.config import graph_config, wanted_layers
    from jobs.models import SceneRef, TileJob

    graph = load_graph("ExtractS2Bands")
    scene = _scene(
        "S2B_MSIL1C_20240105T105339_N0510_R051_T31TCJ_20240105T113820", datetime(2024, 1, 5, tzinfo=UTC)
    )
    (tile,) = scene_tiles(scene)
    job = TileJob(aoi="A", scene=SceneRef.of(scene), tile=tile, graph_name="ExtractS2Bands", storage_uri="/s",
                  instances_id={"B04": "i4", "B08": "i8", "NDVI": "x"})  # fmt: skip
    assert wanted_layers(graph, job) == ["B04", "B08"]
    config = graph_config(graph, {"wanted_layers": "*"}, Settings(), wanted_layers=["B04"])
    assert config["wanted_layers"] == "*", "the payload's graph_config has the last word"
    assert graph_config(graph, {}, Settings(), wanted_layers=["B04", "B08"])["wanted_layers"] == "B04,B08"
