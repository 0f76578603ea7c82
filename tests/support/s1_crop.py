"""A one-burst SAFE of REAL Sentinel-1 pixels, made from the fixtures' SLC crop of ``…62D6``.

The only real SLC pixels found (PROVENANCE.md) are a 601 x 1401 CInt16 crop of IW3 VV of
``S1A_IW_SLC__1SDV_20220918T074920_…_056232_62D6``: swath lines 9799…10399, samples 10999…12399, inside
burst 7 (burst lines 715…1315), with the product's full-swath annotation. :func:`make_crop_safe` writes it
as the one-burst SAFE the backscatter graph reads, whose one burst *is* the crop:

- **annotation**: the real one, with ``burstList`` reduced to burst 7 (azimuth time and ANX time moved to
  the crop's first line, valid samples cut and shifted), ``linesPerBurst``/``numberOfLines`` 601,
  ``samplesPerBurst``/``numberOfSamples`` 1401, ``slantRangeTime`` moved to sample 10999, and the
  geolocation grid rows of burst 7's start and end re-based to the crop's line 0 and sample 0;
- **calibration and noise**: 62D6's do not exist publicly, so those of the same swath and polarisation
  of ``S1A_IW_SLC__1SDV_20200511T135117_…_7768`` (IPF 3.20, the same IW3 beam) are used, taken at the
  same position in its burst 7 and aligned in slant range time (a LUT pixel is moved by the difference
  of the two products' first slant range times). The radiometry is therefore that of the same beam two
  years earlier: good to a fraction of a dB, enough for plausibility ranges;
- **measurement**: the crop TIFF, under the annotation's standard name;
- **manifest.safe**: written here from the annotation's own fields (62D6's manifest is not public either),
  with the elements xarray-sentinel 0.9.6 reads (``esa_safe.parse_manifest_sentinel1``).
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

P62D6 = "S1A_IW_SLC__1SDV_20220918T074920_20220918T074947_045056_056232_62D6"
P7768 = "S1A_IW_SLC__1SDV_20200511T135117_20200511T135144_032518_03C421_7768"
STEM_62D6 = "s1a-iw3-slc-vv-20220918t074921-20220918t074946-045056-056232-006"
STEM_7768 = "s1a-iw3-slc-vv-20200511t135118-20200511t135143-032518-03c421-006"
CROP_TIFF = "s1a-iw3-slc-vv_subset_hight9800_10400_width11000_11000.tiff"
FIRST_LINE, FIRST_SAMPLE = 9799, 10999  # crop pixel (0, 0) in the full swath (PROVENANCE.md)
LINES, SAMPLES = 601, 1401
BURST = 7  # 1-based
LINE_IN_BURST = 715  # the crop's first line in burst 7
_TIME = "%Y-%m-%dT%H:%M:%S.%f"


@dataclass(frozen=True)
class CropSafe:
    path: Path
    annotation: Path
    land_rows: slice  # rows of the crop that are land (PROVENANCE.md: rows 0-299, mean amplitude 85)
    sea_rows: slice  # rows that are sea (rows 420-600, mean amplitude 11)


def _text(element: ET.Element, path: str) -> str:
    found = element.find(path)
    assert found is not None and found.text is not None, path
    return found.text.strip()


def _set(element: ET.Element, path: str, value: str) -> None:
    found = element.find(path)
    assert found is not None, path
    found.text = value


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _fmt(value: datetime) -> str:
    return value.strftime(_TIME)


def _cut_annotation(root: ET.Element) -> tuple[datetime, float, float]:
    """Reduce the annotation to the crop; return (first line time, line interval, first slant time)."""
    info = root.find("imageAnnotation/imageInformation")
    timing = root.find("swathTiming")
    assert info is not None and timing is not None
    interval = float(_text(info, "azimuthTimeInterval"))
    rate = float(_text(root, "generalAnnotation/productInformation/rangeSamplingRate"))
    lines_per_burst = int(_text(timing, "linesPerBurst"))
    burst_list = timing.find("burstList")
    assert burst_list is not None
    bursts = burst_list.findall("burst")
    keep = bursts[BURST - 1]
    for burst in bursts:
        if burst is not keep:
            burst_list.remove(burst)
    burst_list.set("count", "1")
    start = _time(_text(keep, "azimuthTime")) + timedelta(seconds=LINE_IN_BURST * interval)
    _set(keep, "azimuthTime", _fmt(start))
    _set(keep, "azimuthAnxTime", repr(float(_text(keep, "azimuthAnxTime")) + LINE_IN_BURST * interval))
    _set(
        keep,
        "sensingTime",
        _fmt(_time(_text(keep, "sensingTime")) + timedelta(seconds=LINE_IN_BURST * interval)),
    )
    for tag in ("firstValidSample", "lastValidSample"):
        element = keep.find(tag)
        assert element is not None and element.text is not None
        values = [int(v) for v in element.text.split()][LINE_IN_BURST : LINE_IN_BURST + LINES]
        shifted = [-1 if v < 0 else min(max(v - FIRST_SAMPLE, 0), SAMPLES - 1) for v in values]
        element.text = " ".join(str(v) for v in shifted)
        element.set("count", str(LINES))
    slant0 = float(_text(info, "slantRangeTime")) + FIRST_SAMPLE / rate
    stop = start + timedelta(seconds=(LINES - 1) * interval)
    for parent, tag, value in (
        (info, "productFirstLineUtcTime", _fmt(start)), (info, "productLastLineUtcTime", _fmt(stop)),
        (info, "slantRangeTime", repr(slant0)), (info, "numberOfSamples", str(SAMPLES)),
        (info, "numberOfLines", str(LINES)), (timing, "linesPerBurst", str(LINES)),
        (timing, "samplesPerBurst", str(SAMPLES)),
        (root, "adsHeader/startTime", _fmt(start)), (root, "adsHeader/stopTime", _fmt(stop)),
    ):  # fmt: skip
        _set(parent, tag, value)
    grid = root.find("geolocationGrid/geolocationGridPointList")
    assert grid is not None
    first = (BURST - 1) * lines_per_burst
    kept = 0
    for point in grid.findall("geolocationGridPoint"):
        line = int(_text(point, "line"))
        if line in (first, first + lines_per_burst):
            _set(point, "line", str(line - FIRST_LINE))
            _set(point, "pixel", str(int(_text(point, "pixel")) - FIRST_SAMPLE))
            kept += 1
        else:
            grid.remove(point)
    grid.set("count", str(kept))
    return start, interval, slant0


def _rebase_vectors(
    vectors: list[ET.Element],
    *,
    line_offset: int,
    pixel_offset: int,
    start: datetime,
    interval: float,
    pixel_tag: str = "pixel",
) -> list[ET.Element]:
    """Vectors moved by ``line_offset`` lines and ``pixel_offset`` samples; those bracketing the crop kept."""
    lines = [int(_text(v, "line")) - line_offset for v in vectors]
    low = max((n for n in lines if n <= 0), default=min(lines))
    high = min((n for n in lines if n >= LINES - 1), default=max(lines))
    kept = []
    for vector, line in zip(vectors, lines, strict=True):
        if not low <= line <= high:
            continue
        _set(vector, "line", str(line))
        _set(vector, "azimuthTime", _fmt(start + timedelta(seconds=line * interval)))
        pixels = vector.find(pixel_tag)
        assert pixels is not None and pixels.text is not None
        pixels.text = " ".join(str(int(p) - pixel_offset) for p in pixels.text.split())
        kept.append(vector)
    return kept


def _replace_list(parent: ET.Element, tag: str, kept: list[ET.Element]) -> None:
    for child in list(parent):
        if child.tag == tag and child not in kept:
            parent.remove(child)
    parent.set("count", str(len(kept)))


def _lut_xml(
    source: Path, *, line_offset: int, pixel_offset: int, start: datetime, interval: float
) -> ET.Element:
    root = ET.parse(source).getroot()  # noqa: S314 - a fixture file
    for list_tag, item_tag in (("calibrationVectorList", "calibrationVector"),
                               ("noiseRangeVectorList", "noiseRangeVector")):  # fmt: skip
        vectors = root.find(list_tag)
        if vectors is not None:
            kept = _rebase_vectors(vectors.findall(item_tag), line_offset=line_offset,
                                   pixel_offset=pixel_offset, start=start, interval=interval)  # fmt: skip
            _replace_list(vectors, item_tag, kept)
    azimuth = root.find("noiseAzimuthVectorList")
    for vector in azimuth.findall("noiseAzimuthVector") if azimuth is not None else []:
        line_el, lut_el = vector.find("line"), vector.find("noiseAzimuthLut")
        assert line_el is not None and lut_el is not None and line_el.text and lut_el.text
        pairs = [
            (int(n) - line_offset, v) for n, v in zip(line_el.text.split(), lut_el.text.split(), strict=True)
        ]
        low = max(n for n, _ in pairs if n <= 0)
        high = min(n for n, _ in pairs if n >= LINES - 1)
        pairs = [(n, v) for n, v in pairs if low <= n <= high]
        line_el.text, lut_el.text = " ".join(str(n) for n, _ in pairs), " ".join(v for _, v in pairs)
        line_el.set("count", str(len(pairs)))
        lut_el.set("count", str(len(pairs)))
        _set(vector, "firstAzimuthLine", str(low))
        _set(vector, "lastAzimuthLine", str(high))
        _set(vector, "firstRangeSample", "0")
        _set(vector, "lastRangeSample", str(SAMPLES - 1))
    return root


def to_pre_290_noise(noise: ET.Element) -> ET.Element:
    """The same noise in the layout of IPF < 2.90 (one ``noiseVectorList`` of ``noiseLut``), as the
    product specification (S1-RS-MDA-52-7441 issue 3.x, §6.3.4) describes it; no pre-2.90 noise XML of an
    SLC is among the fixtures. The azimuth LUT is dropped (pre-2.90 had none)."""
    out = ET.Element("noise")
    for child in noise:
        if child.tag in ("adsHeader",):
            out.append(child)
    ranges = noise.find("noiseRangeVectorList")
    assert ranges is not None
    vectors = ET.SubElement(out, "noiseVectorList", count=ranges.get("count", "0"))
    for vector in ranges.findall("noiseRangeVector"):
        new = ET.SubElement(vectors, "noiseVector")
        for tag in ("azimuthTime", "line", "pixel"):
            src = vector.find(tag)
            assert src is not None
            new.append(src)
        lut = vector.find("noiseRangeLut")
        assert lut is not None
        ET.SubElement(new, "noiseLut", count=lut.get("count", "0")).text = lut.text
    return out


def _manifest(annotation: ET.Element, files: dict[str, str], start: str, stop: str) -> str:
    """A manifest.safe with what xarray-sentinel reads, from the annotation's own fields."""
    header = annotation.find("adsHeader")
    assert header is not None
    orbit = int(_text(header, "absoluteOrbitNumber"))
    relative = (orbit - 73) % 175 + 1  # Sentinel-1A: 175 orbits per 12-day cycle, orbit 1 on track 73
    anx = _text(annotation, "imageAnnotation/imageInformation/ascendingNodeTime")
    direction = _text(annotation, "generalAnnotation/productInformation/pass").upper()
    objects = "\n".join(
        f'    <dataObject ID="{ident}" repID="{rep}"><byteStream mimeType="text/xml">'
        f'<fileLocation locatorType="URL" href="./{href}"/></byteStream></dataObject>'
        for href, (ident, rep) in ((h, r.split("|")) for h, r in files.items())
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xfdu:XFDU xmlns:xfdu="urn:ccsds:schema:xfdu:1" xmlns:safe="http://www.esa.int/safe/sentinel-1.0"
  xmlns:s1="http://www.esa.int/safe/sentinel-1.0/sentinel-1"
  xmlns:s1sarl1="http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1">
  <metadataSection>
    <metadataObject ID="platform"><metadataWrap><xmlData>
      <safe:platform><safe:familyName>SENTINEL-1</safe:familyName><safe:number>A</safe:number>
        <safe:instrument><safe:extension><s1sarl1:instrumentMode><s1sarl1:mode>IW</s1sarl1:mode>
        <s1sarl1:swath>IW3</s1sarl1:swath></s1sarl1:instrumentMode></safe:extension></safe:instrument>
      </safe:platform></xmlData></metadataWrap></metadataObject>
    <metadataObject ID="measurementOrbitReference"><metadataWrap><xmlData>
      <safe:orbitReference><safe:orbitNumber type="start">{orbit}</safe:orbitNumber>
        <safe:orbitNumber type="stop">{orbit}</safe:orbitNumber>
        <safe:relativeOrbitNumber type="start">{relative}</safe:relativeOrbitNumber>
        <safe:relativeOrbitNumber type="stop">{relative}</safe:relativeOrbitNumber>
        <safe:extension><s1:orbitProperties><s1:pass>{direction}</s1:pass>
        <s1:ascendingNodeTime>{anx}</s1:ascendingNodeTime></s1:orbitProperties></safe:extension>
      </safe:orbitReference></xmlData></metadataWrap></metadataObject>
    <metadataObject ID="generalProductInformation"><metadataWrap><xmlData>
      <s1sarl1:standAloneProductInformation>
        <s1sarl1:missionDataTakeID>{_text(header, "missionDataTakeId")}</s1sarl1:missionDataTakeID>
        <s1sarl1:transmitterReceiverPolarisation>VV</s1sarl1:transmitterReceiverPolarisation>
        <s1sarl1:productType>SLC</s1sarl1:productType>
      </s1sarl1:standAloneProductInformation></xmlData></metadataWrap></metadataObject>
    <metadataObject ID="acquisitionPeriod"><metadataWrap><xmlData>
      <safe:acquisitionPeriod><safe:startTime>{start}</safe:startTime><safe:stopTime>{stop}</safe:stopTime>
      </safe:acquisitionPeriod></xmlData></metadataWrap></metadataObject>
  </metadataSection>
  <dataObjectSection>
{objects}
  </dataObjectSection>
</xfdu:XFDU>
"""


def make_crop_safe(shared_fixtures: Path, dest_dir: Path, *, pre_290_noise: bool = False) -> CropSafe:
    """Write ``<dest_dir>/<62D6>.SAFE``, the one-burst SAFE of the real crop (module docstring)."""
    s1 = shared_fixtures / "s1"
    safe = dest_dir / f"{P62D6}.SAFE"
    if safe.exists():
        shutil.rmtree(safe)
    (safe / "annotation" / "calibration").mkdir(parents=True)
    (safe / "measurement").mkdir()
    annotation = ET.parse(s1 / f"{P62D6}.SAFE" / "annotation" / f"{STEM_62D6}.xml").getroot()  # noqa: S314
    start, interval, slant0 = _cut_annotation(annotation)
    src = s1 / f"{P7768}.SAFE" / "annotation"
    other = ET.parse(src / f"{STEM_7768}.xml").getroot()  # noqa: S314 - a fixture file
    other_slant0 = float(_text(other, "imageAnnotation/imageInformation/slantRangeTime"))
    rate = float(_text(other, "generalAnnotation/productInformation/rangeSamplingRate"))
    other_lines = int(_text(other, "swathTiming/linesPerBurst"))
    line_offset = (BURST - 1) * other_lines + LINE_IN_BURST
    pixel_offset = round((slant0 - other_slant0) * rate)
    names = {
        "annotation": f"annotation/{STEM_62D6}.xml",
        "calibration": f"annotation/calibration/calibration-{STEM_62D6}.xml",
        "noise": f"annotation/calibration/noise-{STEM_62D6}.xml",
        "measurement": f"measurement/{STEM_62D6}.tiff",
    }
    ET.ElementTree(annotation).write(safe / names["annotation"], encoding="UTF-8", xml_declaration=True)
    for kind in ("calibration", "noise"):
        root = _lut_xml(src / "calibration" / f"{kind}-{STEM_7768}.xml", line_offset=line_offset,
                        pixel_offset=pixel_offset, start=start, interval=interval)  # fmt: skip
        if kind == "noise" and pre_290_noise:
            root = to_pre_290_noise(root)
        ET.ElementTree(root).write(safe / names[kind], encoding="UTF-8", xml_declaration=True)
    shutil.copyfile(s1 / f"{P62D6}.SAFE" / "measurement" / CROP_TIFF, safe / names["measurement"])
    reps = {"annotation": "s1Level1ProductSchema", "calibration": "s1Level1CalibrationSchema",
            "noise": "s1Level1NoiseSchema", "measurement": "s1Level1MeasurementSchema"}  # fmt: skip
    files = {names[k]: f"{k}_iw3_vv|{reps[k]}" for k in names}
    stop = start + timedelta(seconds=(LINES - 1) * interval)
    (safe / "manifest.safe").write_text(
        _manifest(annotation, files, _fmt(start), _fmt(stop)), encoding="utf-8"
    )
    return CropSafe(safe, safe / names["annotation"], slice(0, 300), slice(420, 601))
