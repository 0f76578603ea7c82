"""write_cog's GDAL settings: creation options, the bounded block cache, nodata set on a file source."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.env import get_gdal_config, set_gdal_config

from graphs.cog import (
    DEFAULT_CACHEMAX_BYTES,
    bounded_gdal_cache,
    cache_bound_bytes,
    cog_creation_options,
    is_valid_cog,
    write_cog,
)

TRANSFORM = Affine(10.0, 0.0, 399960.0, 0.0, -10.0, 4800000.0)


def write_jp2(path: Path, data: np.ndarray, **options: Any) -> Path:
    """A georeferenced JPEG2000 band as ESA writes S2 bands (lossless, NBITS=15)."""
    profile = {"driver": "JP2OpenJPEG", "width": data.shape[1], "height": data.shape[0], "count": 1,
               "dtype": "uint16", "crs": "EPSG:32631", "transform": TRANSFORM, "QUALITY": 100,
               "REVERSIBLE": "YES", "NBITS": 15, **options}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


@pytest.fixture
def band() -> np.ndarray:
    data = np.random.default_rng(7).integers(1, 2**15, size=(300, 400), dtype=np.uint16)
    data[:, :20] = 0  # a swath edge: "no data"
    return data


@pytest.fixture(autouse=True)
def gdal_cache_of_1_gib(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """GDAL's cache at 1 GiB, whatever this machine's RAM (GDAL's default, 5 % of it), and no
    GDAL_CACHEMAX in the environment; the cache size restored afterwards."""
    before = get_gdal_config("GDAL_CACHEMAX")
    set_gdal_config("GDAL_CACHEMAX", 2**30)
    yield 2**30
    set_gdal_config("GDAL_CACHEMAX", before)


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What GDAL was given at each COG copy: the creation options and the block cache size then."""
    seen: list[dict[str, Any]] = []
    real_copy = rasterio.shutil.copy

    def copy(src: Any, dst: Any, **options: Any) -> None:
        if options.get("driver") == "COG":  # not the nodata VRT's
            seen.append({"cachemax": get_gdal_config("GDAL_CACHEMAX"), **options})
        real_copy(src, dst, **options)

    monkeypatch.setattr(rasterio.shutil, "copy", copy)
    return seen


def test_creation_options_of_a_jp2_source(tmp_path: Path, band: np.ndarray) -> None:
    with rasterio.open(write_jp2(tmp_path / "B02.jp2", band)) as dataset:
        options = cog_creation_options(dataset, compress="ZSTD", blocksize=256, overview_resampling="average")
    assert options == {
        "COMPRESS": "ZSTD",
        "BLOCKSIZE": "256",
        "OVERVIEW_RESAMPLING": "AVERAGE",
        "NUM_THREADS": "ALL_CPUS",
        "BIGTIFF": "IF_SAFER",
        "PREDICTOR": "YES",
        "NBITS": "16",  # the JP2's NBITS=15 would forbid the predictor
    }


def test_num_threads_follows_gdal_num_threads(
    tmp_path: Path, band: np.ndarray, monkeypatch: pytest.MonkeyPatch, copies: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("GDAL_NUM_THREADS", "1")
    write_cog(band, tmp_path / "out.tif", crs="EPSG:32631", transform=TRANSFORM)
    assert copies[0]["NUM_THREADS"] == "1"


def test_the_block_cache_is_bounded_while_writing_then_restored(
    tmp_path: Path, band: np.ndarray, copies: list[dict[str, Any]]
) -> None:
    before = get_gdal_config("GDAL_CACHEMAX")
    src = write_jp2(tmp_path / "B02.jp2", band)
    with rasterio.Env():  # inside an Env of the caller's, as rasterio.open makes one
        write_cog(src, tmp_path / "out.tif", nodata=0)
    write_cog(band, tmp_path / "array.tif", crs="EPSG:32631", transform=TRANSFORM)
    assert [c["cachemax"] for c in copies] == [DEFAULT_CACHEMAX_BYTES] * 2
    assert get_gdal_config("GDAL_CACHEMAX") == before


def test_gdal_cachemax_in_the_environment_is_left_to_gdal(
    tmp_path: Path, band: np.ndarray, monkeypatch: pytest.MonkeyPatch, copies: list[dict[str, Any]]
) -> None:
    before = get_gdal_config("GDAL_CACHEMAX")
    monkeypatch.setenv("GDAL_CACHEMAX", "512")
    write_cog(band, tmp_path / "out.tif", crs="EPSG:32631", transform=TRANSFORM)
    assert copies[0]["cachemax"] == before
    assert get_gdal_config("GDAL_CACHEMAX") == before


def test_concurrent_writers_share_the_bound_and_restore_it(
    tmp_path: Path, band: np.ndarray, copies: list[dict[str, Any]]
) -> None:
    before = get_gdal_config("GDAL_CACHEMAX")
    started = threading.Barrier(4)

    def write(i: int) -> None:
        started.wait()
        write_cog(band, tmp_path / f"out{i}.tif", crs="EPSG:32631", transform=TRANSFORM)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [c["cachemax"] for c in copies] == [DEFAULT_CACHEMAX_BYTES] * 4
    assert get_gdal_config("GDAL_CACHEMAX") == before
    assert all(is_valid_cog(tmp_path / f"out{i}.tif") for i in range(4))


def test_nodata_scale_offset_on_a_jp2_source(tmp_path: Path, band: np.ndarray) -> None:
    src = write_jp2(tmp_path / "B02.jp2", band)
    dst = write_cog(src, tmp_path / "B02.tif", nodata=0, overview_resampling="average",
                    scale_offset=(1e-4, -0.1))  # fmt: skip
    assert is_valid_cog(dst)
    with rasterio.open(dst) as out:
        assert out.nodata == 0
        assert (out.scales, out.offsets) == ((1e-4,), (-0.1,))
        assert out.tags(1, ns="IMAGE_STRUCTURE").get("NBITS") is None  # 16: the predictor applies
        assert out.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "2"
        np.testing.assert_array_equal(out.read(1), band)
    with rasterio.open(src) as source:
        assert source.nodata is None  # the source is left as it was: the nodata is on a VRT of it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["B02.jp2", "B02.tif"]


def test_a_jp2_sources_overviews_are_its_own_levels(tmp_path: Path) -> None:
    """The COG driver (OVERVIEWS=AUTO) takes a JPEG2000's reduced resolutions as overviews, through the
    nodata VRT too, as ``gdal_translate -a_nodata`` does: ``overview_resampling`` does not apply."""
    data = np.random.default_rng(3).integers(1, 2**15, size=(1024, 1024), dtype=np.uint16)
    src = write_jp2(tmp_path / "B02.jp2", data, RESOLUTIONS=3)
    dst = write_cog(src, tmp_path / "B02.tif", nodata=0, overview_resampling="average")
    with rasterio.open(dst) as out, rasterio.open(src) as jp2:
        assert out.overviews(1) == jp2.overviews(1) == [2, 4]
        level = out.read(1, out_shape=(512, 512))
        np.testing.assert_array_equal(level, jp2.read(1, out_shape=(512, 512)))
        average = data.reshape(512, 2, 512, 2).mean(axis=(1, 3))
        assert not np.allclose(level, average, atol=1)


def _vrt(width: int, height: int, bands: int, block: int, dtype: str = "UInt16") -> str:
    band = f'<VRTRasterBand dataType="{dtype}" band="{{}}" blockXSize="{block}" blockYSize="{block}"/>'
    body = "".join(band.format(i + 1) for i in range(bands))
    transform = "<GeoTransform>399960, 10, 0, 4800000, 0, -10</GeoTransform>"
    return f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">{transform}{body}</VRTDataset>'


@pytest.mark.parametrize(
    ("shape", "bound"),
    [
        ((10980, 10980, 1, 1024), DEFAULT_CACHEMAX_BYTES),  # an S2 10 m JPEG2000: 22 MiB a row of tiles
        ((40000, 40000, 4, 1024), 2 * 40000 * 1024 * 4 * 2),  # a wide 4-band image: two rows of blocks
    ],
)
def test_the_bound_holds_two_rows_of_source_blocks(shape: tuple[int, int, int, int], bound: int) -> None:
    width, height, bands, block = shape
    with rasterio.open(_vrt(width, height, bands, block)) as dataset:
        assert cache_bound_bytes(dataset) == bound


def test_concurrent_bounds_keep_the_largest_until_the_last_leaves() -> None:
    before = get_gdal_config("GDAL_CACHEMAX")
    with bounded_gdal_cache(100 * 2**20):
        with bounded_gdal_cache(DEFAULT_CACHEMAX_BYTES):
            assert get_gdal_config("GDAL_CACHEMAX") == 100 * 2**20
        with bounded_gdal_cache(200 * 2**20):
            assert get_gdal_config("GDAL_CACHEMAX") == 200 * 2**20
        assert get_gdal_config("GDAL_CACHEMAX") == 200 * 2**20
    assert get_gdal_config("GDAL_CACHEMAX") == before


def test_a_smaller_cache_is_never_raised(
    tmp_path: Path, band: np.ndarray, copies: list[dict[str, Any]]
) -> None:
    before = get_gdal_config("GDAL_CACHEMAX")
    set_gdal_config("GDAL_CACHEMAX", 16 * 2**20)  # set by the caller, e.g. GDALSetCacheMax64
    try:
        write_cog(band, tmp_path / "out.tif", crs="EPSG:32631", transform=TRANSFORM)
        assert copies[0]["cachemax"] == 16 * 2**20
        assert get_gdal_config("GDAL_CACHEMAX") == 16 * 2**20
    finally:
        set_gdal_config("GDAL_CACHEMAX", before)
