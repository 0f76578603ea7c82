"""Small, real Sentinel-2 SAFE trees for the graph tests (georeferenced JPEG2000 bands)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from demo.archive import radiometry_xml
from graphs.context import TileContext

S2_L1C = "S2A_MSIL1C_20180101T105441_N0206_R051_T31TDH_20180101T124911"
S2_L1C_GRANULE = "L1C_T31TDH_A013204_20180101T105435"
S2_L1C_B01 = f"{S2_L1C}.SAFE/GRANULE/{S2_L1C_GRANULE}/IMG_DATA/T31TDH_20180101T105441_B01.jp2"
S2_L2A = "S2B_MSIL2A_20220413T150759_N0400_R025_T33XWJ_20220414T082126"
S2_L2A_GRANULE = "L2A_T33XWJ_A026649_20220413T150756"

L1C_BANDS = {  # band: resolution (m)
    "B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20,
    "B08": 10, "B8A": 20, "B09": 60, "B10": 60, "B11": 20, "B12": 20,
}  # fmt: skip
ORIGIN = (399960.0, 4800000.0)  # upper-left corner of tile T31TDH (UTM 31N)
EXTENT_M = 1200  # 120 pixels at 10 m


def write_jp2(path: Path, *, resolution_m: int, seed: int) -> np.ndarray:
    """A real georeferenced JPEG2000 band (UTM 31N, uint16 DN with a 0 'no data' border); its pixels."""
    size = EXTENT_M // resolution_m
    rng = np.random.default_rng(seed)
    data = rng.integers(1, 10000, size=(1, size, size), dtype=np.uint16)
    data[:, :, :2] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "JP2OpenJPEG",
        "width": size,
        "height": size,
        "count": 1,
        "dtype": "uint16",
        "crs": "EPSG:32631",
        "transform": Affine(resolution_m, 0, ORIGIN[0], 0, -resolution_m, ORIGIN[1]),
        "QUALITY": 100,
        "REVERSIBLE": "YES",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    band: np.ndarray = data[0]
    return band


def make_l1c_safe(workdir: Path, bands: dict[str, int] | None = None) -> Path:
    """``<workdir>/<S2_L1C>.SAFE`` with one small JP2 per band, named as ESA names them."""
    img = workdir / f"{S2_L1C}.SAFE" / "GRANULE" / S2_L1C_GRANULE / "IMG_DATA"
    for seed, (band, resolution) in enumerate(sorted((bands or L1C_BANDS).items())):
        write_jp2(img / f"T31TDH_20180101T105441_{band}.jp2", resolution_m=resolution, seed=seed)
    (img.parent / "MTD_TL.xml").write_text("<tile/>")
    write_product_metadata(workdir / f"{S2_L1C}.SAFE", level="L1C", baseline="02.06")
    return workdir / f"{S2_L1C}.SAFE"


def write_product_metadata(safe: Path, *, level: str, baseline: str) -> Path:
    """A minimal ``MTD_MSIL1C.xml``/``MTD_MSIL2A.xml``: the baseline and its radiometry, as ESA has them."""
    path = safe / f"MTD_MSI{level}.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'<n1:Level-{level[1:]}_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/'
        f'User_Product_Level-{level[1:]}.xsd"><n1:General_Info><Product_Info><PROCESSING_BASELINE>'
        f"{baseline}</PROCESSING_BASELINE></Product_Info>{radiometry_xml(level=level, baseline=baseline)}"
        f"</n1:General_Info></n1:Level-{level[1:]}_User_Product>"
    )
    return path


def make_l2a_safe(workdir: Path) -> Path:
    """An L2A tree: bands in R10m/R20m/R60m, some in several resolutions, plus non-band layers."""
    img = workdir / f"{S2_L2A}.SAFE" / "GRANULE" / S2_L2A_GRANULE / "IMG_DATA"
    layout = {
        10: ["B02", "B03", "B04", "B08", "TCI", "AOT"],
        20: ["B01", "B02", "B05", "B8A", "SCL"],
        60: ["B01", "B02", "B09"],
    }
    for resolution, names in layout.items():
        for seed, name in enumerate(names):
            path = img / f"R{resolution}m" / f"T33XWJ_20220413T150759_{name}_{resolution}m.jp2"
            write_jp2(path, resolution_m=resolution, seed=resolution + seed)
    write_product_metadata(workdir / f"{S2_L2A}.SAFE", level="L2A", baseline="04.00")
    return workdir / f"{S2_L2A}.SAFE"


def copy_real_band_safe(real_band: Path, workdir: Path) -> Path:
    """A SAFE tree holding the real B01 band and the real product metadata beside it in the fixtures
    (copied at test time, never into the project)."""
    dst = workdir / S2_L1C_B01
    dst.parent.mkdir(parents=True)
    shutil.copyfile(real_band, dst)
    safe = real_band.parents[3]
    shutil.copyfile(safe / "MTD_MSIL1C.xml", workdir / safe.name / "MTD_MSIL1C.xml")
    return dst


def s2_tile() -> tuple[TileContext, TileContext, TileContext]:
    t0 = TileContext(
        tile_id=S2_L1C,
        scene_id=S2_L1C,
        date=datetime(2018, 1, 1, 10, 54, 41, tzinfo=UTC),
        constellation="Sentinel2",
    )
    return (t0, t0, t0)
