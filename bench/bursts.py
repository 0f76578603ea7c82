"""Bytes per Sentinel-1 burst ingested (the stored one-burst SAFE zip) against the size of the SLC.

Prepare, from ``../shared/fixtures/s1`` (``GEOCUBE_INGESTER_FIXTURES`` overrides it):

1. the zipped SLC ``S1B_…_EFA4`` (real annotations, dummy pixels): its zip, and the stored zip of one
   burst cut from it (IW1 burst 3, VV + VH) as the download job stores it (``save_layer``, deflate 1);
2. the REAL SLC pixel crop (601 x 1401 CInt16, IW3 VV of ``S1A_…_62D6``), put back at its place in a
   sparse full-swath TIFF (13626 x 24203): burst 7 cut from it (the cut's time), and how much real SLC
   pixels deflate (the crop's raw bytes against its zip);
3. the real product ``S1A_…_7768``: its manifest's sizes of the six measurement TIFFs (the SLC's
   pixels, 7.6 GB) and its XML; each swath's one-burst SAFE: the XML cut here, and the burst's TIFF
   bytes (linesPerBurst x samplesPerBurst x 4 bytes per polarisation, as written), raw and deflated at
   the crop's ratio.

Run: the cuts, timed. Report: a table of bytes per burst (all polarisations), the SLC's bytes, the
ratio, and the bursts an SLC holds (the baseline: a burst tile of a whole-SLC download costs the SLC).
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import rasterio
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from catalogue.burst_safe import cut_burst_safe

REPO = Path(__file__).resolve().parents[1]
EFA4 = "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4"
S62D6 = "S1A_IW_SLC__1SDV_20220918T074920_20220918T074947_045056_056232_62D6"
S7768 = "S1A_IW_SLC__1SDV_20200511T135117_20200511T135144_032518_03C421_7768"
CROP_LINE, CROP_SAMPLE = 9799, 10999


def _fixtures() -> Path:
    path = Path(os.environ.get("GEOCUBE_INGESTER_FIXTURES", REPO.parent / "shared" / "fixtures")) / "s1"
    if not path.is_dir():
        raise SystemExit(f"bursts: the shared fixtures {path} are absent")
    return path


def _zipped(safe: Path, work: Path, name: str) -> int:
    """Bytes of the zip of ``safe`` as ``storage.layout.save_layer`` stores a SAFE layer (deflate 1)."""
    out = work / f"{name}.zip"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sorted(safe.rglob("*")):
            zf.write(path, f"{name}.SAFE/{path.relative_to(safe).as_posix()}")
    return out.stat().st_size


def _efa4(s1: Path, work: Path) -> tuple[int, int, int, float]:
    """(SLC zip bytes, bursts in the SLC, one-burst zip bytes, cut + zip seconds)."""
    with zipfile.ZipFile(s1 / f"{EFA4}.zip") as zf:
        zf.extractall(work / "efa4")
    safe = work / "efa4" / f"{EFA4}.SAFE"
    started = time.perf_counter()
    cut = cut_burst_safe(safe, work / "efa4-b3.SAFE", swath="IW1", burst=3)
    size = _zipped(cut.path, work, "efa4-b3")
    seconds = time.perf_counter() - started
    bursts = sum(len(ET.parse(p).getroot().findall("swathTiming/burstList/burst"))  # noqa: S314
                 for p in (safe / "annotation").glob("*-vv-*.xml"))  # fmt: skip
    return (s1 / f"{EFA4}.zip").stat().st_size, bursts, size, seconds


def _crop(s1: Path, work: Path) -> tuple[float, float, int]:
    """(deflate ratio of real SLC pixels, seconds to cut burst 7 of a full swath, burst TIFF bytes)."""
    [crop_path] = (s1 / f"{S62D6}.SAFE" / "measurement").glob("*.tiff")
    [annotation] = (s1 / f"{S62D6}.SAFE" / "annotation").glob("*.xml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(crop_path) as crop:
            pixels = crop.read(1)
        raw = work / "crop.raw"
        raw.write_bytes(pixels.astype("<c8").view("<f4").astype("<i2").tobytes())  # CInt16 as stored
        with zipfile.ZipFile(work / "crop.zip", "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.write(raw, "crop.raw")
        ratio = (work / "crop.zip").stat().st_size / raw.stat().st_size
        safe = work / f"{S62D6}.SAFE"
        (safe / "annotation").mkdir(parents=True)
        (safe / "annotation" / annotation.name).write_bytes(annotation.read_bytes())
        (safe / "measurement").mkdir()
        profile = {"driver": "GTiff", "width": 24203, "height": 13626, "count": 1, "dtype": "complex_int16",
                   "tiled": True, "blockxsize": 256, "blockysize": 256, "SPARSE_OK": "TRUE"}  # fmt: skip
        with rasterio.open(safe / "measurement" / (annotation.stem + ".tiff"), "w", **profile) as out:
            out.write(pixels, 1, window=Window(CROP_SAMPLE, CROP_LINE, 1401, 601))
    started = time.perf_counter()
    cut = cut_burst_safe(safe, work / "crop-b7.SAFE", swath="IW3", burst=7)
    seconds = time.perf_counter() - started
    tiff = next((cut.path / "measurement").glob("*.tiff")).stat().st_size
    return ratio, seconds, tiff


def _real_sizes(s1: Path, work: Path, ratio: float) -> list[tuple[str, int, int, int, int]]:
    """Per swath of 7768: (swath, SLC measurement bytes, one-burst raw bytes, deflated estimate, bursts)."""
    safe = s1 / f"{S7768}.SAFE"
    manifest = ET.parse(safe / "manifest.safe").getroot()  # noqa: S314 - the fixture
    tiff_sizes = {
        (loc.get("href") or ""): int(stream.get("size") or 0)
        for stream in manifest.iterfind("dataObjectSection/dataObject/byteStream")
        if (loc := stream.find("fileLocation")) is not None and (loc.get("href") or "").endswith(".tiff")
    }
    slc = sum(tiff_sizes.values()) + sum(p.stat().st_size for p in safe.rglob("*.xml"))
    rows = []
    for swath in ("IW1", "IW2", "IW3"):
        cut = cut_burst_safe(safe, work / f"7768-{swath}.SAFE", swath=swath, burst=5)
        xml = (
            sum((cut.path / f).stat().st_size for f in cut.files)
            + (cut.path / "manifest.safe").stat().st_size
        )
        pixels = cut.lines * cut.samples * 4 * len(cut.polarisations)
        bursts = len(ET.parse(next((safe / "annotation").glob(f"*-{swath.lower()}-*-vv-*.xml"))).getroot()  # noqa: S314
                     .findall("swathTiming/burstList/burst"))  # fmt: skip
        xml_zip = _zipped(cut.path, work, f"7768-{swath}")
        rows.append((swath, slc, xml + pixels, xml_zip + round(pixels * ratio), bursts))
    return rows


def main() -> None:
    s1 = _fixtures()
    print("bytes per S1 burst ingested (the stored one-burst SAFE zip) against the SLC")
    with tempfile.TemporaryDirectory(prefix="bench-bursts-") as tmp:
        work = Path(tmp)
        slc_zip, bursts, burst_zip, cut_s = _efa4(s1, work)
        ratio, crop_s, crop_tiff = _crop(s1, work)
        rows = _real_sizes(s1, work, ratio)
    print(f"{'product':<44} {'SLC MB':>9} {'burst MB':>9} {'burst/SLC':>10} {'bursts/swath':>13}")
    print(f"{'EFA4 zip (dummy pixels), IW1 b3 VV+VH, zip':<44} {slc_zip / 1e6:>9.2f} {burst_zip / 1e6:>9.2f} "
          f"{burst_zip / slc_zip:>10.3f} {bursts:>13}")  # fmt: skip
    for swath, slc, raw, zipped, n in rows:
        print(f"{'7768 (real sizes), ' + swath + ' VV+VH, unzipped':<44} {slc / 1e6:>9.0f} {raw / 1e6:>9.1f} "
              f"{raw / slc:>10.4f} {n:>13}")  # fmt: skip
        slc_zip_est = slc * ratio
        print(f"{'7768 (real sizes), ' + swath + ' VV+VH, zip (est.)':<44} {slc_zip_est / 1e6:>9.0f} "
              f"{zipped / 1e6:>9.1f} {zipped / slc_zip_est:>10.4f} {n:>13}")  # fmt: skip
    print(f"real SLC pixels (62D6 crop) deflate to {ratio:.2f} of their size at level 1 (save_layer's)")
    print(f"cut: EFA4 IW1 burst, 2 pols, cut + zip {cut_s:.2f} s; 62D6 IW3 burst 7 (1 pol, "
          f"{crop_tiff / 1e6:.0f} MB TIFF) from a full-swath TIFF {crop_s:.2f} s")  # fmt: skip
