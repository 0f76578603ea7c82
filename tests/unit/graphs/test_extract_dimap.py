"""extract_dimap.py and the Phr*/Spot* graphs on generated DIMAP bundles (tests/support/dimap_product.py).

The MS and P COGs must keep the products' CRS, geotransform, pixel type and values; the graphs carry the
original's in/out files and default config (original-ingester.md §5.12), except SpotProcessing's P, read
from T0 and not T1 (§9 defect 19).
"""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import rasterio

from common.dataformat import DataFormat
from geocube_client.client import GeocubeClient
from geocube_client.models import NewRecord
from graphs.cog import is_valid_cog
from graphs.context import TileContext
from graphs.execute import execute_graph, select_in_files
from graphs.loader import GRAPHS_DIR, LIBRARY_DIR, load_graph_file
from graphs.model import Action, Graph
from jobs.verify import verify_aoi
from storage import LocalStorage
from storage.layout import import_layer, save_layer
from tests.support.dimap_product import GeneratedImage, make_dimap_product
from tests.unit.graphs.scripts import load_graph_script

SCRIPT = GRAPHS_DIR / "python" / "extract_dimap.py"
SCENE = "DS_PHR1A_201909101053025_FR1_PX_E001N43_0720_01234"
INSIDE_TOULOUSE = "POLYGON ((1.40 43.50, 1.60 43.50, 1.60 43.70, 1.40 43.70, 1.40 43.50))"
DIMAP_GRAPHS = ("PhrPreProcessing", "SpotPreProcessing", "PhrProcessing", "SpotProcessing")


def dimap_graph(name: str) -> Graph:
    """One of the four library graphs, read as the loader reads a built-in (commands under graphs/)."""
    return load_graph_file(LIBRARY_DIR / f"{name}.json", command_roots=(GRAPHS_DIR,), source=name)


def tiles(scene: str = SCENE, *, previous: str | None = None) -> tuple[TileContext, TileContext, TileContext]:
    t0 = TileContext(tile_id=scene, scene_id=scene, date=datetime(2019, 9, 10, 10, 53, 2, tzinfo=UTC))
    if previous is None:
        return (t0, t0, t0)
    t1 = TileContext(tile_id=previous, scene_id=previous, date=datetime(2019, 8, 1, tzinfo=UTC))
    return (t0, t1, t0)


@pytest.fixture(scope="module")
def extract_dimap() -> ModuleType:
    return load_graph_script("extract_dimap")


def assert_same_image(cog: Path, expected: GeneratedImage) -> None:
    assert is_valid_cog(cog), cog
    with rasterio.open(cog) as out:
        assert out.driver == "GTiff"
        assert out.crs == expected.crs
        assert out.transform == expected.transform
        assert (out.count, out.height, out.width) == expected.pixels.shape
        assert set(out.dtypes) == {"uint16"}
        assert out.nodata == 0
        np.testing.assert_array_equal(out.read(), expected.pixels)


def test_ms_and_p_become_cogs_with_their_georeferencing(tmp_path: Path, extract_dimap: ModuleType) -> None:
    product = make_dimap_product(tmp_path / "delivery", pan_tiles_per_side=2)
    ms, pan = tmp_path / "MS.tif", tmp_path / "P.tif"
    argv = ["--workdir", str(tmp_path), "--file-ms-out", str(ms), "--file-pan-out", str(pan)]
    assert extract_dimap.main([*argv, "--constellation", "PHR"]) == 0
    assert_same_image(ms, product.ms)
    assert_same_image(pan, product.pan)
    with rasterio.open(ms) as dataset:
        assert dataset.count == 4 and dataset.res == (2.0, 2.0)
    with rasterio.open(pan) as dataset:
        assert dataset.count == 1 and dataset.res == (0.5, 0.5)


@pytest.mark.slow  # a python start: about 1.3 s
def test_the_command_line_of_the_original_on_a_spot_bundle_of_jpeg2000_tiles(tmp_path: Path) -> None:
    product = make_dimap_product(tmp_path, constellation="SPOT", image_format="JP2", ms_size=32)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), f"--workdir={tmp_path}", "--file-ms-out=MS.tif", "--file-pan-out=P.tif",
         "--constellation", "SPOT"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "INFO: MS: DIM_SPOT6_MS_" in result.stdout
    assert "4 band(s) 32x32 uint16, EPSG:32631, 6 m" in result.stdout
    assert_same_image(tmp_path / "MS.tif", product.ms)
    assert_same_image(tmp_path / "P.tif", product.pan)


def test_a_delivery_without_dimap_is_a_fatal_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), f"--workdir={tmp_path}", "--file-ms-out=MS.tif", "--file-pan-out=P.tif",
         "--constellation=PHR"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("FATAL ERROR: no DIMAP volume (VOL_PHR.XML)")
    assert not (tmp_path / "MS.tif").exists()


def test_the_four_graphs_have_the_originals_files_and_config() -> None:
    for name in DIMAP_GRAPHS:
        graph = dimap_graph(name)
        assert graph.config == {"dformat_out": "Int16,0,0,32767"}
        if name.endswith("PreProcessing"):
            (step,) = graph.processing_steps
            assert (step.engine, step.command) == ("python", "python/extract_dimap.py")
            assert step.args["constellation"].value == name.removesuffix("PreProcessing").upper()
            assert graph.in_files == [[], [], []]
            assert [(o.layer, o.extension, o.action) for o in graph.out_files[0]] == [
                ("MS", "tif", Action.TO_CREATE), ("P", "tif", Action.TO_CREATE)
            ]  # fmt: skip
        else:
            assert graph.processing_steps == []
            assert [(f.layer, f.extension) for f in graph.in_files[0]] == [("MS", "tif"), ("P", "tif")]
            assert graph.in_files[1:] == [[], []]
            out = graph.out_files[0]
            assert [(o.layer, o.action, o.nbands, o.ext_min_value, o.ext_max_value) for o in out] == [
                ("MS", Action.TO_INDEX, 4, 0.0, 1.0), ("P", Action.TO_INDEX, 1, 0.0, 1.0)
            ]  # fmt: skip


def test_spot_processing_reads_p_from_this_tile_not_the_previous_one() -> None:
    """The original's SpotProcessing imports P.tif from T1 (§9 defect 19): ours from T0."""
    linked = tiles(previous="DS_SPOT6_201908011030000_FR1_FR1_FR1_FR1_E001N43_01234")
    for name in ("SpotProcessing", "PhrProcessing"):
        selected = select_in_files(dimap_graph(name), tiles=linked)
        assert [(f.tile_index, f.layer) for f in selected] == [(0, "MS"), (0, "P")]


def test_phr_preprocessing_then_phr_processing_through_storage(tmp_path: Path) -> None:
    """The scene graph stores MS and P; the tile graph imports them and indexes MS (4 bands) and P (1)."""
    storage = LocalStorage(tmp_path / "store")
    t0 = tiles()[0]
    product = make_dimap_product(tmp_path / "download" / "delivery")

    scene = execute_graph(
        dimap_graph("PhrPreProcessing"), tiles=tiles(), workdir=tmp_path / "download", config={},
        is_retriable=False,
    )  # fmt: skip
    assert scene.error is None
    created = [f for f in scene.out_files if f.action is Action.TO_CREATE]
    assert [f.file_name for f in created] == [f"20190910_{SCENE}_MS.tif", f"20190910_{SCENE}_P.tif"]
    for out in created:
        save_layer(storage, tmp_path / "download", t0.layer_ref("Toulouse", out.layer, out.extension))

    workdir = tmp_path / "process"
    workdir.mkdir()
    graph = dimap_graph("PhrProcessing")
    for in_file in select_in_files(graph, tiles=tiles()):
        ref = tiles()[in_file.tile_index].layer_ref("Toulouse", in_file.layer, in_file.extension)
        import_layer(storage, workdir, ref)
    outcome = execute_graph(graph, tiles=tiles(), workdir=workdir, config={}, is_retriable=False)
    assert outcome.error is None
    indexed = {f.layer: f for f in outcome.out_files if f.action is Action.TO_INDEX}
    assert sorted(indexed) == ["MS", "P"]
    assert (indexed["MS"].nbands, indexed["P"].nbands) == (4, 1)
    for out in indexed.values():
        assert out.dformat == DataFormat("int16", 0.0, 0.0, 32767.0)
        assert (out.ext_min_value, out.ext_max_value, out.exponent) == (0.0, 1.0, 1.0)
    assert_same_image(workdir / indexed["MS"].file_name, product.ms)
    assert_same_image(workdir / indexed["P"].file_name, product.pan)


def test_a_graph_config_overrides_the_default_dformat(tmp_path: Path) -> None:
    outcome = execute_graph(
        dimap_graph("SpotProcessing"), tiles=tiles(), workdir=tmp_path,
        config={"dformat_out": "uint16,0,0,4095"}, is_retriable=True,
    )  # fmt: skip
    assert outcome.error is None
    assert {str(f.dformat) for f in outcome.out_files} == {"uint16,0,0,4095"}


def test_a_failed_extraction_is_fatal_and_creates_nothing(tmp_path: Path) -> None:
    make_dimap_product(tmp_path, spectral=("P", "P"))
    outcome = execute_graph(
        dimap_graph("PhrPreProcessing"), tiles=tiles(), workdir=tmp_path, config={}, is_retriable=True
    )
    assert outcome.is_fatal
    assert "FATAL ERROR:" in str(outcome.error) and "no multispectral product" in str(outcome.error)
    assert outcome.out_files == []


@pytest.mark.integration
def test_ms_and_p_indexed_in_a_geocube_read_back_equal(tmp_path: Path, local_geocube: str) -> None:
    """PhrPreProcessing, then PhrProcessing's index: the Geocube serves MS (4 bands) and P as their files."""
    storage = LocalStorage(tmp_path / "store")
    workdir = tmp_path / "download"
    make_dimap_product(workdir / "delivery", ms_size=32)
    scene = execute_graph(
        dimap_graph("PhrPreProcessing"), tiles=tiles(), workdir=workdir, config={}, is_retriable=False
    )
    assert scene.error is None
    t0 = tiles()[0]
    graph = dimap_graph("PhrProcessing")
    selected = execute_graph(graph, tiles=tiles(), workdir=workdir, config={}, is_retriable=False)
    assert selected.error is None
    with GeocubeClient(local_geocube, insecure=True) as geocube:
        aoi_id = geocube.create_aoi(INSIDE_TOULOUSE)
        (record_id,) = geocube.create_records([NewRecord(name=SCENE, time=t0.date, aoi_id=aoi_id)])
        variables = {"MS": ("DimapTest_MS", ["B0", "B1", "B2", "B3"]), "P": ("DimapTest_P", ["P"])}
        for out in selected.out_files:
            name, bands = variables[out.layer]
            variable_id = geocube.create_variable(
                name=name, bands=bands, dformat=DataFormat("float32", math.nan, 0.0, 1.0)
            )
            instance = geocube.instantiate_variable(variable_id, "default")
            uri = save_layer(storage, workdir, t0.layer_ref("DimapTest", out.layer, out.extension))
            assert out.dformat is not None
            geocube.index_dataset(
                uri=uri, record_id=record_id, instance_id=instance.id, bands=list(range(1, out.nbands + 1)),
                dformat=out.dformat, real_min_value=out.ext_min_value, real_max_value=out.ext_max_value,
            )  # fmt: skip
        report = verify_aoi(geocube, storage, "DimapTest")
    assert sorted((c.variable, c.outcome.value) for c in report.checks) == [
        ("DimapTest_MS", "equal"), ("DimapTest_P", "equal")
    ]  # fmt: skip
