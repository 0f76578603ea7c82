"""Sentinel-1 bursts: from product annotation XML to burst tiles (the original's ``catalog/bursts.go``).

Annotation XML: Sentinel-1 IPF product annotation (``s1-level-1-product.xsd``), read from every IPF
version: ``adsHeader/{swath,polarisation}``, ``swathTiming/{linesPerBurst,samplesPerBurst}``,
``swathTiming/burstList/burst/{azimuthTime,azimuthAnxTime,sensingTime}``, ``burst/burstId`` (IPF ≥ 3.40
only) and ``geolocationGrid/geolocationGridPointList/geolocationGridPoint{line,pixel,latitude,longitude}``.

A burst tile is identified as the original ingester does, ``<A|D><relativeOrbit>_<swath>_<anx>`` (e.g.
``A44_IW1_8951``), where ``anx`` is the burst's time since the ascending node in deci-seconds, modulo
5924 s. Each tile also gets ESA's burst id (``esa_burst_id``), the same for every pass over the place.
"""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import shapely
from shapely.errors import ShapelyError

from catalogue.errors import CatalogueError, ProductNameError
from catalogue.models import Scene, Tile
from catalogue.naming import parse_product_name
from common.xml import parse_untrusted_xml

log = logging.getLogger(__name__)

# 12-day repeat cycle of 175 orbits.
T_ORB_S = 12 * 24 * 3600 / 175
# The original's modulo for AnxTime: 12*24*60*60/175 with integer division (5924, not 5924.57).
ANX_MODULO_S = 12 * 24 * 60 * 60 // 175

# ESA burst id, IW mode: S1-TN-MDA-52-7445 "Sentinel-1 Level 1 Detailed Algorithm Definition"
# (DI-MPC-IPFDPM) §9.25, Table 9-7 (T_beam, T_pre), eq. 9-89 (dt_b) and 9-91 (burst id); swath timing and
# the mid-IW2 reference as implemented by isce-framework/s1-reader, src/s1reader/s1_burst_id.py
# (S1BurstId.from_burst_params), itself used by ASF (asfadmin/rain code/util/burst.py) and burst2safe.
IW_T_BEAM_S = 2.758273  # beam cycle time: one burst of IW1, IW2 and IW3
IW_T_PRE_S = 2.299849  # preamble
# Start of each swath's burst relative to the IW1 burst of the same cycle: IW1→IW2 0.832 s, IW2→IW3 1.078 s.
_IW_SWATH_START_S = {"IW1": 0.0, "IW2": 0.832, "IW3": 0.832 + 1.078}
# The burst id is computed at the middle of the IW2 burst (the middle of the whole burst cycle).
_IW1_START_TO_MID_IW2_S = 0.832 + 1.078 / 2

# Relative orbit = (absolute - offset) % 175 + 1 (ESA STEP forum "sentinel-1-relative-orbit-from-filename";
# also MintPy mintpy/geometry/orbit.py::get_relative_orbit_number). S1C's offset holds until its orbit
# change of June 2026 (CDSE news 2026-05-28); later S1C products and other units need a relativeOrbit tag.
_ORBIT_OFFSETS = {"S1A": 73, "S1B": 27, "S1C": 172}
_S1C_ORBIT_CHANGE = datetime(2026, 6, 9, tzinfo=UTC)


@dataclass(frozen=True)
class Burst:
    """One burst of one swath annotation."""

    swath: str
    polarisation: str
    tile_nr: int  # 1-based index in the swath
    azimuth_anx_time_s: float  # zero-Doppler time of the first line since the ascending node
    sensing_anx_time_s: float  # sensing time of the first line since the same ascending node
    footprint_wkt: str
    annotated_burst_id: int | None  # <burstId>, IPF ≥ 3.40

    @property
    def anx_time(self) -> int:
        """The original's AnxTime: ``round((azimuthAnxTime mod 5924) * 10)``, deci-seconds."""
        return math.floor((self.azimuth_anx_time_s % ANX_MODULO_S) * 10 + 0.5)


@dataclass(frozen=True)
class SwathAnnotation:
    """What burst extraction needs from one annotation file (one swath, one polarisation)."""

    swath: str
    polarisation: str
    lines_per_burst: int
    samples_per_burst: int
    bursts: tuple[Burst, ...]


def esa_burst_id(sensing_anx_time_s: float, relative_orbit: int, *, swath: str) -> int:
    """ESA's burst id of an IW burst: ``1 + floor((dt_b - T_pre) / T_beam)``.

    ``dt_b = (relative_orbit - 1) * T_orb + t_b``, where ``t_b`` is the middle of the cycle's IW2 burst
    since the ascending node (sources in the module constants). The id is counted over the 12-day cycle
    (1 to 375 888), so an orbit-175 burst past the next ascending node wraps to the first ids.

    Args:
        sensing_anx_time_s: sensing time of the burst's first line minus the time of the ascending node
            that starts ``relative_orbit`` (annotation: ``azimuthAnxTime + sensingTime - azimuthTime``).
        relative_orbit: relative orbit (track) 1…175.
        swath: ``IW1``, ``IW2`` or ``IW3``.

    Raises:
        CatalogueError: another swath, or a relative orbit out of 1…175.
    """
    if swath not in _IW_SWATH_START_S:
        raise CatalogueError(
            f"swath {swath!r}: ESA burst ids are computed for {', '.join(_IW_SWATH_START_S)}"
        )
    if not 1 <= relative_orbit <= 175:
        raise CatalogueError(f"relative orbit {relative_orbit}: expected 1…175")
    mid_iw2_s = sensing_anx_time_s - _IW_SWATH_START_S[swath] + _IW1_START_TO_MID_IW2_S
    dt_b = (relative_orbit - 1) * T_ORB_S + mid_iw2_s
    return 1 + math.floor(((dt_b - IW_T_PRE_S) % (175 * T_ORB_S)) / IW_T_BEAM_S)


def relative_orbit_from_absolute(mission_id: str, absolute_orbit: int, date: datetime) -> int:
    """The relative orbit (track) of an absolute orbit (see ``_ORBIT_OFFSETS`` for the source).

    Raises:
        CatalogueError: a unit whose offset is not known for that date.
    """
    offset = _ORBIT_OFFSETS.get(mission_id)
    if offset is None or (mission_id == "S1C" and date >= _S1C_ORBIT_CHANGE):
        raise CatalogueError(
            f"relative orbit of {mission_id} orbit {absolute_orbit} on {date:%Y-%m-%d} is not known from "
            "the name; the catalogue must give the tag 'relativeOrbit'"
        )
    return (absolute_orbit - offset) % 175 + 1


def scene_relative_orbit(scene: Scene) -> int:
    """The scene's relative orbit: tag ``relativeOrbit``, else derived from the absolute orbit in its name.

    Raises:
        CatalogueError: the tag is not a number in 1…175, or it is absent and the name does not tell.
    """
    tag = scene.tags.get("relativeOrbit", "").strip()
    if tag:
        if not tag.isdigit() or not 1 <= int(tag) <= 175:
            raise CatalogueError(f"{scene.source_id}: tag relativeOrbit={tag!r}, expected a number 1…175")
        return int(tag)
    try:
        keys = parse_product_name(scene.source_id)
        absolute_orbit = int(keys["ORBIT"])
    except (ProductNameError, KeyError, ValueError) as exc:
        raise CatalogueError(
            f"{scene.source_id}: no tag relativeOrbit and no absolute orbit in the name ({exc})"
        ) from exc
    return relative_orbit_from_absolute(keys["MISSION_ID"], absolute_orbit, scene.date)


def parse_annotation(xml: bytes, *, name: str = "annotation") -> SwathAnnotation:
    """Swath, burst timing and burst footprints of one product annotation XML.

    The footprint of burst i (0-based) joins the geolocation grid points of the first column (pixel 0)
    and the last column (pixel samplesPerBurst-1) at lines ``i*linesPerBurst`` and ``(i+1)*linesPerBurst``,
    each falling back to the line before, as the original. All four corners must exist (the original
    checked two). Polygon ring and ``%f`` format are the original's.

    Raises:
        CatalogueError: not XML, a DTD (refused: annotations have none), an element missing or not a
            number, or a footprint corner missing (``name`` is quoted in the message).
    """
    root = parse_untrusted_xml(xml, name=name, error=CatalogueError, what="an annotation file")
    swath = _text(root, "adsHeader/swath", name)
    polarisation = _text(root, "adsHeader/polarisation", name)
    lines_per_burst = int(_number(root, "swathTiming/linesPerBurst", name))
    samples_per_burst = int(_number(root, "swathTiming/samplesPerBurst", name))
    elements = root.findall("swathTiming/burstList/burst")
    grid: dict[tuple[int, int], tuple[float, float]] = {}
    if elements:
        points = root.findall("geolocationGrid/geolocationGridPointList/geolocationGridPoint")
        for point in points:
            key = (int(_number(point, "line", name)), int(_number(point, "pixel", name)))
            grid[key] = (_number(point, "longitude", name), _number(point, "latitude", name))
    bursts = []
    for index, element in enumerate(elements):
        where = f"{name}: burst {index + 1}"
        azimuth_anx_s = _number(element, "azimuthAnxTime", where)
        sensing_anx_s = azimuth_anx_s
        if element.find("sensingTime") is not None:
            delta = _time(element, "sensingTime", where) - _time(element, "azimuthTime", where)
            sensing_anx_s += delta.total_seconds()
        burst_id = element.find("burstId")
        bursts.append(
            Burst(
                swath=swath,
                polarisation=polarisation,
                tile_nr=index + 1,
                azimuth_anx_time_s=azimuth_anx_s,
                sensing_anx_time_s=sensing_anx_s,
                footprint_wkt=_footprint(grid, index, lines_per_burst, samples_per_burst, where),
                annotated_burst_id=int(_number(element, "burstId", where)) if burst_id is not None else None,
            )
        )
    return SwathAnnotation(swath, polarisation, lines_per_burst, samples_per_burst, tuple(bursts))


def make_burst_tiles(
    scene: Scene, annotations: Iterable[tuple[str, bytes]], *, aoi_wkt: str, buffer_deg: float = 0.05
) -> list[Tile]:
    """The burst tiles of ``scene`` that intersect the AOI buffered by ``buffer_deg`` degrees.

    Bursts are de-duplicated by swath and AnxTime (VV and VH annotate the same bursts). Tiles are sorted
    by swath then tile_nr. When an annotation carries ESA's ``<burstId>``, it is used; a computed id that
    differs from it is logged as a warning.

    Args:
        scene: the Sentinel-1 scene; tags ``orbitDirection`` and (optionally) ``relativeOrbit`` are read.
        annotations: ``(path, XML bytes)`` as ``catalogue.annotations.read_annotations`` returns them.
        aoi_wkt: area of interest, EPSG:4326 WKT.
        buffer_deg: AOI buffer, degrees (the original's 0.05).

    Raises:
        CatalogueError: tag orbitDirection missing, relative orbit unknown, bad AOI or bad annotation.
    """
    direction = scene.tags.get("orbitDirection", "").strip().upper()
    if not direction:
        raise CatalogueError(
            f"{scene.source_id}: tag 'orbitDirection' is missing or empty; burst tile ids "
            "(<A|D><relativeOrbit>_<swath>_<anx>) need it: the catalogue must give it (ASCENDING/DESCENDING)"
        )
    relative_orbit = scene_relative_orbit(scene)
    swaths = sorted(
        (parse_annotation(xml, name=path) for path, xml in annotations),
        key=lambda s: (s.swath, s.polarisation),
    )
    try:
        area = shapely.from_wkt(aoi_wkt)
    except (ShapelyError, TypeError) as exc:
        raise CatalogueError(f"aoi_wkt: not a valid WKT geometry ({exc})") from exc
    if buffer_deg > 0:  # buffer(0) would turn a point or a line into an empty polygon
        area = area.buffer(buffer_deg)
    anx_shift_s = _anx_shift_s(swaths)
    seen: set[tuple[str, int]] = set()
    tiles: list[Tile] = []
    for swath in swaths:
        for burst in swath.bursts:
            if (burst.swath, burst.anx_time) in seen:
                continue
            seen.add((burst.swath, burst.anx_time))
            if not shapely.from_wkt(burst.footprint_wkt).intersects(area):
                continue
            tiles.append(
                Tile(
                    source_id=f"{direction[0]}{relative_orbit}_{burst.swath}_{burst.anx_time}",
                    scene_id=scene.source_id,
                    date=scene.date,
                    footprint_wkt=burst.footprint_wkt,
                    swath_id=burst.swath,
                    tile_nr=burst.tile_nr,
                    anx_time=burst.anx_time,
                    burst_id=_burst_id(scene.source_id, burst, relative_orbit, anx_shift_s),
                )
            )
    log.info("%s: %d burst(s) of %d intersect the AOI", scene.source_id, len(tiles), len(seen))
    return sorted(tiles, key=lambda t: (t.swath_id, t.tile_nr))


def _anx_shift_s(swaths: list[SwathAnnotation]) -> float:
    # azimuthAnxTime counts from the ascending node before the start of the data take, whereas the
    # product's (relative) orbit is that of the product start. A product starting after the next ascending
    # node (first burst > T_orb) has its orbit number already incremented: count from that node instead.
    # A product crossing the node keeps its start orbit, and esa_burst_id takes times beyond T_orb.
    times = [b.azimuth_anx_time_s for s in swaths for b in s.bursts]
    return -T_ORB_S if times and min(times) >= T_ORB_S else 0.0


def _burst_id(scene_id: str, burst: Burst, relative_orbit: int, anx_shift_s: float) -> int | None:
    if burst.swath not in _IW_SWATH_START_S:
        return burst.annotated_burst_id
    computed = esa_burst_id(burst.sensing_anx_time_s + anx_shift_s, relative_orbit, swath=burst.swath)
    if burst.annotated_burst_id is None:
        return computed
    if computed != burst.annotated_burst_id:
        log.warning(
            "%s %s burst %d: computed ESA burst id %d differs from the annotated %d; keeping the annotated",
            scene_id,
            burst.swath,
            burst.tile_nr,
            computed,
            burst.annotated_burst_id,
        )
    return burst.annotated_burst_id


def _footprint(
    grid: dict[tuple[int, int], tuple[float, float]], index: int, lines: int, samples: int, where: str
) -> str:
    first_line, last_line = index * lines, (index + 1) * lines
    first_pixel, last_pixel = 0, samples - 1
    a = _corner(grid, first_line, first_pixel, where)
    b = _corner(grid, last_line, first_pixel, where)
    c = _corner(grid, last_line, last_pixel, where)
    d = _corner(grid, first_line, last_pixel, where)
    ring = ", ".join(f"{lon:f} {lat:f}" for lon, lat in (a, b, c, d, a))
    return f"POLYGON(({ring}))"


def _corner(
    grid: dict[tuple[int, int], tuple[float, float]], line: int, pixel: int, where: str
) -> tuple[float, float]:
    for candidate in (line, line - 1):
        if (candidate, pixel) in grid:
            return grid[(candidate, pixel)]
    raise CatalogueError(
        f"{where}: no geolocation grid point at line {line} (or {line - 1}), pixel {pixel}, for its footprint"
    )


def _text(element: ET.Element, path: str, where: str) -> str:
    text = element.findtext(path)
    if text is None or not text.strip():
        raise CatalogueError(f"{where}: element {path} is missing or empty")
    return text.strip()


def _number(element: ET.Element, path: str, where: str) -> float:
    text = _text(element, path, where)
    try:
        return float(text)
    except ValueError:
        raise CatalogueError(f"{where}: element {path}={text!r} is not a number") from None


def _time(element: ET.Element, path: str, where: str) -> datetime:
    text = _text(element, path, where)
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise CatalogueError(f"{where}: element {path}={text!r} is not an ISO time") from None
