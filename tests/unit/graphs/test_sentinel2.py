"""Sentinel-2 radiometry from the product's own metadata: real MTD files of baselines 02.06, 04.00, 05.09."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import rasterio

from graphs.cog import read_scale_offset
from graphs.context import TileContext
from graphs.errors import GraphError
from graphs.execute import execute_graph
from graphs.loader import load_graph
from graphs.sentinel2 import parse_s2_radiometry, read_s2_radiometry
from tests.unit.graphs.safe_trees import S2_L1C, S2_L2A, make_l1c_safe, make_l2a_safe, write_product_metadata

SCRIPT = Path(__file__).resolve().parents[3] / "graphs" / "python" / "extract_s2.py"
ALL_BANDS = {"B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"}
L2A_0400 = "S2B_MSIL2A_20220413T150759_N0400_R025_T33XWJ_20220414T082126.SAFE/MTD_MSIL2A.xml"
L2A_0509 = "S2A_MSIL2A_20230625T234621_N0509_R073_T01WCS_20230626T022157.SAFE/MTD_MSIL2A.xml"
L1C_0206 = "S2A_MSIL1C_20180101T105441_N0206_R051_T31TDH_20180101T124911.SAFE/MTD_MSIL1C.xml"


@pytest.mark.parametrize(("fixture", "baseline"), [(L2A_0400, "04.00"), (L2A_0509, "05.09")])
def test_real_l2a_metadata_since_baseline_04_carries_boa_offsets(
    shared_fixtures: Path, fixture: str, baseline: str
) -> None:
    radiometry = parse_s2_radiometry((shared_fixtures / "s2" / fixture).read_bytes(), name=fixture)
    assert radiometry.processing_baseline == baseline
    assert radiometry.quantification == 10000
    assert set(radiometry.offsets) == ALL_BANDS
    assert set(radiometry.offsets.values()) == {-1000.0}
    scale, offset = radiometry.scale_offset("B8A")
    assert (scale, offset) == pytest.approx((1e-4, -0.1))
    assert 5000 * scale + offset == pytest.approx((5000 - 1000) / 10000)


def test_real_l1c_metadata_of_baseline_02_has_no_offset(shared_fixtures: Path) -> None:
    radiometry = parse_s2_radiometry((shared_fixtures / "s2" / L1C_0206).read_bytes(), name=L1C_0206)
    assert (radiometry.processing_baseline, radiometry.quantification) == ("02.06", 10000)
    assert radiometry.offsets == {}
    assert radiometry.scale_offset("B04") == pytest.approx((1e-4, 0.0))


def test_generated_l1c_metadata_of_baseline_05_10_reads_as_real_ones(tmp_path: Path) -> None:
    path = write_product_metadata(tmp_path / "X.SAFE", level="L1C", baseline="05.10")
    radiometry = read_s2_radiometry(path.parent)
    assert set(radiometry.offsets) == ALL_BANDS and set(radiometry.offsets.values()) == {-1000.0}


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", "DTD"),
        (b"<product/>", "no QUANTIFICATION_VALUE"),
        (b"<p><QUANTIFICATION_VALUE>ten</QUANTIFICATION_VALUE></p>", "not a number"),
        (b"<p", "not valid XML"),
    ],
)
def test_unreadable_radiometry_is_refused_by_name(xml: bytes, message: str) -> None:
    with pytest.raises(GraphError, match=message):
        parse_s2_radiometry(xml, name="X.SAFE/MTD_MSIL1C.xml")


def run_extract(workdir: Path, product: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), f"--workdir={workdir}", f"--pattern-out={workdir}/{product}_*.tif"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_cogs_of_a_baseline_04_product_carry_its_offset(tmp_path: Path) -> None:
    make_l2a_safe(tmp_path)
    result = run_extract(tmp_path, S2_L2A)
    assert result.returncode == 0, result.stderr
    assert "baseline 04.00, reflectance = (DN + -1000) / 10000" in result.stdout
    cog = tmp_path / f"{S2_L2A}_B04.tif"
    assert read_scale_offset(cog) == pytest.approx((1e-4, -0.1))
    with rasterio.open(cog) as ds:
        assert ds.nodata == 0  # DN 0 stays "no data"


def test_cogs_of_a_baseline_02_product_have_no_offset(tmp_path: Path) -> None:
    make_l1c_safe(tmp_path)
    assert run_extract(tmp_path, S2_L1C).returncode == 0
    assert read_scale_offset(tmp_path / f"{S2_L1C}_B04.tif") == pytest.approx((1e-4, 0.0))


def test_a_product_without_metadata_is_a_fatal_error(tmp_path: Path) -> None:
    safe = make_l1c_safe(tmp_path)
    (safe / "MTD_MSIL1C.xml").unlink()
    result = run_extract(tmp_path, S2_L1C)
    assert result.returncode == 1
    assert "FATAL ERROR:" in result.stderr and "no MTD_MSIL1C.xml or MTD_MSIL2A.xml" in result.stderr


@pytest.mark.parametrize(
    ("make_safe", "product", "real_range"),
    [(make_l2a_safe, S2_L2A, (-0.1, 0.9)), (make_l1c_safe, S2_L1C, (0.0, 1.0))],
    ids=["baseline-04.00", "baseline-02.06"],
)
@pytest.mark.slow  # a graph run per baseline: about 1.2 s each
def test_the_builtin_graph_indexes_each_product_with_its_own_radiometry(
    tmp_path: Path, make_safe, product: str, real_range: tuple[float, float]
) -> None:
    """dformat_out uint16 [0, 10000] maps to real (DN + offset) / 10000: [-0.1, 0.9] or [0, 1]."""
    make_safe(tmp_path)
    t0 = TileContext(tile_id=product, scene_id=product, date=datetime(2022, 4, 13, tzinfo=UTC))
    outcome = execute_graph(
        load_graph("ExtractS2Bands"), tiles=(t0, t0, t0), workdir=tmp_path, config={}, is_retriable=True
    )
    assert outcome.error is None
    indexed = [f for f in outcome.out_files if f.action == "to_index"]
    assert indexed and all(str(f.dformat) == "uint16,0,0,10000" for f in indexed)
    for out in indexed:
        assert (out.ext_min_value, out.ext_max_value) == pytest.approx(real_range), out.layer
