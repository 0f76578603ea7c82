"""ExtractS2Bands and its script on real JPEG2000 bands: outputs are valid COGs with the source's pixels."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import rasterio

from common.dataformat import DataFormat
from graphs.cog import is_valid_cog
from graphs.errors import GraphFatalError
from graphs.execute import execute_graph, select_in_files
from graphs.loader import GRAPHS_DIR, load_graph
from graphs.model import Action
from storage import LocalStorage
from storage.layout import PRODUCT_LAYER, LayerRef, delete_layer, import_layer, layer_key, save_layer
from tests.unit.graphs.safe_trees import (
    L1C_BANDS,
    S2_L1C,
    copy_real_band_safe,
    make_l1c_safe,
    make_l2a_safe,
    s2_tile,
)
from tests.unit.graphs.scripts import load_graph_script

SCRIPT = GRAPHS_DIR / "python" / "extract_s2.py"


@pytest.fixture(scope="module")
def extract_s2() -> ModuleType:
    return load_graph_script("extract_s2")


def assert_same_raster(cog: Path, source: Path) -> None:
    assert is_valid_cog(cog), cog
    with rasterio.open(cog) as out, rasterio.open(source) as src:
        assert out.driver == "GTiff"
        assert out.crs == src.crs
        assert out.transform == src.transform
        assert (out.width, out.height, out.dtypes) == (src.width, src.height, src.dtypes)
        assert out.nodata == 0
        np.testing.assert_array_equal(out.read(), src.read())


def test_extract_s2_bands_graph_on_an_l1c_product(tmp_path: Path) -> None:
    safe = make_l1c_safe(tmp_path)
    outcome = execute_graph(
        load_graph("ExtractS2Bands"), tiles=s2_tile(), workdir=tmp_path, config={}, is_retriable=False
    )
    assert outcome.error is None
    indexed = [f for f in outcome.out_files if f.action is Action.TO_INDEX]
    assert sorted(f.layer for f in indexed) == sorted(L1C_BANDS)
    for out in indexed:
        assert out.file_name == f"20180101_{S2_L1C}_{out.layer}.tif"
        assert out.dformat == DataFormat("uint16", 0.0, 0.0, 10000.0)
        assert (out.ext_min_value, out.ext_max_value, out.exponent, out.nbands) == (0.0, 1.0, 1.0, 1)
        source = next(safe.rglob(f"*_{out.layer}.jp2"))
        assert_same_raster(tmp_path / out.file_name, source)
    deleted = [(f.layer, f.extension) for f in outcome.out_files if f.action is Action.TO_DELETE]
    assert deleted == [(PRODUCT_LAYER, "SAFE")]


def test_l2a_takes_the_best_resolution_of_each_band(tmp_path: Path, extract_s2: ModuleType) -> None:
    make_l2a_safe(tmp_path)
    bands = extract_s2.find_bands(tmp_path)
    assert {band: path.parent.name for band, path in bands.items()} == {
        "B01": "R20m",
        "B02": "R10m",
        "B03": "R10m",
        "B04": "R10m",
        "B05": "R20m",
        "B08": "R10m",
        "B8A": "R20m",
        "B09": "R60m",
    }
    assert extract_s2.main(["--workdir", str(tmp_path), "--pattern-out", str(tmp_path / "out_*.tif")]) == 0
    assert sorted(p.name for p in tmp_path.glob("out_*.tif")) == sorted(f"out_{b}.tif" for b in bands)
    assert_same_raster(tmp_path / "out_B01.tif", bands["B01"])


def test_l2a_out_files_are_the_bands_present(tmp_path: Path) -> None:
    make_l2a_safe(tmp_path)
    tiles = s2_tile()
    outcome = execute_graph(
        load_graph("ExtractS2Bands"), tiles=tiles, workdir=tmp_path, config={}, is_retriable=True
    )
    assert outcome.error is None
    layers = [f.layer for f in outcome.out_files if f.action is Action.TO_INDEX]
    assert layers == ["B01", "B02", "B03", "B04", "B05", "B08", "B8A", "B09"]  # no B10 in L2A: not indexed


def test_no_band_is_a_fatal_error_that_deletes_the_product(tmp_path: Path) -> None:
    (tmp_path / f"{S2_L1C}.SAFE" / "GRANULE").mkdir(parents=True)
    outcome = execute_graph(
        load_graph("ExtractS2Bands"), tiles=s2_tile(), workdir=tmp_path, config={}, is_retriable=True
    )
    assert isinstance(outcome.error, GraphFatalError)
    assert f"FATAL ERROR: no band found in {tmp_path.resolve()}" in str(outcome.error)
    assert [(f.layer, f.extension, f.action) for f in outcome.out_files] == [
        (PRODUCT_LAYER, "SAFE", Action.TO_DELETE)
    ]


def test_real_sentinel2_band_becomes_a_cog(tmp_path: Path, real_s2_band: Path) -> None:
    source = copy_real_band_safe(real_s2_band, tmp_path)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), f"--workdir={tmp_path}", f"--pattern-out=20180101_{S2_L1C}_*.tif"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "INFO: B01: T31TDH_20180101T105441_B01.jp2" in result.stdout
    cog = tmp_path / f"20180101_{S2_L1C}_B01.tif"
    assert_same_raster(cog, source)
    with rasterio.open(cog) as ds:
        assert (ds.width, ds.height) == (1830, 1830)
        assert ds.res == (60.0, 60.0)
        assert ds.crs.to_epsg() == 32631
        # Successive halvings down to one 512-px tile; how many below that depends on the GDAL version
        # (its COG driver reuses a JPEG2000 source's resolution levels since 3.x).
        factors = ds.overviews(1)
        assert factors[:2] == [2, 4] and all(b == 2 * a for a, b in itertools.pairwise(factors))
        assert math.ceil(1830 / factors[-1]) <= 512


def test_the_originals_graph_still_copies_jp2(tmp_path: Path, original_graphs: Path) -> None:
    """The original's ExtractS2Bands.json (pattern *.jp2) runs with our script, which copies the files."""
    safe = make_l1c_safe(tmp_path)
    graph = load_graph(str(original_graphs / "ExtractS2Bands.json"))
    outcome = execute_graph(graph, tiles=s2_tile(), workdir=tmp_path, config={}, is_retriable=True)
    assert outcome.error is None
    b04 = next(f for f in outcome.out_files if f.layer == "B04")
    assert b04.dformat is not None and b04.dformat.dtype == "uint16"
    assert (tmp_path / b04.file_name).read_bytes() == next(safe.rglob("*_B04.jp2")).read_bytes()


def test_a_users_copy_of_the_original_runs_as_written_with_its_config_overridable(
    tmp_path: Path, original_graphs: Path
) -> None:
    root, workdir = tmp_path / "graphs", tmp_path / "work"
    (root / "library").mkdir(parents=True)
    (root / "library" / "ExtractS2Bands.json").write_bytes(
        (original_graphs / "ExtractS2Bands.json").read_bytes()
    )
    make_l1c_safe(workdir)
    graph = load_graph("ExtractS2Bands", graph_root=root)
    outcome = execute_graph(
        graph, tiles=s2_tile(), workdir=workdir, config={"dformat_out": "uint16,0,1,10000"}, is_retriable=True
    )
    assert outcome.error is None
    indexed = [f for f in outcome.out_files if f.action == "to_index"]
    assert sorted(f.layer for f in indexed) == [f"B{n:02d}" for n in range(1, 13)]  # no B8A, as written
    assert all(f.extension == "jp2" and (workdir / f.file_name).is_file() for f in indexed)
    assert {str(f.dformat) for f in indexed} == {"uint16,0,1,10000"}  # graph_config overrides its config


def test_copy_then_extract_through_storage(tmp_path: Path) -> None:
    """CopyProductToStorage stores the product; ExtractS2Bands imports it, indexes bands, deletes it."""
    storage = LocalStorage(tmp_path / "store")
    t0 = s2_tile()[0]
    where: dict[str, Any] = {"aoi": "MyAOI", "scene_id": t0.scene_id, "tile_id": t0.tile_id, "date": t0.date}

    download_dir = tmp_path / "download"
    make_l1c_safe(download_dir, {"B02": 10, "B8A": 20})
    copy = execute_graph(
        load_graph("CopyProductToStorage"),
        tiles=s2_tile(),
        workdir=download_dir,
        config={},
        is_retriable=True,
    )
    (stored,) = copy.out_files
    save_layer(storage, download_dir, LayerRef(**where, layer=stored.layer, ext=stored.extension))

    workdir = tmp_path / "process"
    workdir.mkdir()
    graph = load_graph("library/graph/ExtractS2Bands.json")
    for in_file in select_in_files(graph, tiles=s2_tile()):
        import_layer(storage, workdir, LayerRef(**where, layer=in_file.layer, ext=in_file.extension))
    outcome = execute_graph(graph, tiles=s2_tile(), workdir=workdir, config={}, is_retriable=True)
    assert outcome.error is None
    uris = [
        save_layer(storage, workdir, LayerRef(**where, layer=f.layer, ext=f.extension))
        for f in outcome.out_files
        if f.action is Action.TO_INDEX
    ]
    assert [Path(u).name for u in uris] == [f"20180101_{S2_L1C}_B02.tif", f"20180101_{S2_L1C}_B8A.tif"]
    assert all(is_valid_cog(u) for u in uris)
    for f in outcome.out_files:
        if f.action is Action.TO_DELETE:
            assert delete_layer(storage, LayerRef(**where, layer=f.layer, ext=f.extension)) is True
    assert not storage.exists(layer_key(**where, layer=PRODUCT_LAYER, ext="*"))


def test_only_the_bands_the_job_wants_are_written(tmp_path: Path) -> None:
    """A payload indexing 2 of 13 bands gets 2 COGs written, not 13 (config ``wanted_layers``)."""
    make_l1c_safe(tmp_path)
    outcome = execute_graph(
        load_graph("ExtractS2Bands"), tiles=s2_tile(), workdir=tmp_path,
        config={"wanted_layers": "B04,B08,B99"}, is_retriable=False,
    )  # fmt: skip
    assert outcome.error is None
    indexed = sorted(f.layer for f in outcome.out_files if f.action is Action.TO_INDEX)
    assert indexed == ["B04", "B08"]
    assert sorted(p.name for p in tmp_path.glob("*.tif")) == [
        f"20180101_{S2_L1C}_B04.tif",
        f"20180101_{S2_L1C}_B08.tif",
    ]
