"""One-burst SAFEs cut from the real Sentinel-1 products of ../shared/fixtures/s1 (PROVENANCE.md)."""

from __future__ import annotations

import hashlib
import shutil
import warnings
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from catalogue.burst_safe import (
    BurstSafeError,
    burst_safe_name,
    check_one_burst_safe,
    cut_burst_safe,
    merge_one_burst_safes,
    read_burst_pixels,
)

S7768 = "S1A_IW_SLC__1SDV_20200511T135117_20200511T135144_032518_03C421_7768"
EFA4 = "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4"
S62D6 = "S1A_IW_SLC__1SDV_20220918T074920_20220918T074947_045056_056232_62D6"
CROP_LINE, CROP_SAMPLE = 9799, 10999  # PROVENANCE.md: crop pixel (0, 0) in the full swath


def _root(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # noqa: S314 - our own output


def _lines(parent: ET.Element, item: str) -> list[int]:
    return [int(e.findtext("line") or "") for e in parent.findall(item)]


@pytest.fixture(scope="module")
def efa4_safe(shared_fixtures: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zipped SLC with real annotations and dummy (constant) ZSTD TIFFs, unpacked once."""
    target = tmp_path_factory.mktemp("efa4")
    with zipfile.ZipFile(shared_fixtures / "s1" / f"{EFA4}.zip") as zf:
        zf.extractall(target)
    return target / f"{EFA4}.SAFE"


@pytest.mark.parametrize(("swath", "burst"), [("IW1", 1), ("IW2", 5), ("IW3", 9)])
def test_every_cut_xml_parses_and_lists_one_burst(
    shared_fixtures: Path, tmp_path: Path, swath: str, burst: int
) -> None:
    source = shared_fixtures / "s1" / f"{S7768}.SAFE"
    cut = cut_burst_safe(source, tmp_path / burst_safe_name(S7768, swath, burst), swath=swath, burst=burst)
    assert cut.path.name == f"{S7768}_{swath}_B{burst:02d}.SAFE"
    assert cut.polarisations == ("VH", "VV")
    lines = cut.lines
    for pol in ("vh", "vv"):
        [annotation] = (cut.path / "annotation").glob(f"s1a-{swath.lower()}-slc-{pol}-*.xml")
        original = _root(source / "annotation" / annotation.name)
        root = _root(annotation)
        burst_list = root.find("swathTiming/burstList")
        assert burst_list is not None and burst_list.get("count") == "1"
        [kept] = burst_list.findall("burst")
        [wanted] = [
            b for i, b in enumerate(original.iterfind("swathTiming/burstList/burst")) if i == burst - 1
        ]
        assert kept.findtext("azimuthAnxTime") == wanted.findtext("azimuthAnxTime")
        assert root.findtext("imageAnnotation/imageInformation/numberOfLines") == str(lines)
        assert root.findtext("imageAnnotation/imageInformation/productFirstLineUtcTime", "").startswith(
            (wanted.findtext("azimuthTime") or "?")[:23]
        )
        grid = root.find("geolocationGrid/geolocationGridPointList")
        assert grid is not None
        grid_lines = sorted(set(_lines(grid, "geolocationGridPoint")))
        assert grid_lines[0] == 0 and grid_lines[-1] in (lines - 1, lines)  # the last burst ends at L-1
        assert grid.get("count") == str(len(grid.findall("geolocationGridPoint")))
        fm = root.find("generalAnnotation/azimuthFmRateList")
        assert fm is not None and len(fm) == len(original.findall("generalAnnotation/azimuthFmRateList/*"))

        calibration = _root(
            next((cut.path / "annotation/calibration").glob(f"calibration-*{swath.lower()}*-{pol}-*"))
        )
        vectors = calibration.find("calibrationVectorList")
        assert vectors is not None
        cal_lines = _lines(vectors, "calibrationVector")
        assert cal_lines[0] <= 0 and cal_lines[-1] >= lines - 1  # brackets the burst
        assert all(-3000 < v < lines + 3000 for v in cal_lines)

        noise = _root(next((cut.path / "annotation/calibration").glob(f"noise-*{swath.lower()}*-{pol}-*")))
        range_vectors = noise.find("noiseRangeVectorList")  # IPF 3.20: the layout of 2.90 and later
        assert range_vectors is not None
        noise_lines = _lines(range_vectors, "noiseRangeVector")
        assert noise_lines[0] <= 0 and range_vectors.get("count") == str(len(noise_lines))
        assert all(v < lines for v in noise_lines[:-1])  # one after the burst at most
        azimuth = noise.find("noiseAzimuthVectorList/noiseAzimuthVector")
        assert azimuth is not None
        assert azimuth.findtext("firstAzimuthLine") == "0"
        assert azimuth.findtext("lastAzimuthLine") == str(lines - 1)
        az_lines = [int(v) for v in (azimuth.findtext("line") or "").split()]
        az_lut = (azimuth.findtext("noiseAzimuthLut") or "").split()
        assert len(az_lines) == len(az_lut) and az_lines[0] <= 0 and az_lines[-1] >= lines - 1

    manifest = _root(cut.path / "manifest.safe")
    hrefs = {
        loc.get("href", "").removeprefix("./"): loc
        for loc in manifest.iterfind("dataObjectSection/dataObject/byteStream/fileLocation")
    }
    # The measurement TIFFs of 7768 are empty upstream: not kept, not listed.
    assert sorted(hrefs) == sorted(f for f in cut.files if not f.startswith("support/"))
    for stream in manifest.iterfind("dataObjectSection/dataObject/byteStream"):
        path = cut.path / (stream.find("fileLocation").get("href", "")).removeprefix("./")  # type: ignore[union-attr]
        assert stream.get("size") == str(path.stat().st_size)
        assert stream.findtext("checksum") == hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324
    text = (cut.path / "manifest.safe").read_text()
    assert "<dataObjectSection>" in text and "xmlns=" not in text  # unprefixed, as readers look for it
    pointers = {p.get("dataObjectID") for p in manifest.iter("dataObjectPointer")}
    ids = {d.get("ID") for d in manifest.iterfind("dataObjectSection/dataObject")}
    assert pointers <= ids  # nothing points at a file that is not there
    swaths = [
        e.text for e in manifest.iter("{http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1}swath")
    ]
    assert swaths == [swath]
    checked = check_one_burst_safe(cut.path)
    assert (checked.swath, checked.lines, checked.polarisations) == (swath, lines, ("VH", "VV"))


@pytest.mark.slow  # a full-size swath TIFF: about 4 s
def test_measurement_lines_are_the_bursts_lines(efa4_safe: Path, tmp_path: Path) -> None:
    cut = cut_burst_safe(efa4_safe, tmp_path / "b.SAFE", swath="IW1", burst=3, polarisations=["vv"])
    assert cut.polarisations == ("VV",) and cut.lines == 1501
    [tiff] = (cut.path / "measurement").glob("*.tiff")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # SLC TIFFs are in radar geometry
        out = rasterio.open(tiff)
    with out:
        assert (out.height, out.width, out.dtypes[0], out.block_shapes[0]) == (
            1501,
            21632,
            "complex_int16",
            (512, 512),
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(efa4_safe / "measurement" / tiff.name) as src:
            expected = src.read(1, window=Window(0, 2 * 1501, 21632, 1501))
    np.testing.assert_array_equal(read_burst_pixels(tiff), expected)
    assert check_one_burst_safe(cut.path).files == cut.files or set(
        check_one_burst_safe(cut.path).files
    ) == set(cut.files)


def test_the_real_slc_crop_is_copied_exactly(shared_fixtures: Path, tmp_path: Path) -> None:
    """The real 601 x 1401 CInt16 crop, put back at its place in a sparse full-swath TIFF (13626 x 24203,
    nothing written outside the crop), lies in burst 7: its pixels come out of the cut unchanged."""
    source = shared_fixtures / "s1" / f"{S62D6}.SAFE"
    safe = tmp_path / f"{S62D6}.SAFE"
    [annotation] = (source / "annotation").glob("*.xml")
    (safe / "annotation").mkdir(parents=True)
    shutil.copy(annotation, safe / "annotation" / annotation.name)
    [crop_path] = (source / "measurement").glob("*.tiff")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(crop_path) as crop:
            pixels = crop.read(1)
        (safe / "measurement").mkdir()
        full = safe / "measurement" / (annotation.stem + ".tiff")
        profile = {"driver": "GTiff", "width": 24203, "height": 13626, "count": 1, "dtype": "complex_int16",
                   "tiled": True, "blockxsize": 256, "blockysize": 256, "SPARSE_OK": "TRUE"}  # fmt: skip
        with rasterio.open(full, "w", **profile) as out:
            out.write(pixels, 1, window=Window(CROP_SAMPLE, CROP_LINE, 1401, 601))
    cut = cut_burst_safe(safe, tmp_path / "burst.SAFE", swath="IW3", burst=7)
    assert cut.lines == 1514
    [tiff] = (cut.path / "measurement").glob("*.tiff")
    first = 6 * 1514  # burst 7 (1-based) starts at swath line 9084
    burst_pixels = read_burst_pixels(tiff)
    assert burst_pixels.shape == (1514, 24203)
    np.testing.assert_array_equal(
        burst_pixels[CROP_LINE - first : CROP_LINE - first + 601, CROP_SAMPLE : CROP_SAMPLE + 1401], pixels
    )
    assert np.count_nonzero(burst_pixels) == np.count_nonzero(pixels)  # nothing else moved in
    assert check_one_burst_safe(cut.path).samples == 24203


def test_the_noise_layout_before_ipf_2_90(shared_fixtures: Path, tmp_path: Path) -> None:
    """Before IPF 2.90 the noise XML has one noiseVectorList of noiseVector{azimuthTime, line, pixel,
    noiseLut} (S1-RS-MDA-52-7441 ed. 3.x; e.g. xarray-sentinel's ``noiseVectorList`` branch). Made here from
    the real 3.20 file with those names, since no pre-2.90 noise file is in the fixtures."""
    source = shared_fixtures / "s1" / f"{S7768}.SAFE"
    safe = tmp_path / f"{S7768}.SAFE"
    shutil.copytree(source / "annotation", safe / "annotation")
    for noise in (safe / "annotation/calibration").glob("noise-*.xml"):
        text = noise.read_text()
        start, end = text.index("<noiseAzimuthVectorList"), text.index("</noiseAzimuthVectorList>")
        text = text[:start] + text[end + len("</noiseAzimuthVectorList>") :]
        noise.write_text(text.replace("noiseRangeVector", "noiseVector").replace("noiseRangeLut", "noiseLut"))
    cut = cut_burst_safe(safe, tmp_path / "b.SAFE", swath="IW2", burst=4, polarisations=["VV"])
    [noise] = (cut.path / "annotation/calibration").glob("noise-*.xml")
    vectors = _root(noise).find("noiseVectorList")
    assert vectors is not None
    lines = _lines(vectors, "noiseVector")
    assert lines[0] <= 0 and lines[-1] >= cut.lines - 1 and vectors.get("count") == str(len(lines))


def test_bad_requests_and_full_products_are_refused(shared_fixtures: Path, tmp_path: Path) -> None:
    source = shared_fixtures / "s1" / f"{S7768}.SAFE"
    with pytest.raises(BurstSafeError, match=r"burst 10 asked for; the swath has bursts 1 to 9"):
        cut_burst_safe(source, tmp_path / "x.SAFE", swath="IW1", burst=10)
    assert not (tmp_path / "x.SAFE").exists()
    with pytest.raises(BurstSafeError, match=r"no polarisation HH; it has VH, VV"):
        cut_burst_safe(source, tmp_path / "x.SAFE", swath="IW1", burst=1, polarisations=["HH"])
    with pytest.raises(BurstSafeError, match=r"no annotation of swath 'EW1'"):
        cut_burst_safe(source, tmp_path / "x.SAFE", swath="EW1", burst=1)
    with pytest.raises(BurstSafeError, match=r"annotations of 3 swaths"):
        check_one_burst_safe(source)
    one_swath = tmp_path / "one.SAFE"
    (one_swath / "annotation").mkdir(parents=True)
    for f in (source / "annotation").glob("s1a-iw1-*.xml"):
        shutil.copy(f, one_swath / "annotation" / f.name)
    with pytest.raises(BurstSafeError, match=r"9 bursts in swathTiming/burstList, not one"):
        check_one_burst_safe(one_swath)


def test_a_tiff_that_does_not_match_its_annotation_is_refused(efa4_safe: Path, tmp_path: Path) -> None:
    cut = cut_burst_safe(efa4_safe, tmp_path / "b.SAFE", swath="IW1", burst=1, polarisations=["VH"])
    [tiff] = (cut.path / "measurement").glob("*.tiff")
    profile = {"driver": "GTiff", "width": 100, "height": 10, "count": 1, "dtype": "complex_int16"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(tiff, "w", **profile) as out:
            out.write(np.zeros((10, 100), dtype=np.complex64), 1)
    with pytest.raises(BurstSafeError, match=r"10 x 100 pixels; one burst is 1501 lines"):
        check_one_burst_safe(cut.path)
    (tmp_path / "garbage.SAFE" / "annotation").mkdir(parents=True)
    (tmp_path / "garbage.SAFE" / "annotation" / "s1a-iw1-slc-vv-x.xml").write_text("<html>nope</html>")
    with pytest.raises(BurstSafeError, match=r"no swathTiming"):
        check_one_burst_safe(tmp_path / "garbage.SAFE")


@pytest.mark.slow  # two full-size bursts: about 3 s
def test_one_polarisation_safes_merge_into_one(efa4_safe: Path, tmp_path: Path) -> None:
    """CDSE's burst service answers one polarisation per call: VV and VH become one SAFE again."""
    vv = cut_burst_safe(efa4_safe, tmp_path / "vv.SAFE", swath="IW1", burst=2, polarisations=["VV"])
    vh = cut_burst_safe(efa4_safe, tmp_path / "vh.SAFE", swath="IW1", burst=2, polarisations=["VH"])
    merged = merge_one_burst_safes([vv.path, vh.path], tmp_path / "both.SAFE")
    assert merged.polarisations == ("VH", "VV") and merged.lines == 1501
    manifest = _root(merged.path / "manifest.safe")
    hrefs = sorted(
        loc.get("href", "").removeprefix("./")
        for loc in manifest.iterfind("dataObjectSection/dataObject/byteStream/fileLocation")
    )
    assert hrefs == sorted(f for f in (*vv.files, *vh.files) if not f.startswith("support/"))
    pols = [
        e.text
        for e in manifest.iter(
            "{http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1}transmitterReceiverPolarisation"
        )
    ]
    assert sorted(p or "" for p in pols) == ["VH", "VV"]
    other = cut_burst_safe(efa4_safe, tmp_path / "iw2.SAFE", swath="IW2", burst=2)
    with pytest.raises(BurstSafeError, match=r"not the same burst"):
        merge_one_burst_safes([vv.path, other.path], tmp_path / "bad.SAFE")


@pytest.mark.slow  # about 5 s
def test_xarray_sentinel_opens_the_one_burst_safe(efa4_safe: Path, tmp_path: Path) -> None:
    """A one-burst reader opens the cut as one burst (checked by hand with xarray-sentinel 0.9.6,
    burst 9 of a swath too; the test runs where it is installed)."""
    xarray_sentinel = pytest.importorskip("xarray_sentinel", reason="xarray-sentinel is not installed")
    import xarray as xr

    cut = cut_burst_safe(efa4_safe, tmp_path / "b.SAFE", swath="IW1", burst=9, polarisations=["VV"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the dummy TIFFs carry no GCPs
        # rioxarray multiplies affine transforms with `*`, which affine 2.4+ deprecates: not ours
        warnings.filterwarnings("ignore", "Use `@` matmul", PendingDeprecationWarning)
        swath = xr.open_dataset(cut.path, engine="sentinel-1", group="IW1/VV")
        burst = xarray_sentinel.crop_burst_dataset(swath, burst_index=0)
        assert dict(burst.sizes) == {"azimuth_time": 1501, "slant_range_time": 21632}
        [tiff] = (cut.path / "measurement").glob("*.tiff")
        np.testing.assert_array_equal(burst.measurement.values[:64, :64], read_burst_pixels(tiff)[:64, :64])
        grid = xr.open_dataset(cut.path, engine="sentinel-1", group="IW1/VV/gcp")
        assert list(grid.line.values) == [0, 1500]
