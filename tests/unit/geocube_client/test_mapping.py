"""The data mapping check: our formula against GDAL's own scaling (the VRT gdal_translate -scale builds).

A Geocube casts each dataset into the variable's format with ``gdal_translate -ot <dtype> -scale min max
real_min real_max [-exponent e] -a_nodata <nodata>``; gdal_translate does it with a VRT ComplexSource.
Each case builds that VRT over a real GeoTIFF holding every value of the file's range and compares GDAL's
answer with ``cube_values``, then checks the verdict of ``check_mapping``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from common.dataformat import DataFormat
from geocube_client.mapping import (
    DataMapping,
    check_mapping,
    cube_values,
    describe_format,
    suggested_variable,
)
from geocube_client.models import DTYPE_TO_PROTO_NAME

NAN = math.nan
GDAL_NAMES = {"uint8": "Byte"}  # GDAL's name differs from the Geocube's (UInt8) for this one


def gdal_cube(tmp_path: Path, values: np.ndarray, mapping: DataMapping, variable: DataFormat) -> np.ndarray:
    """GDAL's cast of ``values`` (a row of file values) into ``variable``, through a ComplexSource VRT."""
    df = mapping.dformat
    src = tmp_path / "dataset.tif"
    nodata = None if math.isnan(df.no_data) else df.no_data
    with rasterio.open(
        src, "w", driver="GTiff", width=values.size, height=1, count=1, dtype=df.dtype, nodata=nodata,
        crs="EPSG:32631", transform=Affine(10, 0, 300000, 0, -10, 4900000),
    ) as dst:  # fmt: skip
        dst.write(values.astype(df.dtype).reshape(1, 1, -1))
    low, high, real_low, real_high = df.min_value, df.max_value, mapping.real_min, mapping.real_max
    if mapping.exponent == 1:
        ratio = (real_high - real_low) / (high - low)
        scale = f"<ScaleOffset>{real_low - low * ratio!r}</ScaleOffset><ScaleRatio>{ratio!r}</ScaleRatio>"
    else:
        scale = (
            f"<Exponent>{mapping.exponent!r}</Exponent><SrcMin>{low!r}</SrcMin><SrcMax>{high!r}</SrcMax>"
            f"<DstMin>{real_low!r}</DstMin><DstMax>{real_high!r}</DstMax>"
        )
    source_nodata = "" if nodata is None else f"<NODATA>{nodata!r}</NODATA>"
    vrt = tmp_path / "cast.vrt"
    gdal_type = GDAL_NAMES.get(variable.dtype, DTYPE_TO_PROTO_NAME[variable.dtype])
    vrt.write_text(
        f'<VRTDataset rasterXSize="{values.size}" rasterYSize="1"><SRS>EPSG:32631</SRS>'
        "<GeoTransform>300000, 10, 0, 4900000, 0, -10</GeoTransform><VRTRasterBand "
        f'dataType="{gdal_type}" band="1"><NoDataValue>{variable.no_data!r}</NoDataValue>'
        f'<ComplexSource><SourceFilename relativeToVRT="0">{src}</SourceFilename>'
        f"<SourceBand>1</SourceBand>{source_nodata}{scale}</ComplexSource></VRTRasterBand></VRTDataset>"
    )
    with rasterio.open(vrt) as ds:
        return np.asarray(ds.read(1)[0])


def all_values(df: DataFormat) -> np.ndarray:
    low, high = int(df.min_value), int(df.max_value)
    if df.dtype.startswith(("uint", "int")):
        start = max(low - 5, int(np.iinfo(df.dtype).min))
        return np.arange(start, min(high + 5, int(np.iinfo(df.dtype).max)) + 1)
    return np.linspace(df.min_value - 0.5, df.max_value + 0.5, 4001)


Dm, Df = DataMapping, DataFormat

# (mapping, variable, refused?, a phrase of the verdict)
CASES = [
    # the demo's old mismatch: real [0, 1] into UInt16 [0, 10000], nodata 0
    (Dm(Df("uint16", 0, 0, 10000), 0, 1), Df("uint16", 0, 0, 10000), True, "nodata"),
    # its two fixes
    (Dm(Df("uint16", 0, 0, 10000), 0, 1), Df("float32", NAN, 0, 1), False, ""),
    (Dm(Df("uint16", 0, 0, 10000), 0, 10000), Df("uint16", 0, 0, 10000), False, ""),
    # S2 since baseline 04.00: (DN - 1000) / 10000 into a float variable
    (Dm(Df("uint16", 0, 0, 10000), -0.1, 0.9), Df("float32", NAN, -0.1, 1.5), False, ""),
    # ... into a float variable whose nodata 0 is inside the real range: one value lost, warned
    (Dm(Df("uint16", 0, 0, 10000), -0.1, 0.9), Df("float32", 0, 0, 1), False, "nodata 0"),
    # integer variable, coarser but enough levels: precision lost, warned
    (Dm(Df("uint16", 0, 0, 10000), 0, 255), Df("uint8", 0, 0, 255), False, "precision"),
    # exponent != 1 (e.g. a log-like stretch), in and out of a float variable
    (Dm(Df("uint8", 255, 0, 254), 0, 1, exponent=2.0), Df("float32", NAN, 0, 1), False, ""),
    (
        Dm(Df("int16", -32768, -10000, 10000), -1, 1, exponent=0.5),
        Df("int16", -32768, -1, 1),
        True,
        "distinct",
    ),
    # real range mostly outside the variable's range
    (Dm(Df("uint16", 0, 1, 10000), 100, 200), Df("float32", NAN, 0, 120), True, "outside"),
    # partly outside: warned only
    (Dm(Df("uint16", 0, 1, 10000), 100, 200), Df("float32", NAN, 0, 180), False, "outside"),
    # nodata inside the real range of an integer variable: many values become it
    (Dm(Df("uint8", 255, 0, 200), -100, 100), Df("int8", 0, -100, 100), False, "nodata 0"),
    (Dm(Df("uint16", 65535, 0, 60000), -30, 30), Df("int8", 0, -30, 30), True, "nodata"),
    # float file into an integer variable with a scale of 100
    (Dm(Df("float32", NAN, 0, 1), 0, 100), Df("uint8", 255, 0, 100), False, "precision"),
]


@pytest.mark.parametrize(("mapping", "variable", "refused", "phrase"), CASES)
def test_cube_values_are_gdals_and_the_verdict_follows(
    tmp_path: Path, mapping: DataMapping, variable: DataFormat, refused: bool, phrase: str
) -> None:
    values = all_values(mapping.dformat)
    ours = cube_values(values.astype(mapping.dformat.dtype), mapping, variable)
    gdal = gdal_cube(tmp_path, values, mapping, variable)
    assert ours.dtype == gdal.dtype
    if variable.dtype.startswith("float"):
        np.testing.assert_allclose(ours, gdal, rtol=1e-6, atol=1e-7, equal_nan=True)
    else:
        np.testing.assert_array_equal(ours, gdal)
    verdict = check_mapping(mapping, variable)
    assert verdict.is_ok is not refused, verdict
    assert phrase in " ".join(verdict.problems + verdict.warnings), verdict


def test_a_clean_mapping_has_no_warning() -> None:
    verdict = check_mapping(
        DataMapping(DataFormat("uint16", 0, 0, 10000), 0, 1), DataFormat("float32", NAN, 0, 1)
    )
    assert (verdict.problems, verdict.warnings) == ([], [])
    assert verdict.levels_in == verdict.levels_out == 10000


def test_the_suggested_variable_holds_the_values() -> None:
    reflectance = DataMapping(DataFormat("uint16", 0, 0, 10000), 0, 1)
    assert describe_format(suggested_variable(reflectance)) == "Float32 [0, 1], nodata NaN"
    assert check_mapping(reflectance, suggested_variable(reflectance)).is_ok
    raw = DataMapping(DataFormat("uint16", 0, 0, 10000), 0, 10000)
    assert describe_format(suggested_variable(raw)) == "UInt16 [0, 10000], nodata 0"
