"""Layover and shadow of a SAR burst on its map grid, active and passive (graphs.sentinel1 step 3).

Geometry. sarsen's backward geocoding gives each map pixel ``P`` its zero-Doppler azimuth time and the
vector ``D = P - S`` from the sensor ``S`` at that time. Along one zero-Doppler line (one azimuth time) the
terrain is a profile in **ground range** ``g`` (the geocentric angle between ``S`` and ``P`` times the
Earth's mean radius: the distance from nadir, whatever the height), and each point of it has its **slant
range** ``R = |D|`` and its **look angle** ``θ`` (the angle at ``S`` between nadir and ``D``).

- **shadow**: ``P`` is hidden when the terrain nearer in range rises above its line of sight, i.e. when
  ``θ(P)`` is below the running maximum of ``θ`` over the points before it along its range line. A facet
  facing away from the sensor (``n·u ≥ 0``, local incidence ≥ 90°: *active* shadow) is always such a
  point; the ground behind a ridge, down to where the ray grazing the ridge meets it, is *passive* shadow.
- **layover**: ``P`` shares its slant range with another point of its range line. ``R(g)`` grows with
  ``g`` except on a facet that faces the sensor more steeply than the incidence (*active* layover,
  ``dR/dg < 0``: in the range plane ``(u·g)(n·v) - (u·v)(n·g) < 0``, with ``u`` the look direction,
  ``n`` the facet's normal, ``v`` the local vertical, ``g`` the horizontal ground-range direction). The
  points whose slant range falls inside an active segment's range interval are *passive* layover: the
  ground before its foot and after its top. Both are found at once: ``P`` is in layover where ``R(P)``
  is below the running maximum of ``R`` from near range, or above its running minimum from far range.

Discretisation (vectorised). Map pixels are grouped by azimuth time into bins of one output pixel along
track (``bin_s``, from the ground speed: a narrower bin would hold only some of the pixels of each range
line, whatever the grid's angle to the track); within a bin they are sorted by ground range and each
running maximum or minimum is one ``numpy`` accumulate over a whole group of bins (each bin's values
offset so that bins do not mix). A pixel is compared only with the points at least ``separation_m`` (two
output pixels) away in ground range: the points of a bin lie up to a pixel apart along track, and where
the terrain slopes along track their heights differ, so a closer neighbour could cast a false shadow or
layover. With that separation a false one needs ``s_r + s_a / 2`` (the slopes in range and along track)
above ``tan θ`` (layover) or ``cot θ`` (shadow): at IW's smallest incidence (30°), 21° in range and 21°
along track may give a false layover, where the facet alone needs 30° in range. The separation only
delays the passive part by up to two pixels next to the terrain that casts it (where the active part,
from the facet, is); a passive extent's far end is exact to about one pixel (the grid's sampling of the
terrain). Groups hold about ``group_px`` pixels, so the pass's memory is bounded whatever the burst
(bench/s1.py: 1.2-1.8 s on a full burst of 8.6 Mpx).
Only the terrain on the map grid is seen: a relief beyond its margin (graphs.sentinel1
``TERRAIN_MARGIN_M``, 1 km) casts no shadow nor layover on the burst.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from graphs.s1_radiometry import compute_together

__all__ = [
    "EARTH_RADIUS_M", "MASK_LAYOVER", "MASK_SHADOW", "SPEED_OF_LIGHT", "active_layover_shadow",
    "passive_layover_shadow", "range_line_mask",
]  # fmt: skip

MASK_LAYOVER, MASK_SHADOW = 1, 2
SPEED_OF_LIGHT = 299_792_458.0  # m / s
EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius: ground range is an arc length on the sphere
GROUP_PX = 1 << 19  # pixels per group of bins (about 70 MB of temporaries)
_ANGLE_OFFSET = 4.0  # > π: added per bin to look angles, so that one accumulate never crosses bins


def active_layover_shadow(
    position: np.ndarray, distance: np.ndarray, area: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The local (active) mask of DEM pixels, and their look angle and ground range.

    Args:
        position: ECEF positions ``P`` of the DEM pixels, shape ``(3, ...)`` (metres).
        distance: ``P - S``, from the sensor at each pixel's zero-Doppler time, shape ``(3, ...)``.
        area: the DEM facets' oriented area (sarsen ``compute_dem_oriented_area``), shape ``(3, ...)``.

    Returns:
        (mask: uint8, bit 1 layover, bit 2 shadow; look angle: float32 radians; ground range: float32
        metres from the sensor's nadir), each of shape ``position.shape[1:]``.
    """
    slant_range = np.linalg.norm(distance, axis=0)
    look = distance / np.maximum(slant_range, 1e-12)  # u, sensor -> ground
    normal = area / np.maximum(np.linalg.norm(area, axis=0), 1e-12)
    radius = np.linalg.norm(position, axis=0)
    vertical = position / radius  # geocentric: within 0.2° of the ellipsoid's normal
    u_v = (look * vertical).sum(axis=0)
    ground = look - u_v * vertical
    ground /= np.maximum(np.linalg.norm(ground, axis=0), 1e-12)
    n_u = (normal * look).sum(axis=0)
    layover = (look * ground).sum(axis=0) * (normal * vertical).sum(axis=0) - u_v * (normal * ground).sum(
        axis=0
    ) < 0
    mask = (np.where(layover, MASK_LAYOVER, 0) | np.where(n_u >= 0, MASK_SHADOW, 0)).astype(np.uint8)
    s, p = position - distance, position  # the sensor S, the pixel P
    across = np.sqrt((s[1] * p[2] - s[2] * p[1]) ** 2 + (s[2] * p[0] - s[0] * p[2]) ** 2
                     + (s[0] * p[1] - s[1] * p[0]) ** 2)  # |S x P| = |S x D|  # fmt: skip
    s_p = (s * p).sum(axis=0)
    ground_range = np.arctan2(across, s_p) * EARTH_RADIUS_M
    look_angle = np.arctan2(across, (s * s).sum(axis=0) - s_p)  # between -S and D = P - S
    return mask, look_angle.astype(np.float32), ground_range.astype(np.float32)


def passive_layover_shadow(
    bins: np.ndarray, ground_range: np.ndarray, look_angle: np.ndarray, slant_range: np.ndarray, *,
    separation_m: float, group_px: int = GROUP_PX,
) -> np.ndarray:  # fmt: skip
    """Layover and shadow along range lines (module docstring), active and passive.

    Args:
        bins: each pixel's azimuth bin (a non-negative integer; negative: no geometry, never masked, nor
            is a pixel whose other values are not finite).
        ground_range: metres from nadir (any origin), same shape.
        look_angle: radians, same shape.
        slant_range: metres (any origin), same shape.
        separation_m: the smallest ground-range distance between a pixel and the points it is compared
            with (module docstring: one output pixel).
        group_px: about how many pixels one pass holds.

    Returns:
        uint8 of the same shape: bit 1 layover, bit 2 shadow, 0 elsewhere.
    """
    out = np.zeros(bins.shape, dtype=np.uint8)
    flat_bins = bins.reshape(-1)
    if not (flat_bins >= 0).any():
        return out
    counts = np.bincount(np.where(flat_bins >= 0, flat_bins + 1, 0))[1:]
    starts = np.concatenate([[0], np.cumsum(counts)])  # starts[b]: pixels in bins before b
    flat_out = out.reshape(-1)
    first = 0
    while first < len(counts):
        last = max(first + 1, int(np.searchsorted(starts, starts[first] + group_px, side="right")) - 1)
        member = np.flatnonzero((flat_bins >= first) & (flat_bins < last))
        g, theta, r = (a.reshape(-1)[member] for a in (ground_range, look_angle, slant_range))
        finite = np.isfinite(g) & np.isfinite(theta) & np.isfinite(r)
        if not finite.all():  # a NaN would stop every running maximum after it
            member, g, theta, r = member[finite], g[finite], theta[finite], r[finite]
        if member.size:
            flat_out[member] |= _group_mask(flat_bins[member] - first, g, theta, r, separation_m)
        first = last
    return out


def range_line_mask(acquisition: xr.Dataset, attrs: dict[str, Any], *, resolution_m: float) -> np.ndarray:
    """:func:`passive_layover_shadow` of a geocoded burst: its map pixels binned by azimuth time in bins of
    one output pixel along track, compared with points two pixels away in ground range.

    Args:
        acquisition: per map pixel, ``azimuth_time``, ``slant_range_time``, ``look_angle`` and
            ``ground_range`` (graphs.sentinel1's geocoding, dask-backed or not).
        attrs: the burst's attributes (xarray-sentinel: ``azimuth_pixel_spacing``,
            ``azimuth_time_interval``, ``image_slant_range_time``).
        resolution_m: the map grid's pixel size.
    """
    ground_speed = float(attrs["azimuth_pixel_spacing"]) / float(attrs["azimuth_time_interval"])
    bin_ns = resolution_m / ground_speed * 1e9
    times = acquisition.azimuth_time
    bins = ((times - times.min()) / np.timedelta64(1, "ns") // bin_ns).fillna(-1).astype(np.int32)
    slant_range = ((acquisition.slant_range_time - float(attrs["image_slant_range_time"]))
                   * (SPEED_OF_LIGHT / 2)).astype(np.float32)  # fmt: skip
    computed = compute_together(bins.data, acquisition.ground_range.data, acquisition.look_angle.data,
                                slant_range.data)  # fmt: skip
    return passive_layover_shadow(*computed, separation_m=2 * resolution_m)


def _group_mask(bins: np.ndarray, ground_range: np.ndarray, look_angle: np.ndarray, slant_range: np.ndarray,
                separation_m: float) -> np.ndarray:  # fmt: skip
    """The mask bits of one group of bins (inputs 1-D, in any order; bits in the same order)."""
    b = bins.astype(np.int64)
    g = ground_range.astype(np.float64)
    g -= g.min()
    span = float(g.max()) + 2 * separation_m + 1.0  # bin b's keys lie in [b * span, (b + 1) * span)
    key = b * span + g
    order = np.argsort(key)
    key, b = key[order], b[order]
    n = len(key)
    before = np.searchsorted(key, key - separation_m, side="left") - 1  # last point >= separation nearer
    after = np.searchsorted(key, key + separation_m, side="right")  # first point >= separation farther
    has_before = before >= 0
    before = np.maximum(before, 0)
    has_before &= b[before] == b
    has_after = after < n
    after = np.minimum(after, n - 1)
    has_after &= b[after] == b
    theta = look_angle[order].astype(np.float64) + b * _ANGLE_OFFSET
    shadow = has_before & (theta < np.maximum.accumulate(theta)[before])
    del theta
    r = slant_range[order].astype(np.float64)
    r -= r.min()
    r += b * (float(r.max()) + 1.0)  # earlier bins below, later bins above
    layover = has_before & (r < np.maximum.accumulate(r)[before])
    layover |= has_after & (r > np.minimum.accumulate(r[::-1])[::-1][after])
    bits = np.empty(n, dtype=np.uint8)
    bits[order] = np.where(layover, MASK_LAYOVER, 0) | np.where(shadow, MASK_SHADOW, 0)
    return bits
