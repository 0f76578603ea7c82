"""The original's Sentinel-1 graphs by name (original-ingester.md §5.12), in their snap and python variants.

The snap steps' command lines are checked against the real original XML graphs of the fixtures
(../shared/fixtures/original-ingester/graphs/snap, GEOCUBE_INGESTER_SNAP_GRAPHS): every ``-P`` parameter
a step passes is a ``${name}`` placeholder of its XML, and every placeholder is passed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from graphs.context import TileContext, format_arg, is_tile_condition_met
from graphs.engines import ORIGINAL_SCRIPTS, check_runnable, resolve_command
from graphs.errors import GraphError
from graphs.execute import select_in_files, select_out_files
from graphs.loader import BUILTIN_GRAPHS, S1_ENGINE_KEY, S1Engine, choose_s1_engine, load_graph
from graphs.model import Action, Engine, Graph, ProcessingStep
from graphs.snap_engine import SNAP_GPT_ENV, SNAP_GRAPHS_ENV, snap_argv
from tests.support.standin_exec import make_standin
from tests.unit.graphs.scripts import load_graph_script

SNAP = frozenset({Engine.PYTHON, Engine.CMD, Engine.SNAP})
NO_SNAP = frozenset({Engine.PYTHON, Engine.CMD})
S1_GRAPHS = ("S1Preprocessing", "S1BackscatterCoherence", "S1CoregExtract", "S1Clean")

# original-ingester.md §5.12, "S1 default config" (S1DefaultConfig), shared by all S1 built-ins.
S1_DEFAULTS = {
    "snap_cpu_parallelism": "1",
    "terrain_correction_range": "4",
    "terrain_correction_azimuth": "1",
    "coherence_range": "16",
    "coherence_azimuth": "4",
    "dem_name": "SRTM 3Sec",
    "dem_file": "",
    "dem_nodata": "0",
    "dem_egm_correction": "True",
    "dem_resampling": "BILINEAR_INTERPOLATION",
    "img_resampling": "BICUBIC_INTERPOLATION",
    "bkg_resampling": "BISINC_21_POINT_INTERPOLATION",
    "resolution": "20",
    "projection": "EPSG:4326",
    "bs_erode_iterations": "10",
    "coh_erode_iterations": "10",
    "dformat_out": "float32,0,0,1",
}


def _tile(i: int, scene: str, day: int) -> TileContext:
    return TileContext(
        tile_id=f"T{i}", scene_id=scene, date=datetime(2019, 9, day, tzinfo=UTC), swath_id="IW2", tile_nr=3
    )


T0 = _tile(0, "S0", 17)
T1 = _tile(1, "S1", 11)
T2 = _tile(2, "S2", 5)
ROOT = (T0, T0, T0)  # T0 = T1 = T2: the reference itself
SECOND = (T0, T2, T2)  # T0 ≠ T1 = T2: the previous tile is the reference
LATER = (T0, T1, T2)  # all different


@pytest.fixture
def snap_graphs(shared_fixtures: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = shared_fixtures / "original-ingester" / "graphs" / "snap"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent: the original ingester's SNAP XML graphs are needed")
    monkeypatch.setenv(SNAP_GRAPHS_ENV, str(folder))
    return folder


def _files(graph: Graph, tiles: tuple[TileContext, ...], workdir: Path) -> tuple[list[str], list[str]]:
    ins = [f"T{f.tile_index}:{f.file_name}" for f in select_in_files(graph, tiles=tiles)]
    outs = [
        f"T{f.tile_index}:{f.file_name}:{f.action.value}"
        for f in select_out_files(graph, tiles=tiles, workdir=workdir, config=graph.config, error=None)
    ]
    return ins, outs


def _steps_run(graph: Graph, tiles: tuple[TileContext, ...]) -> list[str]:
    return [
        f"{i}:{Path(s.command).name}"
        for i, s in enumerate(graph.processing_steps)
        if is_tile_condition_met(s.condition, tiles)
    ]


def _argv(graph: Graph, index: int, tiles: tuple[TileContext, ...], **config: str) -> list[str]:
    step = graph.processing_steps[index]
    effective = {**graph.config, **config, "workdir": "/work"}
    args = {
        name: format_arg(arg, config=effective, tiles=tiles, field_name=name)
        for name, arg in step.args.items()
    }
    xml = resolve_command(step, index=index, roots=graph.command_roots)
    return snap_argv("gpt", xml, args, config=effective)


def _variant(graph: Graph) -> str:
    return "snap" if any(s.engine == Engine.SNAP for s in graph.processing_steps) else "python"


def _placeholders(xml: Path) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_]+)\}", xml.read_text()))


# ------------------------------------------------------------------------------------------- loading


@pytest.mark.parametrize("name", S1_GRAPHS)
@pytest.mark.parametrize("engines", [SNAP, NO_SNAP], ids=["snap", "no-snap"])
def test_each_graph_loads_by_name_with_the_originals_defaults(name: str, engines: frozenset[Engine]) -> None:
    graph = load_graph(name, engines=engines)
    assert {k: graph.config[k] for k in S1_DEFAULTS} == S1_DEFAULTS
    assert graph.config[S1_ENGINE_KEY] == "auto"
    assert load_graph(f"library/{name}.json", engines=engines) == graph
    assert name in BUILTIN_GRAPHS


def test_auto_is_snap_where_the_snap_engine_is_else_python() -> None:
    assert _variant(load_graph("S1BackscatterCoherence", engines=SNAP)) == "snap"
    python = load_graph("S1BackscatterCoherence", engines=NO_SNAP)
    assert _variant(python) == "python" and python.source == "S1BackscatterCoherence"
    assert {s.engine for s in python.processing_steps} == {Engine.PYTHON}


@pytest.mark.parametrize(
    ("value", "engines", "chosen"),
    [
        ("auto", SNAP, S1Engine.SNAP),
        ("auto", NO_SNAP, S1Engine.PYTHON),
        ("", NO_SNAP, S1Engine.PYTHON),
        ("snap", NO_SNAP, S1Engine.SNAP),  # asked for: validation then refuses the missing engine
        ("python", SNAP, S1Engine.PYTHON),
        (" Python ", SNAP, S1Engine.PYTHON),
    ],
)
def test_s1_engine_is_chosen_from_the_config_and_the_engines(
    value: str, engines: frozenset[Engine], chosen: S1Engine
) -> None:
    assert (
        choose_s1_engine("S1BackscatterCoherence", config={S1_ENGINE_KEY: value}, engines=engines) == chosen
    )
    graph = load_graph("S1CoregExtract", engines=engines, config={S1_ENGINE_KEY: value})
    assert _variant(graph) == chosen.value


def test_engines_may_be_given_by_name_as_a_pool_declares_them() -> None:
    assert choose_s1_engine("S1Clean", engines=frozenset({"python", "snap"})) == S1Engine.SNAP
    assert choose_s1_engine("S1Clean", engines=frozenset({"python", "cmd"})) == S1Engine.PYTHON


def test_auto_without_engines_given_asks_this_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SNAP_GPT_ENV, str(tmp_path / "no-gpt"))
    assert choose_s1_engine("S1Preprocessing") == S1Engine.PYTHON
    gpt = make_standin(tmp_path / "bin", "gpt")
    monkeypatch.setenv(SNAP_GPT_ENV, str(gpt.path))
    assert choose_s1_engine("S1Preprocessing") == S1Engine.SNAP


def test_an_unknown_s1_engine_is_a_clear_error() -> None:
    with pytest.raises(
        GraphError, match=r"config\.s1_engine: 'gpt' is not one of snap, python, auto.*graph_config"
    ):
        load_graph("S1BackscatterCoherence", config={S1_ENGINE_KEY: "gpt"}, engines=SNAP)


def test_the_python_variant_says_coherence_needs_snap() -> None:
    graph = load_graph("S1BackscatterCoherence", engines=NO_SNAP)
    assert sorted(graph.unavailable_layers) == ["coh_VH", "coh_VV"]
    assert (
        "SNAP" in graph.unavailable_layers["coh_VV"] and SNAP_GRAPHS_ENV in graph.unavailable_layers["coh_VV"]
    )
    assert load_graph("S1BackscatterCoherence", engines=SNAP).unavailable_layers == {}
    assert load_graph("ExtractS2Bands").unavailable_layers == {}


# ------------------------------------------------------------------ in/out files and steps per triple


def test_backscatter_coherence_snap_files_and_steps_per_tile_triple(tmp_path: Path) -> None:
    graph = load_graph("S1BackscatterCoherence", engines=SNAP)
    sigma = ["T0:20190917_T0_sigma0_VV.tif:to_index", "T0:20190917_T0_sigma0_VH.tif:to_index"]
    coh = ["T0:20190917_T0_coh_VV.tif:to_index", "T0:20190917_T0_coh_VH.tif:to_index"]
    own = ["T0:20190917_T0_coregextract.dim:to_create", "T0:20190917_T0_preprocessed.dim:to_delete"]
    assert _files(graph, ROOT, tmp_path) == (["T0:20190917_T0_preprocessed.dim"], sigma)
    assert _files(graph, SECOND, tmp_path) == (
        ["T0:20190917_T0_preprocessed.dim", "T2:20190905_T2_preprocessed.dim"],
        [*sigma, *coh, *own],
    )
    assert _files(graph, LATER, tmp_path) == (
        [
            "T0:20190917_T0_preprocessed.dim",
            "T1:20190911_T1_coregextract.dim",
            "T2:20190905_T2_preprocessed.dim",
        ],
        [*sigma, *coh, *own, "T1:20190911_T1_coregextract.dim:to_delete"],
    )
    bs = ["0:S1_SLC_BkG.xml", "2:S1_SLC_Deb_BetaSigma_ML_TC_RNKELL.xml",
          "3:erode_mask.py", "4:convert.py", "5:erode_mask.py", "6:convert.py"]  # fmt: skip
    coherence = ["8:S1_SLC_Coh_BSel_Deb_ML_TC.xml", "9:erode_mask.py", "10:convert.py", "11:erode_mask.py",
                 "12:convert.py"]  # fmt: skip
    assert _steps_run(graph, ROOT) == bs  # a root is coregistered on itself: sigma0 only
    assert _steps_run(graph, SECOND) == [bs[0], "1:S1_SLC_SlvExtract.xml", *bs[1:], *coherence]
    assert _steps_run(graph, LATER) == [
        bs[0],
        "1:S1_SLC_SlvExtract.xml",
        *bs[1:],
        "7:S1_SLC_BkG.xml",
        *coherence,
    ]
    for out in [o for o in graph.out_files[0] if o.action == Action.TO_INDEX]:
        assert (out.ext_min_value, out.ext_max_value, out.exponent, out.nbands) == (0, 1, 1, 1)
        assert out.dformat_out is not None and out.dformat_out.value == "dformat_out"


def test_coreg_extract_and_clean_files_per_tile_triple(tmp_path: Path) -> None:
    graph = load_graph("S1CoregExtract", engines=SNAP)
    own = ["T0:20190917_T0_coregextract.dim:to_create", "T0:20190917_T0_preprocessed.dim:to_delete"]
    assert _files(graph, ROOT, tmp_path) == (["T0:20190917_T0_preprocessed.dim"], [])
    assert _steps_run(graph, ROOT) == []
    assert _files(graph, SECOND, tmp_path) == (
        ["T0:20190917_T0_preprocessed.dim", "T2:20190905_T2_preprocessed.dim"],
        own,
    )
    assert _files(graph, LATER, tmp_path)[1] == [*own, "T1:20190911_T1_coregextract.dim:to_delete"]
    assert _steps_run(graph, LATER) == ["0:S1_SLC_BkG.xml", "1:S1_SLC_SlvExtract.xml"]
    clean = load_graph("S1Clean")
    assert clean.processing_steps == []
    assert _files(clean, LATER, tmp_path) == (
        [],
        ["T0:20190917_T0_preprocessed.dim:to_delete", "T0:20190917_T0_coregextract.dim:to_delete",
         "T0:S0.SAFE:to_delete"],
    )  # fmt: skip


def test_preprocessing_variants_store_what_their_tile_graph_reads(tmp_path: Path) -> None:
    snap = load_graph("S1Preprocessing", engines=SNAP)
    assert _files(snap, ROOT, tmp_path) == ([], ["T0:20190917_T0_preprocessed.dim:to_create"])
    python = load_graph("S1Preprocessing", engines=NO_SNAP)
    assert [Path(s.command).name for s in python.processing_steps] == ["split_s1_burst.py"]
    assert _files(python, ROOT, tmp_path)[1] == ["T0:S0.SAFE:to_create"]
    tile_graph = load_graph("S1BackscatterCoherence", engines=NO_SNAP)
    assert [f.file_name for f in select_in_files(tile_graph, tiles=LATER)] == ["S0.SAFE"]


def test_the_python_variant_indexes_what_it_wrote(tmp_path: Path) -> None:
    graph = load_graph("S1BackscatterCoherence", engines=NO_SNAP)
    (tmp_path / "20190917_T0_sigma0_VV.tif").write_bytes(b"")
    assert _files(graph, LATER, tmp_path)[1] == [
        "T0:20190917_T0_sigma0_VV.tif:to_index",
        "T0:S0.SAFE:to_delete",
    ]


# ---------------------------------------------------------------------------------- snap command lines


def test_the_snap_steps_command_lines_on_the_originals_xml(snap_graphs: Path) -> None:
    graph = load_graph("S1BackscatterCoherence", engines=SNAP)
    head = ["-x", "-q", "8", "-J-Xmx9000m"]
    dem = ["-Pdem_file=", "-Pdem_name=SRTM 3Sec", "-Pdem_nodata=0", "-Pdem_resampling=BILINEAR_INTERPOLATION"]
    tc = ["-Pdem_egm=True", *dem[:3], "-Pdem_resampling=BILINEAR_INTERPOLATION", "-Pgrid_align=true",
          "-Pimg_resampling=BICUBIC_INTERPOLATION"]  # fmt: skip
    assert _argv(graph, 0, LATER, snap_cpu_parallelism="8") == [
        "gpt", str(snap_graphs / "S1_SLC_BkG.xml"), *head, *dem,
        "-Pmaster=20190905_T2_preprocessed.dim", "-Poutput=20190917_T0_coregistred.dim",
        "-Presampling=BISINC_21_POINT_INTERPOLATION", "-Pslave=20190917_T0_preprocessed.dim",
    ]  # fmt: skip
    assert _argv(graph, 1, LATER, snap_cpu_parallelism="8") == [
        "gpt", str(snap_graphs / "S1_SLC_SlvExtract.xml"), *head,
        "-Pinput=20190917_T0_coregistred.dim", "-Poutput=20190917_T0_coregextract.dim",
    ]  # fmt: skip
    assert _argv(graph, 2, LATER, snap_cpu_parallelism="8") == [
        "gpt", str(snap_graphs / "S1_SLC_Deb_BetaSigma_ML_TC_RNKELL.xml"), *head,
        "-Pazimuth_multilook=1", "-Pband=Sigma0", *tc, "-Pimg_suffix=17Sep2019",
        "-Pinput=20190917_T0_coregistred.dim", "-PoutputVH=20190917_T0_sigma0_VH.tif",
        "-PoutputVV=20190917_T0_sigma0_VV.tif", "-Pprojection=EPSG:4326", "-Prange_multilook=4",
        "-Presolution=20", "-Pswath=IW2", "-Ptrig=sin",
    ]  # fmt: skip
    assert _argv(graph, 7, LATER)[6:] == [
        *dem, "-Pmaster=20190917_T0_coregextract.dim", "-Poutput=20190917_T0_coregistred.dim",
        "-Presampling=BISINC_21_POINT_INTERPOLATION", "-Pslave=20190911_T1_coregextract.dim",
    ]  # fmt: skip
    coherence = [
        "gpt", str(snap_graphs / "S1_SLC_Coh_BSel_Deb_ML_TC.xml"), "-x", "-q", "1", "-J-Xmx9000m",
        "-Pazimuth_multilook=1", "-Pcoherence_azimuth=4", "-Pcoherence_range=16", *tc,
        "-Pinput=20190917_T0_coregistred.dim", "-PoutputVH=20190917_T0_coh_VH.tif",
        "-PoutputVV=20190917_T0_coh_VV.tif", "-Pprojection=EPSG:4326", "-Prange_multilook=4",
        "-Presolution=20",
    ]  # fmt: skip
    # cohdate: the reference's date when T1 ≠ T2, else T0's (§5.5)
    assert _argv(graph, 8, LATER) == [*coherence, "-Psel_date=05Sep2019"]
    assert _argv(graph, 8, SECOND) == [*coherence, "-Psel_date=17Sep2019"]
    preprocessing = load_graph("S1Preprocessing", engines=SNAP)
    assert _argv(preprocessing, 0, ROOT) == [
        "gpt", str(snap_graphs / "S1_SLC_BurstSplit_AO_CAL.xml"), "-x", "-q", "1", "-J-Xmx9000m",
        "-Pburst=3", "-Pinput=S0", "-Poutput=20190917_T0_preprocessed.dim", '-Ppolar="VV VH"', "-Pswath=IW2",
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["S1Preprocessing", "S1BackscatterCoherence", "S1CoregExtract"])
def test_every_snap_step_passes_exactly_its_xmls_placeholders(name: str, snap_graphs: Path) -> None:
    graph = load_graph(name, engines=SNAP)
    snap_steps = [(i, s) for i, s in enumerate(graph.processing_steps) if s.engine == Engine.SNAP]
    assert snap_steps
    for index, step in snap_steps:
        xml = Path(resolve_command(step, index=index, roots=graph.command_roots))
        assert xml.parent == snap_graphs
        assert set(step.args) == _placeholders(xml), (index, xml.name)


def test_a_missing_snap_xml_is_refused_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gpt = make_standin(tmp_path / "bin", "gpt")
    monkeypatch.setenv(SNAP_GPT_ENV, str(gpt.path))
    monkeypatch.setenv(SNAP_GRAPHS_ENV, str(tmp_path / "empty"))
    graph = load_graph("S1CoregExtract", engines=SNAP)
    with pytest.raises(GraphError) as info:
        check_runnable(graph)
    message = str(info.value)
    assert "processing_steps[0].command: command not found: 'snap/S1_SLC_BkG.xml'" in message
    assert "processing_steps[1].command" in message
    assert f"set {SNAP_GRAPHS_ENV}" in message and "graph/snap folder" in message
    monkeypatch.delenv(SNAP_GRAPHS_ENV)
    with pytest.raises(GraphError, match=SNAP_GRAPHS_ENV):
        check_runnable(graph)


def test_the_snap_xml_is_found_in_the_setting_then_the_graph_root(
    tmp_path: Path, snap_graphs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "root" / "snap" / "S1_SLC_BkG.xml"
    own.parent.mkdir(parents=True)
    own.write_text("<graph id='own'/>")
    graph = load_graph("S1CoregExtract", engines=SNAP, graph_root=tmp_path / "root")
    step = graph.processing_steps[0]
    assert resolve_command(step, index=0, roots=graph.command_roots) == str(snap_graphs / "S1_SLC_BkG.xml")
    monkeypatch.delenv(SNAP_GRAPHS_ENV)
    assert resolve_command(step, index=0, roots=graph.command_roots) == str(own)


def test_the_originals_erode_mask_name_resolves_to_ours(tmp_path: Path) -> None:
    step = ProcessingStep(engine=Engine.PYTHON, command="python/erodeMask.py")
    found = resolve_command(step, index=0, roots=(tmp_path,))
    assert found.endswith(ORIGINAL_SCRIPTS["python/erodeMask.py"])
    mine = tmp_path / "python" / "erodeMask.py"
    mine.parent.mkdir()
    mine.write_text("print('a user script of that name wins')\n")
    assert resolve_command(step, index=0, roots=(tmp_path,)) == str(mine)


# ------------------------------------------------------------------------------ convert.py, erode_mask.py


def _raster(path: Path, values: np.ndarray, nodata: float | None) -> Path:
    profile = {"driver": "GTiff", "width": values.shape[1], "height": values.shape[0], "count": 1,
               "dtype": str(values.dtype), "crs": "EPSG:32632", "nodata": nodata,
               "transform": Affine(20.0, 0.0, 500000.0, 0.0, -20.0, 6100000.0)}  # fmt: skip
    with rasterio.open(path, "w", **profile) as out:
        out.write(values, 1)
    return path


def _read(path: Path) -> tuple[np.ndarray, rasterio.profiles.Profile]:
    with rasterio.open(path) as dataset:
        return dataset.read(1), dataset.profile


def test_convert_scales_casts_and_sets_nodata_in_place(tmp_path: Path) -> None:
    values = np.full((40, 50), 0.5, dtype=np.float32)
    values[0, :] = np.nan
    values[1, 0], values[1, 1], values[1, 2] = 0.0, 1.0, 1.5
    path = _raster(tmp_path / "sigma0_VV.tif", values, float("nan"))
    convert = load_graph_script("convert")
    args = [f"--file-in={path}", f"--file-out={path}", "--range-in=0,1", "--dformat-out=UInt16,0,1,65535"]
    assert convert.main([*args, "--tiling=16"]) == 0
    out, profile = _read(path)
    assert profile["dtype"] == "uint16" and profile["nodata"] == 0 and profile["tiled"]
    assert (profile["blockxsize"], profile["blockysize"]) == (16, 16)
    assert (out[0] == 0).all(), "NaN (no data) -> nodata"
    assert out[2, 0] == 32768 and out[1, 0] == 1 and out[1, 1] == 65535
    assert out[1, 2] == 65535, "beyond the range: scaled, then clamped to uint16 as gdal.Translate does"


def test_convert_keeps_float32_0_1_as_the_original_maps_sigma0(tmp_path: Path) -> None:
    values = np.array([[0.0, 0.02, 0.5], [1.0, 2.0, np.nan]], dtype=np.float32)
    source = _raster(tmp_path / "in.tif", values, 0.0)
    target = tmp_path / "out.tif"
    convert = load_graph_script("convert")
    argv = [f"--file-in={source}", f"--file-out={target}", "--range-in=0,1", "--dformat-out=float32,0,0,1"]
    assert convert.main(argv) == 0
    out, profile = _read(target)
    assert profile["dtype"] == "float32" and profile["nodata"] == 0
    np.testing.assert_allclose(out, [[0.0, 0.02, 0.5], [1.0, 2.0, 0.0]], rtol=1e-6)


@pytest.mark.parametrize(
    ("flag", "said"),
    [
        ("--dformat-out=uint12,0,0,1", "unknown data type 'uint12'"),
        ("--dformat-out=float32,0,0", "expected 4 comma-separated fields"),
        ("--range-in=1,0", "--range-in '1,0': expected finite a < b"),
        ("--tiling=100", "--tiling '100': a multiple of 16"),
        ("--dformat-out=uint8,-1,0,255", "nodata -1 does not fit uint8"),
    ],
)
def test_convert_refuses_a_bad_format_with_an_error_line(
    flag: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _raster(tmp_path / "in.tif", np.zeros((4, 4), dtype=np.float32), 0.0)
    argv = [f"--file-in={path}", f"--file-out={tmp_path / 'out.tif'}", "--range-in=0,1",
            "--dformat-out=float32,0,0,1"]  # fmt: skip
    argv = [a for a in argv if not a.startswith(flag.split("=")[0])] + [flag]
    assert load_graph_script("convert").main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("ERROR: ") and said in err
    assert not (tmp_path / "out.tif").exists()


def test_convert_skips_a_missing_polarisation_only_when_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    convert = load_graph_script("convert")
    argv = [f"--file-in={tmp_path / 'sigma0_VH.tif'}", f"--file-out={tmp_path / 'o.tif'}", "--range-in=0,1",
            "--dformat-out=float32,0,0,1"]  # fmt: skip
    assert convert.main([*argv, "--missing=skip"]) == 0
    assert convert.main(argv) == 1
    assert "ERROR: --file-in" in capsys.readouterr().err


def test_erode_mask_trims_the_footprint_edge_and_keeps_holes(tmp_path: Path) -> None:
    values = np.full((60, 80), 0.5, dtype=np.float32)
    values[:, :10] = np.nan  # outside the footprint (NaN-aware)
    values[:5, :] = 0.0  # outside the footprint (the nodata value)
    values[40, 40] = 0.0  # a hole inside the footprint: not eroded from
    path = _raster(tmp_path / "coh_VV.tif", values, None)
    erode = load_graph_script("erode_mask")
    assert erode.main([f"--file-in={path}", f"--file-out={path}", "--no-data=0", "--iterations=3"]) == 0
    out, profile = _read(path)
    assert profile["nodata"] == 0 and profile["dtype"] == "float32"
    dropped = out == 0
    assert dropped[:, :13].all() and dropped[:8, :].all(), "3 pixels trimmed inside the edge"
    assert dropped[8:, 13:].sum() == 1, "only the hole, inside the trimmed edge"
    assert dropped[40, 40] and not dropped[39:42, 39].any() and not dropped[39, 40:42].any()
    assert not np.isnan(out).any()


def test_erode_mask_zero_iterations_copies_and_an_empty_result_is_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = np.zeros((10, 10), dtype=np.float32)
    values[4:6, 4:6] = 0.3
    path = _raster(tmp_path / "in.tif", values, 0.0)
    erode = load_graph_script("erode_mask")
    copy = tmp_path / "copy.tif"
    assert erode.main([f"--file-in={path}", f"--file-out={copy}", "--no-data=0", "--iterations=0"]) == 0
    assert copy.read_bytes() == path.read_bytes()
    assert erode.main([f"--file-in={path}", f"--file-out={path}", "--no-data=0", "--iterations=2"]) == 1
    assert f"FATAL ERROR: {path} empty" in capsys.readouterr().err
    assert erode.main([f"--file-in={path}", f"--file-out={path}", "--no-data=0", "--iterations=-1"]) == 1
    assert "ERROR: --iterations '-1'" in capsys.readouterr().err


def test_erode_mask_follows_a_slanted_footprint(tmp_path: Path) -> None:
    """SNAP's terrain-corrected bursts are slanted parallelograms: the trim follows the slanted edge."""
    rows, cols = np.mgrid[0:80, 0:100]
    values = np.where((cols > rows // 2 + 5) & (cols < rows // 2 + 60), 0.4, np.nan).astype(np.float32)
    path = _raster(tmp_path / "slanted.tif", values, float("nan"))
    erode = load_graph_script("erode_mask")
    assert erode.main([f"--file-in={path}", f"--file-out={path}", "--no-data=0", "--iterations=2"]) == 0
    out, _ = _read(path)
    kept = out != 0
    assert not kept[np.isnan(values)].any()
    for row in (10, 40, 70):
        valid_cols = np.flatnonzero(kept[row])
        # 2 pixels in Chebyshev distance from the outside, over the rows row-2..row+2 of the staircase
        first = max(r // 2 + 6 for r in range(row - 2, row + 3)) + 2
        last = min(r // 2 + 59 for r in range(row - 2, row + 3)) - 2
        assert (valid_cols[0], valid_cols[-1]) == (first, last), row


def test_erode_mask_dilates_as_scipy_does() -> None:
    ndimage = pytest.importorskip("scipy.ndimage")
    erode = load_graph_script("erode_mask")
    mask = np.random.default_rng(7).random((50, 70)) > 0.97
    for k in (1, 3, 10):
        expected = ndimage.binary_dilation(mask, structure=np.ones((3, 3), dtype=bool), iterations=k)
        assert (erode.dilate(mask, k) == expected).all(), k


def test_the_originals_own_json_twin_runs_with_our_scripts(
    original_graphs: Path, snap_graphs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The original's library/S1BackscatterCoherence.json, by its path: its snap XML from the setting,
    its python/erodeMask.py and python/convert.py resolve to ours, whose command lines it fits."""
    monkeypatch.setenv(SNAP_GPT_ENV, str(make_standin(tmp_path / "bin", "gpt").path))
    graph = load_graph(str(original_graphs / "S1BackscatterCoherence.json"))
    check_runnable(graph)
    commands = {
        Path(resolve_command(s, index=i, roots=graph.command_roots)).name
        for i, s in enumerate(graph.processing_steps)
        if s.engine == Engine.PYTHON
    }
    assert commands == {"erode_mask.py", "convert.py"}
    args = {name for s in graph.processing_steps if s.engine == Engine.PYTHON for name in s.args}
    assert args == {"file-in", "file-out", "iterations", "no-data", "range-in", "dformat-out"}
