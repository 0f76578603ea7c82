"""The XML of a one-burst SAFE: annotation, calibration and noise cut to a burst, and its manifest.

What is cut and how is said in ``catalogue.burst_safe``'s docstring (S1-RS-MDA-52-7441, the Sentinel-1
product specification); this module holds the XML work, ``catalogue.burst_safe`` the files and pixels.
"""

from __future__ import annotations

import hashlib
import io
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from catalogue.errors import BurstSafeError
from common.xml import parse_untrusted_xml

_TIME = "%Y-%m-%dT%H:%M:%S.%f"


# --------------------------------------------------------------------------------------- annotation


@dataclass(frozen=True, slots=True)
class CutAnnotation:
    first_line: int
    lines: int
    samples: int
    start: str
    stop: str


def cut_annotation(root: ET.Element, *, burst: int, where: str) -> CutAnnotation:
    if root.tag != "product" or root.find("swathTiming") is None:
        raise BurstSafeError(f"{where}: not a Sentinel-1 product annotation (no product/swathTiming)")
    timing = find(root, "swathTiming", where)
    lines = int(text_of(timing, "linesPerBurst", where))
    samples = int(text_of(timing, "samplesPerBurst", where))
    burst_list = find(timing, "burstList", where)
    bursts = burst_list.findall("burst")
    if not 1 <= burst <= len(bursts):
        raise BurstSafeError(f"{where}: burst {burst} asked for; the swath has bursts 1 to {len(bursts)}")
    for i, element in enumerate(bursts):
        if i != burst - 1:
            burst_list.remove(element)
    burst_list.set("count", "1")
    first = (burst - 1) * lines
    info = find(root, "imageAnnotation/imageInformation", where)
    interval = float(text_of(info, "azimuthTimeInterval", where))
    start_time = parse_time(text_of(bursts[burst - 1], "azimuthTime", where), where)
    start = start_time.strftime(_TIME)
    stop = (start_time + timedelta(seconds=interval * (lines - 1))).strftime(_TIME)
    set_text(info, "numberOfLines", str(lines))
    set_text(info, "productFirstLineUtcTime", start)
    set_text(info, "productLastLineUtcTime", stop)
    header = root.find("adsHeader")
    if header is not None:
        set_text(header, "startTime", start)
        set_text(header, "stopTime", stop)
    grid = find(root, "geolocationGrid/geolocationGridPointList", where)
    _keep_lines(grid, grid.findall("geolocationGridPoint"), first=first, last=first + lines, bracket=False)
    return CutAnnotation(first, lines, samples, start, stop)


def _keep_lines(parent: ET.Element, items: list[ET.Element], *, first: int, last: int, bracket: bool) -> None:
    """Keep the ``items`` of ``parent`` whose ``line`` is in [first, last] (with ``bracket``, also the
    last one before ``first`` and the first one after ``last``), re-based to ``first``; update ``count``."""
    values = [int(text_of(item, "line", parent.tag)) for item in items]
    low = max((v for v in values if v <= first), default=first) if bracket else first
    high = min((v for v in values if v >= last), default=last) if bracket else last
    kept = 0
    for item, value in zip(items, values, strict=True):
        if low <= value <= high:
            set_text(item, "line", str(value - first))
            kept += 1
        else:
            parent.remove(item)
    parent.set("count", str(kept))


def cut_calibration(root: ET.Element, *, first: int, last: int) -> None:
    vectors = root.find("calibrationVectorList")
    if root.tag != "calibration" or vectors is None:
        raise BurstSafeError("not a Sentinel-1 calibration XML (no calibration/calibrationVectorList)")
    _keep_lines(vectors, vectors.findall("calibrationVector"), first=first, last=last, bracket=True)


def cut_noise(root: ET.Element, *, first: int, last: int) -> None:
    if root.tag != "noise":
        raise BurstSafeError("not a Sentinel-1 noise XML (root is not noise)")
    for list_tag, item_tag in (
        ("noiseVectorList", "noiseVector"),
        ("noiseRangeVectorList", "noiseRangeVector"),
    ):
        vectors = root.find(list_tag)  # noiseVectorList before IPF 2.90, noiseRangeVectorList since
        if vectors is not None:
            _keep_lines(vectors, vectors.findall(item_tag), first=first, last=last, bracket=True)
    azimuth = root.find("noiseAzimuthVectorList")
    if azimuth is None:
        return
    for vector in azimuth.findall("noiseAzimuthVector"):
        if not _cut_azimuth_vector(vector, first=first, last=last):
            azimuth.remove(vector)
    azimuth.set("count", str(len(azimuth.findall("noiseAzimuthVector"))))


def _cut_azimuth_vector(vector: ET.Element, *, first: int, last: int) -> bool:
    """Restrict one noiseAzimuthVector to [first, last], re-based; False when it misses the burst."""
    where = "noiseAzimuthVector"
    low, high = (
        int(text_of(vector, "firstAzimuthLine", where)),
        int(text_of(vector, "lastAzimuthLine", where)),
    )
    if high < first or low > last:
        return False
    line_el, lut_el = find(vector, "line", where), find(vector, "noiseAzimuthLut", where)
    line_values = (line_el.text or "").split()
    lut_values = (lut_el.text or "").split()
    if len(line_values) != len(lut_values):
        raise BurstSafeError(f"{where}: {len(line_values)} lines but {len(lut_values)} LUT values")
    numbers = [int(v) for v in line_values]
    lo = max((v for v in numbers if v <= first), default=min(numbers, default=first))
    hi = min((v for v in numbers if v >= last), default=max(numbers, default=last))
    keep = [i for i, v in enumerate(numbers) if lo <= v <= hi]
    line_el.text = " ".join(str(numbers[i] - first) for i in keep)
    lut_el.text = " ".join(lut_values[i] for i in keep)
    line_el.set("count", str(len(keep)))
    lut_el.set("count", str(len(keep)))
    set_text(vector, "firstAzimuthLine", str(max(low, first) - first))
    set_text(vector, "lastAzimuthLine", str(min(high, last) - first))
    return True


# ------------------------------------------------------------------------------------------ manifest


def declared_namespaces(data: bytes) -> list[tuple[str, str]]:
    """The (prefix, URI) pairs ``data`` declares (it was checked by parse_untrusted_xml first)."""
    events = ET.iterparse(io.BytesIO(data), events=("start-ns",))  # noqa: S314 - no DTD (checked)
    return [ns for _, ns in events if isinstance(ns, tuple)]


def write_manifest(
    src: Path, dest: Path, kept: list[str], *, swath: str, pols: list[str], period: tuple[str, str]
) -> None:
    """manifest.safe listing only ``kept`` (sizes and MD5 of the new files), the swath and pols kept."""
    root = read_xml(src)  # refuses a DTD before iterparse sees the text
    namespaces = declared_namespaces(src.read_bytes())
    # Written back with the manifest's own prefixes. Not a default namespace: inner elements declare
    # xmlns="…/safe/sentinel-1.0" locally, and a default one at the root would capture the unprefixed
    # dataObjectSection that readers look for without a namespace.
    ns = {prefix: uri for prefix, uri in namespaces if prefix}
    for prefix, uri in ns.items():
        ET.register_namespace(prefix, uri)
    section = root.find("dataObjectSection")
    if section is None:
        raise BurstSafeError(f"{src}: no dataObjectSection; not a SAFE manifest")
    wanted = {f"./{name}" for name in kept}
    dropped: set[str] = set()
    for obj in section.findall("dataObject"):
        location = obj.find("byteStream/fileLocation")
        href = location.get("href", "") if location is not None else ""
        if href not in wanted:
            section.remove(obj)
            dropped.add(obj.get("ID", ""))
            continue
        stream = obj.find("byteStream")
        path = dest / href.removeprefix("./")
        if stream is not None:
            stream.set("size", str(path.stat().st_size))
            checksum = stream.find("checksum")
            if checksum is not None and checksum.get("checksumName", "").upper() == "MD5":
                checksum.text = _md5(path)
    _drop_pointers(root, dropped)
    _restrict(root, ".//s1sarl1:instrumentMode/s1sarl1:swath", {swath}, ns)
    _restrict(root, ".//s1sarl1:transmitterReceiverPolarisation", set(pols), ns)
    for tag, value in (("safe:startTime", period[0]), ("safe:stopTime", period[1])):
        element = root.find(f".//safe:acquisitionPeriod/{tag}", ns) if "safe" in ns else None
        if element is not None:
            element.text = value
    ET.ElementTree(root).write(dest / "manifest.safe", encoding="UTF-8", xml_declaration=True)


def _drop_pointers(root: ET.Element, dropped: set[str]) -> None:
    """Remove the contentUnits and metadataObjects that point at a dropped dataObject."""
    for parent in root.iter():
        for child in list(parent):
            pointer = child.find("dataObjectPointer")
            if pointer is not None and pointer.get("dataObjectID") in dropped:
                parent.remove(child)


def _restrict(root: ET.Element, path: str, keep: set[str], ns: dict[str, str]) -> None:
    if "s1sarl1" not in ns:
        return
    targets = {id(e) for e in root.findall(path, ns) if (e.text or "").strip().upper() not in keep}
    for parent in root.iter():
        for child in list(parent):
            if id(child) in targets:
                parent.remove(child)


def _md5(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324 - the manifest's own checksum algorithm
    with path.open("rb") as inp:
        while chunk := inp.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def merge_manifests(manifests: Sequence[Path], out: Path) -> None:
    namespaces = declared_namespaces(manifests[0].read_bytes()) if manifests else []
    ns = {prefix: uri for prefix, uri in namespaces if prefix}
    for prefix, uri in ns.items():
        ET.register_namespace(prefix, uri)
    first = read_xml(manifests[0])
    ids = {e.get("ID") for e in first.iter() if e.get("ID")}
    sections = {tag: first.find(tag) for tag in ("dataObjectSection", "metadataSection")}
    package = first.find("informationPackageMap/{urn:ccsds:schema:xfdu:1}contentUnit")
    pol_tag = "{http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1}transmitterReceiverPolarisation"
    pols = [e for e in first.iter(pol_tag)]
    have_pols = {(e.text or "").strip() for e in pols}
    for manifest in manifests[1:]:
        other = read_xml(manifest)
        for tag, section in sections.items():
            found = other.find(tag)
            for child in list(found) if found is not None else []:
                if section is not None and child.get("ID") not in ids:
                    section.append(child)
                    ids.add(child.get("ID"))
        other_package = other.find("informationPackageMap/{urn:ccsds:schema:xfdu:1}contentUnit")
        for unit in list(other_package if other_package is not None else []):
            pointer = unit.find("dataObjectPointer")
            known = (
                {p.get("dataObjectID") for p in package.iter("dataObjectPointer")}
                if package is not None
                else set()
            )
            if package is not None and pointer is not None and pointer.get("dataObjectID") not in known:
                package.append(unit)
        for element in other.iter(pol_tag):
            if (element.text or "").strip() not in have_pols and pols:
                parent = next(p for p in first.iter() if pols[-1] in list(p))
                parent.insert(list(parent).index(pols[-1]) + 1, element)
                pols.append(element)
                have_pols.add((element.text or "").strip())
    ET.ElementTree(first).write(out, encoding="UTF-8", xml_declaration=True)


def manifest_files(path: Path) -> set[str]:
    manifest = path / "manifest.safe"
    if not manifest.is_file():
        return set()
    root = read_xml(manifest)
    return {
        location.get("href", "").removeprefix("./")
        for location in root.iterfind("dataObjectSection/dataObject/byteStream/fileLocation")
    }


# --------------------------------------------------------------------------------------------- XML


def read_xml(path: Path) -> ET.Element:
    return parse_untrusted_xml(path.read_bytes(), name=path.name, error=BurstSafeError)


def write_xml(root: ET.Element, dest: Path, name: str) -> str:
    """Write ``root`` to ``dest/name``; return ``name``."""
    path = dest / name
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)
    return name


def find(element: ET.Element, path: str, where: str) -> ET.Element:
    found = element.find(path)
    if found is None:
        raise BurstSafeError(f"{where}: no {path}")
    return found


def text_of(element: ET.Element, path: str, where: str) -> str:
    text = find(element, path, where).text
    if text is None or not text.strip():
        raise BurstSafeError(f"{where}: {path} is empty")
    return text.strip()


def set_text(element: ET.Element, path: str, value: str) -> None:
    found = element.find(path)
    if found is not None:
        found.text = value


def parse_time(text: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise BurstSafeError(f"{where}: {text!r} is not an ISO time") from None
