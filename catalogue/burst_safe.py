"""One-burst SAFE products: cut a Sentinel-1 IW SLC SAFE down to one burst, and check one.

A *one-burst SAFE* is what CDSE's burst service returns and what one-burst readers (sarsen 0.9.6,
xarray-sentinel 0.9.6) open: a SAFE folder whose manifest lists only the files of one swath, and whose
annotation, calibration and noise XML and measurement TIFF, per polarisation, hold one burst:

- **annotation** (S1-RS-MDA-52-7441 "Sentinel-1 Product Specification", §6.3 annotation data set):
  ``swathTiming/burstList`` keeps the one burst (``count="1"``); ``geolocationGrid`` keeps the grid
  lines from the burst's first line to its last (the grid has a line at every ``linesPerBurst``),
  re-based so that line 0 is the burst's first; ``imageInformation/numberOfLines`` is
  ``linesPerBurst``, and the first/last line times (and ``adsHeader`` start/stop) are the burst's;
  the azimuth FM rate, Doppler centroid, orbit, attitude and antenna lists are kept whole (they are
  time-tagged, and a reader interpolates them at the burst's times);
- **calibration** and **noise**: the vectors from the last one at or before the burst's first line to
  the first one at or after its last line (what interpolation inside the burst needs), re-based. Both
  noise layouts are handled: before IPF 2.90 one ``noiseVectorList`` (``noiseLut``); from 2.90
  ``noiseRangeVectorList`` + ``noiseAzimuthVectorList`` (whose ``firstAzimuthLine``/``lastAzimuthLine``
  and ``line`` samples are re-based too);
- **measurement**: lines ``[i * linesPerBurst, (i + 1) * linesPerBurst)`` of the swath TIFF, every
  sample, as a tiled CInt16 GeoTIFF, copied window by window (memory stays a few MB per chunk
  whatever the swath's size); GCPs, when the source has them, are kept from the burst's rows, re-based;
- **manifest.safe**: only the ``dataObject``s of the files kept (with their new ``size`` and MD5), the
  ``metadataObject``s and ``contentUnit``s pointing at them, the swath and polarisations kept, and the
  acquisition period of the burst. ``support/`` (the XML schemas) is copied when present;
  ``preview/`` is dropped (it shows the whole product).

Naming: :func:`burst_safe_name` gives ``<scene>_<swath>_B<nn>.SAFE`` (``nn`` the 1-based burst index,
two digits), deterministic for a scene, swath and burst. File names inside are the parent's (the
manifest's ``href``s stay true). The download job stores a burst tile's product under the parent's
name (``<scene>.SAFE``), which is what the storage layout imports a ``__product__`` layer as.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window

from catalogue.errors import CatalogueError
from common.xml import parse_untrusted_xml

CHUNK_LINES = 256  # lines copied at once: 256 x 25 000 samples x 4 bytes = 25 MB
BLOCK = 512  # the output TIFF's tile size
_NAME = re.compile(r"^(?:(calibration|noise)-)?s1[abcd]-(iw\d|ew\d|s\d)-slc-(vv|vh|hh|hv)-.*\.(xml|tiff)$")
_TIME = "%Y-%m-%dT%H:%M:%S.%f"


class BurstSafeError(CatalogueError):
    """A SAFE cannot be cut to a burst, or a one-burst SAFE is not one (the message says why)."""


@dataclass(frozen=True, slots=True)
class BurstSafe:
    """A one-burst SAFE folder and what it holds."""

    path: Path
    swath: str  # IW1
    burst: int  # 1-based index of the burst in its parent's swath (0 when unknown: checked only)
    polarisations: tuple[str, ...]  # ("VH", "VV")
    lines: int  # linesPerBurst
    samples: int
    files: tuple[str, ...]  # relative paths, as the manifest lists them

    @property
    def size_bytes(self) -> int:
        manifest = self.path / "manifest.safe"
        listed = sum((self.path / f).stat().st_size for f in self.files)
        return listed + (manifest.stat().st_size if manifest.is_file() else 0)


def burst_safe_name(scene_id: str, swath: str, burst: int) -> str:
    """``<scene>_<swath>_B<nn>.SAFE``: S1A_IW_SLC__1SDV_…_7768_IW2_B03.SAFE."""
    return f"{scene_id.removesuffix('.SAFE')}_{swath.upper()}_B{burst:02d}.SAFE"


@dataclass(frozen=True, slots=True)
class _Files:
    """The files of one polarisation of one swath, relative to the SAFE."""

    annotation: str
    calibration: str | None
    noise: str | None
    measurement: str | None


def find_swath_files(safe: Path, swath: str) -> dict[str, _Files]:
    """Polarisation (upper case) -> the files of ``swath`` in ``safe``."""
    found: dict[tuple[str, str], str] = {}
    for folder in ("annotation", "annotation/calibration", "measurement"):
        for path in sorted((safe / folder).glob("*")) if (safe / folder).is_dir() else []:
            match = _NAME.match(path.name)
            if match is None or match.group(2).upper() != swath.upper():
                continue
            kind = match.group(1) or ("measurement" if match.group(4) == "tiff" else "annotation")
            found[(match.group(3).upper(), kind)] = f"{folder}/{path.name}"
    pols = sorted({pol for pol, kind in found if kind == "annotation"})
    return {
        pol: _Files(
            found[(pol, "annotation")], found.get((pol, "calibration")), found.get((pol, "noise")),
            found.get((pol, "measurement")),
        )
        for pol in pols
    }  # fmt: skip


def cut_burst_safe(
    safe: Path,
    dest: Path,
    *,
    swath: str,
    burst: int,
    polarisations: Sequence[str] | None = None,
    burst_tiffs: Mapping[str, Path] | None = None,
) -> BurstSafe:
    """Write the one-burst SAFE of ``swath`` burst ``burst`` (1-based) of ``safe`` to the folder ``dest``.

    Args:
        polarisations: those to keep (``VV``…); None: every one the swath has.
        burst_tiffs: polarisation -> a TIFF that holds the burst's lines already (what ASF's burst
            service extracts), used instead of cutting ``safe``'s measurement.

    Raises:
        BurstSafeError: no such swath, burst or polarisation, an XML that is not an S1 annotation, a
            measurement TIFF that does not match its annotation. ``dest`` is removed then.
    """
    swath = swath.upper()
    files = find_swath_files(safe, swath)
    if not files:
        raise BurstSafeError(f"{safe.name}: no annotation of swath {swath!r}; is it an IW SLC SAFE?")
    wanted = [p.upper() for p in polarisations] if polarisations else sorted(files)
    missing = [p for p in wanted if p not in files]
    if missing:
        raise BurstSafeError(
            f"{safe.name}: swath {swath} has no polarisation {', '.join(missing)}; it has {', '.join(files)}"
        )
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    try:
        kept: list[str] = []
        lines = samples = 0
        period: list[tuple[str, str]] = []
        for pol in wanted:
            f = files[pol]
            annotation = _read_xml(safe / f.annotation)
            cut = _cut_annotation(annotation, burst=burst, where=f"{safe.name}/{f.annotation}")
            lines, samples, first = cut.lines, cut.samples, cut.first_line
            period.append((cut.start, cut.stop))
            kept.append(_write_xml(annotation, dest, f.annotation))
            for name, cutter in ((f.calibration, _cut_calibration), (f.noise, _cut_noise)):
                if name is not None:
                    root = _read_xml(safe / name)
                    cutter(root, first=first, last=first + lines - 1)
                    kept.append(_write_xml(root, dest, name))
            given = (burst_tiffs or {}).get(pol)
            if given is not None:
                name = f.measurement or f"measurement/{Path(f.annotation).stem}.tiff"
                _cut_measurement(given, dest / name, first=0, lines=lines)
                kept.append(name)
            elif f.measurement is not None and (safe / f.measurement).stat().st_size > 0:
                _cut_measurement(safe / f.measurement, dest / f.measurement, first=first, lines=lines)
                kept.append(f.measurement)
        if (safe / "support").is_dir():
            shutil.copytree(safe / "support", dest / "support")
            kept += sorted(
                p.relative_to(dest).as_posix() for p in (dest / "support").rglob("*") if p.is_file()
            )
        if (safe / "manifest.safe").is_file():
            _write_manifest(safe / "manifest.safe", dest, kept, swath=swath, pols=wanted,
                            period=(min(p[0] for p in period), max(p[1] for p in period)))  # fmt: skip
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return BurstSafe(dest, swath, burst, tuple(wanted), lines, samples, tuple(kept))


# --------------------------------------------------------------------------------------- annotation


@dataclass(frozen=True, slots=True)
class _CutAnnotation:
    first_line: int
    lines: int
    samples: int
    start: str
    stop: str


def _cut_annotation(root: ET.Element, *, burst: int, where: str) -> _CutAnnotation:
    if root.tag != "product" or root.find("swathTiming") is None:
        raise BurstSafeError(f"{where}: not a Sentinel-1 product annotation (no product/swathTiming)")
    timing = _find(root, "swathTiming", where)
    lines = int(_text(timing, "linesPerBurst", where))
    samples = int(_text(timing, "samplesPerBurst", where))
    burst_list = _find(timing, "burstList", where)
    bursts = burst_list.findall("burst")
    if not 1 <= burst <= len(bursts):
        raise BurstSafeError(f"{where}: burst {burst} asked for; the swath has bursts 1 to {len(bursts)}")
    for i, element in enumerate(bursts):
        if i != burst - 1:
            burst_list.remove(element)
    burst_list.set("count", "1")
    first = (burst - 1) * lines
    info = _find(root, "imageAnnotation/imageInformation", where)
    interval = float(_text(info, "azimuthTimeInterval", where))
    start_time = _parse_time(_text(bursts[burst - 1], "azimuthTime", where), where)
    start = start_time.strftime(_TIME)
    stop = (start_time + timedelta(seconds=interval * (lines - 1))).strftime(_TIME)
    _set(info, "numberOfLines", str(lines))
    _set(info, "productFirstLineUtcTime", start)
    _set(info, "productLastLineUtcTime", stop)
    header = root.find("adsHeader")
    if header is not None:
        _set(header, "startTime", start)
        _set(header, "stopTime", stop)
    grid = _find(root, "geolocationGrid/geolocationGridPointList", where)
    _keep_lines(grid, grid.findall("geolocationGridPoint"), first=first, last=first + lines, bracket=False)
    return _CutAnnotation(first, lines, samples, start, stop)


def _keep_lines(parent: ET.Element, items: list[ET.Element], *, first: int, last: int, bracket: bool) -> None:
    """Keep the ``items`` of ``parent`` whose ``line`` is in [first, last] (with ``bracket``, also the
    last one before ``first`` and the first one after ``last``), re-based to ``first``; update ``count``."""
    values = [int(_text(item, "line", parent.tag)) for item in items]
    low = max((v for v in values if v <= first), default=first) if bracket else first
    high = min((v for v in values if v >= last), default=last) if bracket else last
    kept = 0
    for item, value in zip(items, values, strict=True):
        if low <= value <= high:
            _set(item, "line", str(value - first))
            kept += 1
        else:
            parent.remove(item)
    parent.set("count", str(kept))


def _cut_calibration(root: ET.Element, *, first: int, last: int) -> None:
    vectors = root.find("calibrationVectorList")
    if root.tag != "calibration" or vectors is None:
        raise BurstSafeError("not a Sentinel-1 calibration XML (no calibration/calibrationVectorList)")
    _keep_lines(vectors, vectors.findall("calibrationVector"), first=first, last=last, bracket=True)


def _cut_noise(root: ET.Element, *, first: int, last: int) -> None:
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
    low, high = int(_text(vector, "firstAzimuthLine", where)), int(_text(vector, "lastAzimuthLine", where))
    if high < first or low > last:
        return False
    line_el, lut_el = _find(vector, "line", where), _find(vector, "noiseAzimuthLut", where)
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
    _set(vector, "firstAzimuthLine", str(max(low, first) - first))
    _set(vector, "lastAzimuthLine", str(min(high, last) - first))
    return True


# -------------------------------------------------------------------------------------- measurement


def _cut_measurement(src: Path, dst: Path, *, first: int, lines: int) -> None:
    """Copy lines [first, first + lines) of ``src`` to a tiled CInt16 GeoTIFF, chunk by chunk."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # S1 SLC TIFFs carry GCPs at most
        try:
            with rasterio.open(src) as inp:
                if inp.count != 1 or inp.dtypes[0] != "complex_int16":
                    raise BurstSafeError(
                        f"{src.name}: {inp.count} band(s) of {inp.dtypes[0]}, not one CInt16"
                    )
                if first + lines > inp.height:
                    raise BurstSafeError(
                        f"{src.name}: {inp.height} lines, but the burst needs lines {first} to "
                        f"{first + lines - 1} (annotation and measurement do not match)"
                    )
                gcps, crs = inp.gcps
                profile = {
                    "driver": "GTiff", "width": inp.width, "height": lines, "count": 1,
                    "dtype": "complex_int16", "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK,
                    "BIGTIFF": "IF_SAFER",
                }  # fmt: skip
                kept = _rebased_gcps(gcps, first=first, lines=lines)
                with rasterio.open(dst, "w", **profile) as out:
                    if kept and crs is not None:
                        out.gcps = (kept, crs)
                    for row in range(0, lines, CHUNK_LINES):
                        height = min(CHUNK_LINES, lines - row)
                        data = inp.read(1, window=Window(0, first + row, inp.width, height))
                        out.write(data, 1, window=Window(0, row, inp.width, height))
        except RasterioIOError as exc:
            raise BurstSafeError(f"{src.name}: not a readable TIFF ({exc})") from None


def _rebased_gcps(gcps: Iterable[GroundControlPoint], *, first: int, lines: int) -> list[GroundControlPoint]:
    """GCPs of rows [first, first + lines] (the grid's line after the burst included), row re-based."""
    return [
        GroundControlPoint(row=g.row - first, col=g.col, x=g.x, y=g.y, z=g.z, id=g.id, info=g.info)
        for g in gcps
        if first <= g.row <= first + lines
    ]


# ------------------------------------------------------------------------------------------ manifest


def _namespaces(data: bytes) -> list[tuple[str, str]]:
    """The (prefix, URI) pairs ``data`` declares (it was checked by parse_untrusted_xml first)."""
    events = ET.iterparse(io.BytesIO(data), events=("start-ns",))  # noqa: S314 - no DTD (checked)
    return [ns for _, ns in events if isinstance(ns, tuple)]


def _write_manifest(
    src: Path, dest: Path, kept: list[str], *, swath: str, pols: list[str], period: tuple[str, str]
) -> None:
    """manifest.safe listing only ``kept`` (sizes and MD5 of the new files), the swath and pols kept."""
    root = _read_xml(src)  # refuses a DTD before iterparse sees the text
    namespaces = _namespaces(src.read_bytes())
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


def merge_one_burst_safes(parts: Sequence[Path], dest: Path) -> BurstSafe:
    """One SAFE of the same burst from one-burst SAFEs of one polarisation each (CDSE's burst service
    answers one polarisation per call): every file, and one manifest listing all of them.

    Raises:
        BurstSafeError: the parts are not one-burst SAFEs of the same swath and burst length.
    """
    checked = [check_one_burst_safe(part) for part in parts]
    if len({(c.swath, c.lines, c.samples) for c in checked}) != 1:
        raise BurstSafeError(
            "the polarisations delivered are not the same burst: "
            + ", ".join(f"{c.path.name} {c.swath} {c.lines}x{c.samples}" for c in checked)
        )
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for part in parts:
        for path in sorted(part.rglob("*")):
            target = dest / path.relative_to(part)
            if path.is_file() and path.name != "manifest.safe" and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
    manifests = [part / "manifest.safe" for part in parts if (part / "manifest.safe").is_file()]
    if manifests:
        _merge_manifests(manifests, dest / "manifest.safe")
    return check_one_burst_safe(dest)


def _merge_manifests(manifests: Sequence[Path], out: Path) -> None:
    namespaces = _namespaces(manifests[0].read_bytes()) if manifests else []
    ns = {prefix: uri for prefix, uri in namespaces if prefix}
    for prefix, uri in ns.items():
        ET.register_namespace(prefix, uri)
    first = _read_xml(manifests[0])
    ids = {e.get("ID") for e in first.iter() if e.get("ID")}
    sections = {tag: first.find(tag) for tag in ("dataObjectSection", "metadataSection")}
    package = first.find("informationPackageMap/{urn:ccsds:schema:xfdu:1}contentUnit")
    pol_tag = "{http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1}transmitterReceiverPolarisation"
    pols = [e for e in first.iter(pol_tag)]
    have_pols = {(e.text or "").strip() for e in pols}
    for manifest in manifests[1:]:
        other = _read_xml(manifest)
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


# ------------------------------------------------------------------------------------------- checks


def check_one_burst_safe(path: Path) -> BurstSafe:
    """Check that ``path`` is a one-burst SAFE (what a burst provider must deliver) and describe it.

    Every annotation must list exactly one burst of one swath, with ``numberOfLines`` =
    ``linesPerBurst``; every measurement TIFF present must have that many lines and
    ``samplesPerBurst`` samples; the manifest, when there is one, must list the files that are there.

    Raises:
        BurstSafeError: what is wrong (file and field named).
    """
    if not path.is_dir():
        raise BurstSafeError(f"{path.name}: not a SAFE folder")
    annotations = [p for p in sorted((path / "annotation").glob("*.xml")) if _NAME.match(p.name)]
    if not annotations:
        raise BurstSafeError(f"{path.name}: no annotation/s1*.xml; not a Sentinel-1 SAFE")
    swaths = {(_NAME.match(p.name) or _never()).group(2).upper() for p in annotations}
    if len(swaths) != 1:
        raise BurstSafeError(
            f"{path.name}: annotations of {len(swaths)} swaths ({', '.join(sorted(swaths))})"
        )
    swath = swaths.pop()
    files = find_swath_files(path, swath)
    lines = samples = 0
    for pol, f in files.items():
        where = f"{path.name}/{f.annotation}"
        root = _read_xml(path / f.annotation)
        timing = _find(root, "swathTiming", where)
        count = len(_find(timing, "burstList", where).findall("burst"))
        if count != 1:
            raise BurstSafeError(f"{where}: {count} bursts in swathTiming/burstList, not one")
        lines, samples = (
            int(_text(timing, "linesPerBurst", where)),
            int(_text(timing, "samplesPerBurst", where)),
        )
        number = int(_text(root, "imageAnnotation/imageInformation/numberOfLines", where))
        if number != lines:
            raise BurstSafeError(f"{where}: numberOfLines {number} is not linesPerBurst {lines}")
        if f.measurement is not None:
            _check_measurement(path / f.measurement, lines=lines, samples=samples, pol=pol)
    listed = _manifest_files(path)
    present = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()} - {"manifest.safe"}
    absent = sorted(listed - present)
    if absent:
        raise BurstSafeError(f"{path.name}: manifest.safe lists {len(absent)} missing file(s): {absent[0]}…")
    kept = tuple(sorted(present))
    return BurstSafe(path, swath, 0, tuple(files), lines, samples, kept)


def _check_measurement(path: Path, *, lines: int, samples: int, pol: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        try:
            with rasterio.open(path) as data:
                shape = (data.height, data.width)
        except RasterioIOError as exc:
            raise BurstSafeError(f"{path.name}: not a readable TIFF ({exc})") from None
    if shape[0] != lines or shape[1] < samples:
        raise BurstSafeError(
            f"{path.name} ({pol}): {shape[0]} x {shape[1]} pixels; one burst is {lines} lines of "
            f"{samples} samples"
        )


def _manifest_files(path: Path) -> set[str]:
    manifest = path / "manifest.safe"
    if not manifest.is_file():
        return set()
    root = _read_xml(manifest)
    return {
        location.get("href", "").removeprefix("./")
        for location in root.iterfind("dataObjectSection/dataObject/byteStream/fileLocation")
    }


def read_burst_pixels(path: Path) -> np.ndarray:
    """The pixels of a one-burst SAFE's measurement TIFF (tests, checks): complex64, lines x samples."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as data:
            return np.asarray(data.read(1))


# --------------------------------------------------------------------------------------------- XML


def _read_xml(path: Path) -> ET.Element:
    return parse_untrusted_xml(path.read_bytes(), name=path.name, error=BurstSafeError)


def _write_xml(root: ET.Element, dest: Path, name: str) -> str:
    """Write ``root`` to ``dest/name``; return ``name``."""
    path = dest / name
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)
    return name


def _find(element: ET.Element, path: str, where: str) -> ET.Element:
    found = element.find(path)
    if found is None:
        raise BurstSafeError(f"{where}: no {path}")
    return found


def _text(element: ET.Element, path: str, where: str) -> str:
    text = _find(element, path, where).text
    if text is None or not text.strip():
        raise BurstSafeError(f"{where}: {path} is empty")
    return text.strip()


def _set(element: ET.Element, path: str, value: str) -> None:
    found = element.find(path)
    if found is not None:
        found.text = value


def _parse_time(text: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise BurstSafeError(f"{where}: {text!r} is not an ISO time") from None


def _never() -> re.Match[str]:
    raise AssertionError("unreachable")  # pragma: no cover
