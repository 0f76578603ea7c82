"""The original's S1BackscatterCoherence through the real graph runner (graphs.execute.execute_graph).

- snap variant: a stand-in ``gpt`` (tests/support/standin_exec.py) records its argv and writes the
  files its output parameters name (small float32 GeoTIFFs, DIMAP stand-ins); our erode_mask.py and
  convert.py then really run on those GeoTIFFs. The XML graphs are the original's, from the fixtures
  (GEOCUBE_INGESTER_SNAP_GRAPHS).
- python variant: no SNAP; σ⁰ of the real one-burst SAFE of the fixtures (the SLC crop of …62D6, see
  tests/support/s1_crop.py) by python/s1_backscatter.py, then convert.py to the original's mapping
  (float32,0,0,1 over 0..1).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.warp

from common.dataformat import DataFormat
from graphs import sentinel1 as s1
from graphs.context import TileContext
from graphs.dem import PROJ_DATA_ENV
from graphs.execute import GraphOutcome, execute_graph
from graphs.loader import load_graph
from graphs.model import Engine
from graphs.snap_engine import SNAP_GPT_ENV, SNAP_GRAPHS_ENV
from tests.support.dem import stand_in_geoid, write_flat_dem
from tests.support.s1_crop import make_crop_safe
from tests.support.standin_exec import Answer, StandIn, make_standin

SNAP = frozenset({Engine.PYTHON, Engine.CMD, Engine.SNAP})
NO_SNAP = frozenset({Engine.PYTHON, Engine.CMD})


def _tile(i: int, scene: str, day: int) -> TileContext:
    return TileContext(
        tile_id=f"T{i}", scene_id=scene, date=datetime(2022, 1, day, tzinfo=UTC), swath_id="IW1", tile_nr=4
    )


T0, T1, T2 = _tile(0, "S0", 25), _tile(1, "S1", 13), _tile(2, "S2", 1)


@pytest.fixture
def gpt(tmp_path: Path, shared_fixtures: Path, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    folder = shared_fixtures / "original-ingester" / "graphs" / "snap"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent: the original ingester's SNAP XML graphs are needed")
    monkeypatch.setenv(SNAP_GRAPHS_ENV, str(folder))
    writes = ["output", "outputVV", "outputVH"]
    standin = make_standin(
        tmp_path / "snap" / "bin", "gpt", {"*": Answer(lines=["INFO: done"], writes=writes)}
    )
    monkeypatch.setenv(SNAP_GPT_ENV, str(standin.path))
    return standin


def _run(tmp_path: Path, tiles: tuple[TileContext, TileContext, TileContext], **config: str) -> GraphOutcome:
    graph = load_graph("S1BackscatterCoherence", engines=SNAP)
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return execute_graph(graph, tiles=tiles, workdir=workdir, config=config, is_retriable=True)


def _params(argv: list[str]) -> dict[str, str]:
    return dict(a[2:].split("=", 1) for a in argv if a.startswith("-P"))


@pytest.mark.slow  # 13 steps, each a process that imports rasterio: about 10 s on 2 busy CPUs
def test_a_later_tile_runs_the_originals_steps_in_order(gpt: StandIn, tmp_path: Path) -> None:
    outcome = _run(tmp_path, (T0, T1, T2), snap_cpu_parallelism="8", bs_erode_iterations="10")
    assert outcome.error is None
    calls = gpt.argvs()
    assert [Path(argv[0]).name for argv in calls] == [
        "S1_SLC_BkG.xml",
        "S1_SLC_SlvExtract.xml",
        "S1_SLC_Deb_BetaSigma_ML_TC_RNKELL.xml",
        "S1_SLC_BkG.xml",
        "S1_SLC_Coh_BSel_Deb_ML_TC.xml",
    ]
    assert all(argv[1:5] == ["-x", "-q", "8", "-J-Xmx9000m"] for argv in calls)
    bkg, extract, backscatter, bkg2, coherence = (_params(argv) for argv in calls)
    assert (bkg["master"], bkg["slave"]) == ("20220101_T2_preprocessed.dim", "20220125_T0_preprocessed.dim")
    assert extract == {"input": "20220125_T0_coregistred.dim", "output": "20220125_T0_coregextract.dim"}
    assert (backscatter["img_suffix"], backscatter["swath"], backscatter["band"]) == (
        "25Jan2022",
        "IW1",
        "Sigma0",
    )
    assert (bkg2["master"], bkg2["slave"]) == ("20220125_T0_coregextract.dim", "20220113_T1_coregextract.dim")
    assert coherence["sel_date"] == "01Jan2022"  # the reference's date: T1 ≠ T2
    assert coherence["outputVV"] == "20220125_T0_coh_VV.tif"
    assert sorted((f.tile_index, f.file_name, f.action.value) for f in outcome.out_files) == [
        (0, "20220125_T0_coh_VH.tif", "to_index"),
        (0, "20220125_T0_coh_VV.tif", "to_index"),
        (0, "20220125_T0_coregextract.dim", "to_create"),
        (0, "20220125_T0_preprocessed.dim", "to_delete"),
        (0, "20220125_T0_sigma0_VH.tif", "to_index"),
        (0, "20220125_T0_sigma0_VV.tif", "to_index"),
        (1, "20220113_T1_coregextract.dim", "to_delete"),
    ]
    indexed = [f for f in outcome.out_files if f.action.value == "to_index"]
    assert {(f.dformat, f.ext_min_value, f.ext_max_value) for f in indexed} == {
        (DataFormat("float32", 0, 0, 1), 0.0, 1.0)
    }
    # erode_mask.py (10 pixels inside the stand-in's 6-column nodata border) then convert.py ran
    with rasterio.open(tmp_path / "work" / "20220125_T0_sigma0_VV.tif") as dataset:
        values = dataset.read(1)
        assert (dataset.nodata, dataset.dtypes[0], dataset.profile["tiled"]) == (0.0, "float32", True)
    assert (values[:, :16] == 0).all() and (values[:, 16:] > 0).all()
    assert values[20, 30] == pytest.approx(0.75)


@pytest.mark.slow  # 6 steps, each a process that imports rasterio
def test_a_root_is_coregistered_on_itself_and_gives_sigma0_only(gpt: StandIn, tmp_path: Path) -> None:
    outcome = _run(tmp_path, (T0, T0, T0))
    assert outcome.error is None
    calls = gpt.argvs()
    assert [Path(argv[0]).name for argv in calls] == [
        "S1_SLC_BkG.xml",
        "S1_SLC_Deb_BetaSigma_ML_TC_RNKELL.xml",
    ]
    bkg = _params(calls[0])
    assert bkg["master"] == bkg["slave"] == "20220125_T0_preprocessed.dim"
    assert sorted(f.file_name for f in outcome.out_files) == [
        "20220125_T0_sigma0_VH.tif",
        "20220125_T0_sigma0_VV.tif",
    ]


def test_a_failing_gpt_fails_the_tile_and_keeps_the_reference_files(
    gpt: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = make_standin(
        tmp_path / "bin2", "gpt", {"*": Answer(lines=["Error: [NodeId: Read] no such file"], exit=1)}
    )
    monkeypatch.setenv(SNAP_GPT_ENV, str(failing.path))
    outcome = _run(tmp_path, (T0, T2, T2))
    assert outcome.error is not None and "Error: [NodeId: Read]" in str(outcome.error)
    assert outcome.out_files == []  # no error_condition: nothing stored, nothing deleted
    assert len(failing.argvs()) == 1


@pytest.fixture(scope="module")
def geoid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with stand_in_geoid(tmp_path_factory.mktemp("grids")) as folder:
        yield folder


@pytest.mark.slow  # the σ⁰ geocoding of the real crop in a subprocess: about 5-10 s
def test_the_python_variant_makes_sigma0_vv_in_the_originals_linear_mapping(
    shared_fixtures: Path, geoid: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crop = make_crop_safe(shared_fixtures, tmp_path / "safe")
    files = s1.find_burst_files(crop.path)[0]
    grid = s1.burst_grid(crop.path, files, s1.BackscatterOptions())
    west, south, east, north = rasterio.warp.transform_bounds(grid.crs, "EPSG:4326", *grid.bounds())
    dem = write_flat_dem(
        tmp_path / "dem.tif", (west - 0.02, south - 0.02, east + 0.02, north + 0.02), height_m=0.0
    )
    monkeypatch.setenv("GEOCUBE_INGESTER_DEM", str(dem))
    monkeypatch.setenv(PROJ_DATA_ENV, str(geoid))
    monkeypatch.setenv(SNAP_GPT_ENV, str(tmp_path / "no-gpt"))  # no SNAP here: auto is python
    graph = load_graph("S1BackscatterCoherence")
    assert {s.engine for s in graph.processing_steps} == {Engine.PYTHON}  # the python variant
    scene = crop.path.name.removesuffix(".SAFE")
    t0 = TileContext(
        tile_id="T0", scene_id=scene, date=datetime(2022, 9, 18, tzinfo=UTC), swath_id="IW3", tile_nr=1
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    shutil.copytree(crop.path, workdir / crop.path.name)  # the tile's __product__.SAFE, imported
    outcome = execute_graph(graph, tiles=(t0, t0, t0), workdir=workdir, config={}, is_retriable=True)
    assert outcome.error is None, outcome.error
    indexed = [f for f in outcome.out_files if f.action.value == "to_index"]
    assert [f.layer for f in indexed] == ["sigma0_VV"]  # VV only in the crop; coherence needs SNAP
    (vv,) = indexed
    assert (vv.dformat, vv.ext_min_value, vv.ext_max_value, vv.exponent) == (
        DataFormat("float32", 0, 0, 1),
        0.0,
        1.0,
        1.0,
    )
    with rasterio.open(workdir / vv.file_name) as dataset:
        values = dataset.read(1)
        assert (dataset.nodata, dataset.dtypes[0]) == (0.0, "float32")
    assert not np.isnan(values).any(), "no data is the mapping's nodata 0, not NaN"
    valid = values[values != 0]
    assert valid.size > 1000
    # linear σ⁰ of land and sea (tests/unit/graphs/test_sentinel1.py states -32..-3 dB, with its
    # sources) lies in 0..1
    median, high = np.percentile(valid, [50, 99])
    assert valid.min() >= 0 and 10 ** (-3.2) < median < 10 ** (-0.3) and high < 1.0
    assert [f.action.value for f in outcome.out_files if f.layer == "__product__"] == ["to_delete"]
