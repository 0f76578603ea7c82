"""ExtractLandsatBands and its script on the real Landsat 8 C2 L2 crops (SR_B4, QA_PIXEL, 512x512).

The product folder each test runs on is assembled in tmp_path from the real files of
../shared/fixtures/landsat/LC08_L2SP_008059_20191201_20200825_02_T1 (its MTL lists every band; only SR_B4
and QA_PIXEL are there, so only those two are written and indexed).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import rasterio

from common.dataformat import DataFormat
from geocube_client import GeocubeClient, NewRecord
from geocube_client.models import Variable
from graphs.cog import is_valid_cog, read_scale_offset
from graphs.context import TileContext
from graphs.errors import GraphFatalError
from graphs.execute import execute_graph, select_in_files
from graphs.landsat import decode_qa_pixel
from graphs.loader import GRAPHS_DIR, LIBRARY_DIR, load_graph
from graphs.model import Action, Graph
from jobs.validation import check_layer_mappings
from jobs.verify import ReadBack, verify_aoi
from storage import LocalStorage, open_storage
from storage.layout import PRODUCT_LAYER, LayerRef, import_layer, save_layer
from tests.unit.graphs.scripts import load_graph_script

PRODUCT = "LC08_L2SP_008059_20191201_20200825_02_T1"
SCRIPT = GRAPHS_DIR / "python" / "extract_landsat.py"
GRAPH = LIBRARY_DIR / "ExtractLandsatBands.json"
DATE = "20191201"
# LEVEL2_SURFACE_REFLECTANCE_PARAMETERS of the real MTL: the reflectance DN 1 and 65535 stand for.
MTL_REFLECTANCE_MIN, MTL_REFLECTANCE_MAX = -0.199972, 1.602213
# USGS, "How do I use a scale factor with Landsat Level-2 science products?" (usgs.gov FAQ): Collection 2
# SR fill 0, valid range 7273-43636, i.e. reflectance 0.0000075 to 1.0.
USGS_SR_VALID_DN = (7273, 43636)


@pytest.fixture(scope="module")
def fixture_product(shared_fixtures: Path) -> Path:
    path = shared_fixtures / "landsat" / PRODUCT
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the real Landsat 8 C2 L2 product subset is needed")
    return path


def copy_product(fixture_product: Path, dest: Path, *, skip: tuple[str, ...] = ("_stac.json",)) -> Path:
    """``dest/<product id>/`` with the real band TIFFs and MTLs (writable copies)."""
    folder = dest / PRODUCT
    folder.mkdir(parents=True)
    for path in sorted(fixture_product.iterdir()):
        if not path.name.endswith(skip):
            shutil.copyfile(path, folder / path.name)
    return folder


def landsat_tile() -> tuple[TileContext, TileContext, TileContext]:
    t0 = TileContext(
        tile_id=PRODUCT,
        scene_id=PRODUCT,
        date=datetime(2019, 12, 1, 15, 13, 51, tzinfo=UTC),
        constellation="Landsat89",
    )
    return (t0, t0, t0)


def graph() -> Graph:
    return load_graph(str(GRAPH))


def run_script(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_real_sr_b4_becomes_a_cog_with_the_mtls_scale_and_offset(
    fixture_product: Path, tmp_path: Path
) -> None:
    copy_product(fixture_product, tmp_path)
    result = run_script(tmp_path, f"--product={PRODUCT}", "--pattern-out=out_*.tif", "--layers=SR_B4")
    assert result.returncode == 0, result.stderr
    assert "reflectance = DN * 2.75e-05 - 0.2" in result.stdout
    cog, source = tmp_path / "out_SR_B4.tif", fixture_product / f"{PRODUCT}_SR_B4.TIF"
    assert is_valid_cog(cog)
    assert read_scale_offset(cog) == pytest.approx((2.75e-05, -0.2), rel=1e-12)
    with rasterio.open(cog) as out, rasterio.open(source) as src:
        assert (out.crs, out.transform, out.dtypes, out.nodata) == (src.crs, src.transform, ("uint16",), 0)
        dn = out.read(1)
        np.testing.assert_array_equal(dn, src.read(1))
        scale, offset = out.scales[0], out.offsets[0]
    valid = dn[dn != 0]
    reflectance = valid * scale + offset
    assert valid.size == 512 * 512 - 80464
    assert MTL_REFLECTANCE_MIN <= reflectance.min() and reflectance.max() <= MTL_REFLECTANCE_MAX
    assert (round(float(reflectance.min()), 4), round(float(reflectance.max()), 4)) == (-0.0132, 1.2814)
    # Outside USGS's documented 7273-43636 (reflectance 0 to 1), yet within the MTL's range: 8 slightly
    # negative pixels and 1274 brighter than 1, nearly all cloud in QA_PIXEL (the scene is 81 % cloud).
    low, high = USGS_SR_VALID_DN
    assert (int((valid < low).sum()), int((valid > high).sum())) == (8, 1274)
    with rasterio.open(fixture_product / f"{PRODUCT}_QA_PIXEL.TIF") as qa:
        cloud = decode_qa_pixel(qa.read(1))["cloud"]
    assert int(cloud[dn > high].sum()) == 1272


def test_qa_pixel_is_written_as_it_is(fixture_product: Path, tmp_path: Path) -> None:
    copy_product(fixture_product, tmp_path)
    result = run_script(tmp_path, f"--product={PRODUCT}", "--pattern-out=out_*.tif", "--layers=QA_PIXEL")
    assert result.returncode == 0, result.stderr
    cog = tmp_path / "out_QA_PIXEL.tif"
    assert is_valid_cog(cog) and not (tmp_path / "out_SR_B4.tif").exists()
    assert read_scale_offset(cog) is None
    with rasterio.open(cog) as out, rasterio.open(fixture_product / f"{PRODUCT}_QA_PIXEL.TIF") as src:
        assert (out.dtypes, out.nodata) == (("uint16",), 1.0)  # fill: the value 1
        np.testing.assert_array_equal(out.read(1), src.read(1))


def test_qa_pixel_overviews_keep_its_bit_values(fixture_product: Path, tmp_path: Path) -> None:
    """Overviews of a bit mask are nearest-neighbour: every overview value is one of the band's values.

    The real 512 x 512 crop fits one COG tile (no overview), so it is tiled 2 x 2 into a 1024 x 1024 band."""
    folder = copy_product(fixture_product, tmp_path)
    qa_path = folder / f"{PRODUCT}_QA_PIXEL.TIF"
    with rasterio.open(qa_path) as src:
        profile, qa = src.profile, src.read(1)
    profile.update(width=1024, height=1024)
    with rasterio.open(qa_path, "w", **profile) as dst:
        dst.write(np.tile(qa, (2, 2)), 1)
    result = run_script(tmp_path, f"--product={PRODUCT}", "--pattern-out=out_*.tif", "--layers=QA_PIXEL")
    assert result.returncode == 0, result.stderr
    with rasterio.open(tmp_path / "out_QA_PIXEL.tif") as out:
        assert out.overviews(1) == [2]
        overview = out.read(1, out_shape=(512, 512))
    assert set(np.unique(overview)) <= set(np.unique(qa))  # 15 distinct values; averaging would mix them


def _variable(name: str, dformat: DataFormat) -> Variable:
    return Variable(
        id=name, name=name, unit="", description="", bands=[""], dformat=dformat, resampling="near"
    )


# The variables the README recommends: real values as they are (reflectance and kelvin in Float32), and
# the QA bit mask in its own dtype, fill 1 as nodata.
RECOMMENDED = {
    "SR_B4": DataFormat("float32", math.nan, -0.2, 1.61),
    "ST_B10": DataFormat("float32", math.nan, 149.0, 373.0),
    "QA_PIXEL": DataFormat("uint16", 1.0, 0.0, 65535.0),
}


def test_the_graph_loads_and_its_layers_fit_the_recommended_variables() -> None:
    loaded = graph()
    assert [s.command for s in loaded.processing_steps] == ["python/extract_landsat.py"]
    layers = [f.layer for f in loaded.out_files[0] if f.action is Action.TO_INDEX]
    assert layers == [*(f"SR_B{n}" for n in range(1, 8)), "ST_B10", "ST_B6", "QA_PIXEL"]
    variables = {layer: _variable(layer, dformat) for layer, dformat in RECOMMENDED.items()}
    problems, warnings = check_layer_mappings(loaded, variables, {}, graph_name="ExtractLandsatBands")
    assert (problems, warnings) == ([], [])


def test_reflectance_into_an_integer_variable_is_refused_naming_the_variable_to_create() -> None:
    variables = {"SR_B4": _variable("SR_B4", DataFormat("uint16", 0.0, 0.0, 10000.0))}
    problems, _ = check_layer_mappings(graph(), variables, {}, graph_name="ExtractLandsatBands")
    (problem,) = problems
    assert problem.field == "layers.SR_B4"
    assert "uint16 [0, 65535] -> real [-0.2, 1.60221]" in problem.message
    assert "create the variable as Float32 [-0.2, 1.60221], nodata NaN" in problem.message


def test_the_graph_indexes_the_bands_present_with_the_products_radiometry(
    fixture_product: Path, tmp_path: Path
) -> None:
    copy_product(fixture_product, tmp_path)
    outcome = execute_graph(graph(), tiles=landsat_tile(), workdir=tmp_path, config={}, is_retriable=True)
    assert outcome.error is None
    indexed = {f.layer: f for f in outcome.out_files if f.action is Action.TO_INDEX}
    assert sorted(indexed) == ["QA_PIXEL", "SR_B4"]  # the MTL lists the rest, the crop has not them
    sr, qa = indexed["SR_B4"], indexed["QA_PIXEL"]
    assert sr.file_name == f"{DATE}_{PRODUCT}_SR_B4.tif"
    assert sr.dformat == DataFormat("uint16", 0.0, 0.0, 65535.0)
    assert (sr.ext_min_value, sr.ext_max_value) == pytest.approx((-0.2, 1.6022125))  # read from the COG
    assert (qa.dformat, qa.ext_min_value, qa.ext_max_value) == (
        DataFormat("uint16", 1.0, 0.0, 65535.0),
        0,
        65535,
    )
    assert all(is_valid_cog(tmp_path / f.file_name) for f in indexed.values())
    deleted = [(f.layer, f.extension) for f in outcome.out_files if f.action is Action.TO_DELETE]
    assert deleted == [(PRODUCT_LAYER, "*")]


def test_st_b10_carries_the_temperature_scale_and_offset(fixture_product: Path, tmp_path: Path) -> None:
    """No real ST_B10 crop is recorded: the real SR_B4 pixels under ST_B10's file name check the radiometry
    path (MTL scale/offset -> COG -> indexed real range), not temperatures."""
    folder = copy_product(fixture_product, tmp_path)
    shutil.copyfile(folder / f"{PRODUCT}_SR_B4.TIF", folder / f"{PRODUCT}_ST_B10.TIF")
    outcome = execute_graph(
        graph(), tiles=landsat_tile(), workdir=tmp_path, config={"wanted_layers": "ST_B10"}, is_retriable=True
    )
    assert outcome.error is None
    (st,) = [f for f in outcome.out_files if f.action is Action.TO_INDEX]
    assert st.layer == "ST_B10"
    assert read_scale_offset(tmp_path / st.file_name) == pytest.approx((0.00341802, 149.0), rel=1e-12)
    # TEMPERATURE_MINIMUM/MAXIMUM_BAND_ST_B10 of the MTL are DN 1 and 65535: 149.003418 and 372.999941 K.
    assert (st.ext_min_value, st.ext_max_value) == pytest.approx((149.0, 372.9999407))
    variables = {"ST_B10": _variable("ST_B10", RECOMMENDED["ST_B10"])}
    assert check_layer_mappings(graph(), variables, {}) == ([], [])


def test_only_the_wanted_layers_are_written(fixture_product: Path, tmp_path: Path) -> None:
    copy_product(fixture_product, tmp_path)
    outcome = execute_graph(
        graph(), tiles=landsat_tile(), workdir=tmp_path, config={"wanted_layers": "SR_B4"}, is_retriable=True
    )
    assert outcome.error is None
    assert [f.layer for f in outcome.out_files if f.action is Action.TO_INDEX] == ["SR_B4"]
    assert sorted(p.name for p in tmp_path.glob("*.tif")) == [f"{DATE}_{PRODUCT}_SR_B4.tif"]


def test_a_wanted_band_missing_from_the_product_is_fatal(fixture_product: Path, tmp_path: Path) -> None:
    copy_product(fixture_product, tmp_path)
    outcome = execute_graph(
        graph(),
        tiles=landsat_tile(),
        workdir=tmp_path,
        config={"wanted_layers": "SR_B4,SR_B5"},
        is_retriable=True,
    )
    assert isinstance(outcome.error, GraphFatalError)
    assert f"FATAL ERROR: {PRODUCT}: {PRODUCT}_SR_B5.TIF (SR_B5) is listed in its MTL but missing" in str(
        outcome.error
    )
    assert [(f.layer, f.action) for f in outcome.out_files] == [(PRODUCT_LAYER, Action.TO_DELETE)]


def test_wanted_layers_that_are_not_landsat_bands_are_left_out(
    extract_landsat: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert extract_landsat.parse_layers("*") is None
    assert extract_landsat.parse_layers(" ") is None
    assert extract_landsat.parse_layers("QA_PIXEL, SR_B4,NDVI,SR_B4") == ["QA_PIXEL", "SR_B4"]
    assert "WARNING: --layers: NDVI not Landsat bands (SR_B1," in capsys.readouterr().out


@pytest.mark.parametrize("case", ["level-1", "no product"])
@pytest.mark.slow  # a graph run per case: about 0.9 s each
def test_a_product_that_is_not_level_2_is_fatal(fixture_product: Path, tmp_path: Path, case: str) -> None:
    if case == "level-1":
        folder = copy_product(fixture_product, tmp_path, skip=("_stac.json", "_MTL.json", "_MTL.xml"))
        mtl = folder / f"{PRODUCT}_MTL.txt"
        mtl.write_text(mtl.read_text().replace('PROCESSING_LEVEL = "L2SP"', 'PROCESSING_LEVEL = "L1TP"', 1))
        expected = "is a L1TP product; ExtractLandsatBands reads Collection 2 Level-2 products"
    else:
        (tmp_path / PRODUCT).mkdir()
        expected = f"{PRODUCT}: no Landsat product folder with an *_MTL.json"
    outcome = execute_graph(graph(), tiles=landsat_tile(), workdir=tmp_path, config={}, is_retriable=True)
    assert isinstance(outcome.error, GraphFatalError)
    assert expected in str(outcome.error)


@pytest.fixture(scope="module")
def extract_landsat() -> ModuleType:
    return load_graph_script("extract_landsat")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [("out.tif", "FATAL ERROR: --pattern-out 'out.tif' has no '*'"), ("out_*.jp2", "COGs; end it in .tif")],
)
def test_bad_patterns_are_fatal(
    extract_landsat: ModuleType, capsys: pytest.CaptureFixture[str], pattern: str, message: str
) -> None:
    assert extract_landsat.main(["--product=x", f"--pattern-out={pattern}"]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("shape", ["the stored product folder", "USGS's flat files"])
@pytest.mark.slow  # a graph run per case: about 0.9 s each
def test_a_stored_product_imports_as_the_folder_the_graph_reads(
    fixture_product: Path, tmp_path: Path, shape: str
) -> None:
    """The product as a download stores it (``<scene>.zip``), imported by a processing job, then processed."""
    storage = LocalStorage(tmp_path / "store")
    t0 = landsat_tile()[0]
    product = LayerRef("Colombia", PRODUCT, PRODUCT, t0.date, PRODUCT_LAYER, "*")
    download = tmp_path / "download"
    if shape == "the stored product folder":  # CopyProductToStorage (``*``) of the folder <scene>/
        copy_product(fixture_product, download)
        save_layer(storage, download, product)
    else:  # a zip of the product's files, without a folder
        download.mkdir()
        archive = download / f"{PRODUCT}.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for path in sorted(fixture_product.glob(f"{PRODUCT}_*")):
                zf.write(path, path.name)
        storage.upload(archive, product.key)
    workdir = tmp_path / "process"
    workdir.mkdir()
    for in_file in select_in_files(graph(), tiles=landsat_tile()):
        import_layer(storage, workdir, product.with_layer(in_file.layer, in_file.extension))
    assert (workdir / PRODUCT / f"{PRODUCT}_MTL.json").is_file()
    outcome = execute_graph(graph(), tiles=landsat_tile(), workdir=workdir, config={}, is_retriable=True)
    assert outcome.error is None
    assert sorted(f.layer for f in outcome.out_files if f.action is Action.TO_INDEX) == ["QA_PIXEL", "SR_B4"]


@pytest.mark.integration
def test_the_indexed_layers_read_back_through_getcube_as_reflectance_and_qa(
    fixture_product: Path, tmp_path: Path, local_geocube: str
) -> None:
    """The graph's outputs indexed as a processing job indexes them, into the README's variables, then read
    back by ``verify``: equal to the files under the indexed mapping, reflectance in the MTL's range."""
    aoi = f"Landsat-{uuid.uuid4().hex[:8]}"
    workdir = tmp_path / "work"
    copy_product(fixture_product, workdir)
    outcome = execute_graph(graph(), tiles=landsat_tile(), workdir=workdir, config={}, is_retriable=True)
    assert outcome.error is None
    root = tmp_path / "store"
    storage = LocalStorage(root)
    t0 = landsat_tile()[0]
    with GeocubeClient(local_geocube, insecure=True) as client:
        # The scene's footprint (CORNER_*_LAT/LON_PRODUCT of its MTL).
        aoi_id = client.create_aoi(
            "POLYGON ((-76.09 0.39, -74.05 0.39, -74.05 2.49, -76.09 2.49, -76.09 0.39))"
        )
        (record,) = client.create_records([NewRecord(PRODUCT, t0.date, {"aoi": aoi}, aoi_id)])
        for out in outcome.out_files:
            if out.action is not Action.TO_INDEX:
                continue
            assert out.dformat is not None
            variable_id = client.create_variable(
                name=f"{aoi}-{out.layer}", bands=[out.layer], dformat=RECOMMENDED[out.layer]
            )
            instance_id = client.instantiate_variable(variable_id, "C2L2").id
            uri = save_layer(storage, workdir, t0.layer_ref(aoi, out.layer, out.extension))
            client.index_dataset(
                uri=uri, record_id=record, instance_id=instance_id, bands=[1], dformat=out.dformat,
                real_min_value=out.ext_min_value, real_max_value=out.ext_max_value, exponent=out.exponent,
            )  # fmt: skip
        report = verify_aoi(client, open_storage(str(root)), aoi)
    by_layer = {Path(c.uri).stem.removeprefix(f"{DATE}_{PRODUCT}_"): c for c in report.checks}
    assert {layer: c.outcome for layer, c in by_layer.items()} == {
        "SR_B4": ReadBack.EQUAL,
        "QA_PIXEL": ReadBack.EQUAL,
    }
    reflectance = by_layer["SR_B4"].cube
    valid = ~np.isnan(reflectance)
    assert int(valid.sum()) == 512 * 512 - 80464  # DN 0 (fill) reads back as the variable's NaN
    assert (
        MTL_REFLECTANCE_MIN
        <= float(reflectance[valid].min())
        < float(reflectance[valid].max())
        <= MTL_REFLECTANCE_MAX
    )
    qa = by_layer["QA_PIXEL"].cube
    with rasterio.open(fixture_product / f"{PRODUCT}_QA_PIXEL.TIF") as src:
        np.testing.assert_array_equal(qa, src.read(1))  # fill 1 is the variable's nodata 1: the same values
