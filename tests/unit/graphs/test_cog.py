from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from graphs.cog import Compression, is_valid_cog, write_cog
from graphs.errors import GraphError

TRANSFORM = Affine(20.0, 0.0, 399960.0, 0.0, -20.0, 4800000.0)


@pytest.mark.parametrize("dtype", ["uint16", "int16", "float32", "uint8"])
@pytest.mark.parametrize("compress", ["DEFLATE", "ZSTD"])
def test_array_to_cog(tmp_path: Path, dtype: str, compress: Compression) -> None:
    data = (np.arange(600 * 700) % 5000).reshape(600, 700).astype(dtype)
    dst = write_cog(
        data, tmp_path / "out.tif", crs="EPSG:32631", transform=TRANSFORM, nodata=0, compress=compress
    )
    assert is_valid_cog(dst)
    with rasterio.open(dst) as ds:
        assert ds.crs.to_epsg() == 32631
        assert ds.transform == TRANSFORM
        assert ds.nodata == 0
        assert ds.block_shapes == [(512, 512)]
        assert ds.overviews(1) == [2]
        assert ds.compression.value == compress
        np.testing.assert_array_equal(ds.read(1), data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif"]  # no temporary left


def test_multiband_array(tmp_path: Path) -> None:
    data = np.ones((4, 64, 64), dtype="uint16")
    dst = write_cog(data, tmp_path / "ms.tif", crs="EPSG:32631", transform=TRANSFORM)
    with rasterio.open(dst) as ds:
        assert ds.count == 4


def test_file_to_cog_in_place(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tif"
    data = np.arange(100 * 80, dtype="float32").reshape(1, 100, 80)
    profile = {
        "driver": "GTiff",
        "width": 80,
        "height": 100,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": Affine(0.1, 0, 10, 0, -0.1, 50),
    }
    with rasterio.open(plain, "w", **profile) as ds:
        ds.write(data)
    write_cog(plain, plain, nodata=-1.0)
    assert is_valid_cog(plain)
    with rasterio.open(plain) as ds:
        assert ds.nodata == -1.0
        np.testing.assert_array_equal(ds.read(), data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.tif"]


def test_a_plain_striped_tiff_is_not_a_cog(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tif"
    profile = {
        "driver": "GTiff",
        "width": 1200,
        "height": 1200,
        "count": 1,
        "dtype": "uint8",
        "crs": "EPSG:4326",
        "transform": Affine(0.1, 0, 10, 0, -0.1, 50),
    }
    with rasterio.open(plain, "w", **profile) as ds:
        ds.write(np.zeros((1, 1200, 1200), dtype="uint8"))
    assert not is_valid_cog(plain)
    assert not is_valid_cog(tmp_path / "missing.tif")


def test_failures_leave_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "broken.jp2").write_bytes(b"not a raster")
    with pytest.raises(GraphError, match=r"write_cog: cannot write .*broken\.jp2"):
        write_cog(tmp_path / "broken.jp2", tmp_path / "out.tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.jp2"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"compress": "LZW"}, "compress 'LZW' is not supported"),
        ({"blocksize": 100}, "multiple of 16"),
        ({"crs": None}, "needs crs= and transform="),
    ],
)
def test_bad_options(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    options = {"crs": "EPSG:32631", "transform": TRANSFORM} | kwargs
    with pytest.raises(GraphError, match=message):
        write_cog(np.zeros((16, 16), dtype="uint8"), tmp_path / "x.tif", **options)  # type: ignore[arg-type]
