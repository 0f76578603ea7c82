"""The download job on a generated product: provider chain, scene graph, storage, re-run skip."""

from __future__ import annotations

from pathlib import Path

from catalogue.models import Constellation, Scene
from catalogue.tiles import scene_tiles
from common.settings import Settings
from demo.archive import make_demo_archive
from jobs.download import run_scene_job
from jobs.models import SceneJob


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

    # The archive is gone: a second run must not need it.
    product.zip_path.unlink()
    second = run_scene_job(job, settings)
    assert second.message == "already in storage" and second.stored == first.stored


def test_graph_config_layers_the_deployment_the_graph_and_the_payload() -> None:
    from graphs.loader import load_graph
    from jobs.config import graph_config

    graph = load_graph("ExtractS2Bands")
    config = graph_config(graph, {"dformat_out": "uint16,0,1000,11000"}, Settings(step_timeout_s=90))
    assert config["step_timeout_s"] == "90"
    assert config["dformat_out"] == "uint16,0,1000,11000"
    assert graph_config(graph, {}, Settings())["dformat_out"] == graph.config["dformat_out"]
