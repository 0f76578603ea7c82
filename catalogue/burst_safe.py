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

import re
import shutil
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window

from catalogue.burst_xml import (
    cut_annotation,
    cut_calibration,
    cut_noise,
    find,
    manifest_files,
    merge_manifests,
    read_xml,
    text_of,
    write_manifest,
    write_xml,
)
from catalogue.errors import BurstSafeError

__all__ = [
    "BurstSafe",
    "BurstSafeError",
    "burst_safe_name",
    "check_one_burst_safe",
    "cut_burst_safe",
    "find_swath_files",
    "merge_one_burst_safes",
    "read_burst_pixels",
]

CHUNK_LINES = 256  # lines copied at once: 256 x 25 000 samples x 4 bytes = 25 MB
BLOCK = 512  # the output TIFF's tile size
_NAME = re.compile(r"^(?:(calibration|noise)-)?s1[abcd]-(iw\d|ew\d|s\d)-slc-(vv|vh|hh|hv)-.*\.(xml|tiff)$")


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
            annotation = read_xml(safe / f.annotation)
            cut = cut_annotation(annotation, burst=burst, where=f"{safe.name}/{f.annotation}")
            lines, samples, first = cut.lines, cut.samples, cut.first_line
            period.append((cut.start, cut.stop))
            kept.append(write_xml(annotation, dest, f.annotation))
            for name, cutter in ((f.calibration, cut_calibration), (f.noise, cut_noise)):
                if name is not None:
                    root = read_xml(safe / name)
                    cutter(root, first=first, last=first + lines - 1)
                    kept.append(write_xml(root, dest, name))
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
            write_manifest(safe / "manifest.safe", dest, kept, swath=swath, pols=wanted,
                            period=(min(p[0] for p in period), max(p[1] for p in period)))  # fmt: skip
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return BurstSafe(dest, swath, burst, tuple(wanted), lines, samples, tuple(kept))


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
        merge_manifests(manifests, dest / "manifest.safe")
    return check_one_burst_safe(dest)


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
        root = read_xml(path / f.annotation)
        timing = find(root, "swathTiming", where)
        count = len(find(timing, "burstList", where).findall("burst"))
        if count != 1:
            raise BurstSafeError(f"{where}: {count} bursts in swathTiming/burstList, not one")
        lines, samples = (
            int(text_of(timing, "linesPerBurst", where)),
            int(text_of(timing, "samplesPerBurst", where)),
        )
        number = int(text_of(root, "imageAnnotation/imageInformation/numberOfLines", where))
        if number != lines:
            raise BurstSafeError(f"{where}: numberOfLines {number} is not linesPerBurst {lines}")
        if f.measurement is not None:
            _check_measurement(path / f.measurement, lines=lines, samples=samples, pol=pol)
    listed = manifest_files(path)
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


def read_burst_pixels(path: Path) -> np.ndarray:
    """The pixels of a one-burst SAFE's measurement TIFF (tests, checks): complex64, lines x samples."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as data:
            return np.asarray(data.read(1))


def _never() -> re.Match[str]:
    raise AssertionError("unreachable")  # pragma: no cover
