"""Sentinel-1 burst bodies for the burst providers' tests, made from the real products of the fixtures.

- :func:`one_burst_zip`: a zipped one-burst SAFE, what CDSE's burst service answers (cut here from the
  zipped SLC ``S1B_…_EFA4``: real annotations, dummy TIFF pixels);
- :func:`asf_metadata_xml` and :func:`asf_burst_tiff`: ASF's burst extractor answers. The XML follows the
  structure burst2safe reads (``utils.get_subxml_from_metadata``: ``metadata/{product|calibration|noise}``
  with ``swath``, ``polarisation`` and ``content``, and ``manifest/xfdu:XFDU``), filled with the real
  XML of EFA4; no recorded ASF answer was found (PROVENANCE.md, "Not found").
"""

from __future__ import annotations

import io
import re
import warnings
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import rasterio
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from catalogue.burst_safe import cut_burst_safe, find_swath_files

EFA4 = "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4"


def unpack_efa4(shared_fixtures: Path, target: Path) -> Path:
    """The zipped EFA4 SLC unpacked in ``target``: its SAFE folder."""
    with zipfile.ZipFile(shared_fixtures / "s1" / f"{EFA4}.zip") as zf:
        zf.extractall(target)
    return target / f"{EFA4}.SAFE"


def one_burst_zip(safe: Path, work: Path, *, swath: str, burst: int, polarisation: str) -> bytes:
    """A zip holding ``<name>.SAFE/``, the one-burst SAFE of one polarisation."""
    name = f"{EFA4}_{swath}_{polarisation}_B{burst:02d}.SAFE"
    cut = cut_burst_safe(safe, work / name, swath=swath, burst=burst, polarisations=[polarisation])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sorted(cut.path.rglob("*")):
            zf.write(path, f"{name}/{path.relative_to(cut.path).as_posix()}")
    return buffer.getvalue()


def asf_metadata_xml(safe: Path, *, swath: str, polarisation: str) -> bytes:
    files = find_swath_files(safe, swath)[polarisation]
    root = ET.Element("burst")
    metadata = ET.SubElement(root, "metadata")
    for kind, name in (
        ("product", files.annotation),
        ("calibration", files.calibration),
        ("noise", files.noise),
    ):
        assert name is not None
        element = ET.SubElement(metadata, kind)
        ET.SubElement(element, "swath").text = swath
        ET.SubElement(element, "polarisation").text = polarisation
        content = ET.SubElement(element, "content")
        content.extend(list(ET.parse(safe / name).getroot()))  # noqa: S314 - the fixture
    manifest = ET.SubElement(root, "manifest")
    text = (safe / "manifest.safe").read_bytes()
    for prefix, uri in re.findall(rb'xmlns:(\w+)="([^"]+)"', text):
        ET.register_namespace(prefix.decode(), uri.decode())
    manifest.append(ET.fromstring(text))  # noqa: S314 - the fixture
    return bytes(ET.tostring(root, encoding="UTF-8", xml_declaration=True))


def asf_burst_tiff(safe: Path, dest: Path, *, swath: str, polarisation: str, burst: int) -> bytes:
    """The burst's lines of the swath TIFF, as ASF extracts them (DEFLATE here: the pixels are dummies)."""
    files = find_swath_files(safe, swath)[polarisation]
    assert files.measurement is not None
    annotation = ET.parse(safe / files.annotation).getroot()  # noqa: S314 - the fixture
    lines = int(annotation.findtext("swathTiming/linesPerBurst") or 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(safe / files.measurement) as src:
            pixels = src.read(1, window=Window(0, (burst - 1) * lines, src.width, lines))
        profile = {"driver": "GTiff", "width": pixels.shape[1], "height": lines, "count": 1,
                   "dtype": "complex_int16", "compress": "deflate"}  # fmt: skip
        with rasterio.open(dest, "w", **profile) as out:
            out.write(pixels, 1)
    return dest.read_bytes()
