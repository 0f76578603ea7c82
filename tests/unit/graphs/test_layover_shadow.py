"""Layover and shadow, active and passive (graphs.s1_layover), on synthetic terrain with a known answer.

Two levels:

- the passive pass alone, on profiles computed exactly for a sensor 693 km above a flat Earth (Sentinel-1's
  altitude): a plateau with vertical cliffs casts a shadow of ``h·tan θ`` behind its far cliff and lays
  ``h·cot θ`` of ground over its near cliff, on both sides (the ground before the foot and the plateau
  after the top share the cliff's slant ranges);
- the whole graph (graphs.sentinel1.geocode_burst) on the REAL crop of ``…62D6`` (IW3 VV, tests/support/
  s1_crop.py) with DEMs written on its output grid, in ellipsoid heights (no resampling, no geoid): the
  same plateau across the range direction, hills of 35° (nothing masked) and flat ground (nothing masked).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.warp
import xarray as xr

from graphs import sentinel1 as s1
from graphs.dem import DemSource, MapGrid, VerticalDatum, write_dem
from graphs.s1_layover import MASK_LAYOVER, MASK_SHADOW, passive_layover_shadow
from tests.support.s1_crop import CropSafe, make_crop_safe

ALTITUDE_M = 693_000.0
STEP_M = 20.0
SEPARATION_M = 2 * STEP_M  # graphs.sentinel1: two output pixels


def _profiles(heights: np.ndarray, x0_m: np.ndarray) -> tuple[np.ndarray, ...]:
    """(ground range, look angle, slant range) of points ``STEP_M`` apart from ``x0_m`` (one per row)."""
    x = x0_m[:, None] + STEP_M * np.arange(heights.shape[1])[None, :]
    above = ALTITUDE_M - heights
    return x, np.arctan2(x, above), np.hypot(x, above)


def _plateau(width_px: int, start_px: int, length_px: int, height_m: float) -> np.ndarray:
    heights = np.zeros(width_px)
    heights[start_px : start_px + length_px] = height_m
    return heights


def test_a_plateau_casts_the_shadow_and_the_layover_that_geometry_predicts() -> None:
    """Three range lines with sub-pixel offsets, shuffled, in groups of a few lines (the grouping loop)."""
    height_m, front, length = 300.0, 60, 50
    heights = np.tile(_plateau(200, front, length, height_m), (3, 1))
    x0 = np.array([581_000.0, 581_007.0, 581_013.0])
    ground, look, slant = _profiles(heights, x0)
    bins = np.repeat(np.arange(3), 200).reshape(3, 200)
    shuffle = np.random.default_rng(1).permutation(bins.size)
    flat = [a.reshape(-1)[shuffle] for a in (bins, ground, look, slant)]
    shuffled = np.empty(bins.size, dtype=np.uint8)
    shuffled[shuffle] = passive_layover_shadow(*flat, separation_m=SEPARATION_M, group_px=250)
    mask = shuffled.reshape(3, 200)
    for line in range(3):
        x = ground[line] - x0[line]
        front_m, back_m = front * STEP_M, (front + length) * STEP_M  # the cliffs, between two samples
        top_look = math.atan2(ground[line][front + length - 1], ALTITUDE_M - height_m)
        shadow_end = back_m - STEP_M + height_m * math.tan(top_look)  # the ray grazing the last top sample
        foot_look = math.atan2(ground[line][front], ALTITUDE_M)
        over = height_m / math.tan(foot_look)  # slant ranges of the cliff, h·cos θ, over ground: h·cot θ
        expected_shadow = (x > back_m) & (x < shadow_end)
        expected_layover = (x > front_m - STEP_M - over) & (x < front_m + over)
        sure = np.minimum(np.abs(x - back_m), np.abs(x - shadow_end)) > STEP_M  # ± one pixel
        assert np.array_equal((mask[line] & MASK_SHADOW > 0)[sure], expected_shadow[sure]), line
        sure = np.minimum(np.abs(x - front_m + STEP_M + over), np.abs(x - front_m - over)) > STEP_M
        assert np.array_equal((mask[line] & MASK_LAYOVER > 0)[sure], expected_layover[sure]), line
        assert 12 < height_m * math.tan(top_look) / STEP_M < 13  # look angle 40°: the sizes tested
        assert 17 < over / STEP_M < 18


def test_flat_ground_and_pixels_without_geometry_are_never_masked() -> None:
    heights = np.zeros((4, 300))
    ground, look, slant = _profiles(heights, np.array([300e3, 300e3 + 5, 580e3, 580e3 + 11]))
    bins = np.repeat(np.array([0, 0, 7, 7]), 300).reshape(4, 300)
    assert not passive_layover_shadow(bins, ground, look, slant, separation_m=SEPARATION_M).any()
    tall = _profiles(np.tile(_plateau(300, 100, 20, 900.0), (4, 1)), np.full(4, 400e3))
    assert not passive_layover_shadow(np.full((4, 300), -1), *tall, separation_m=SEPARATION_M).any()
    assert not passive_layover_shadow(
        np.zeros((0,), int), *(np.zeros(0),) * 3, separation_m=SEPARATION_M
    ).any()


def test_a_pixel_without_geometry_stops_nothing() -> None:
    """A NaN anywhere on a line neither is masked nor hides the shadow after it (NaN poisons a maximum)."""
    heights = _plateau(200, 60, 50, 300.0)[None, :]
    ground, look, slant = _profiles(heights, np.array([581e3]))
    look[0, 20] = np.nan
    mask = passive_layover_shadow(np.zeros((1, 200), int), ground, look, slant, separation_m=SEPARATION_M)
    assert mask[0, 20] == 0 and (mask[0, 115:120] & MASK_SHADOW).all()


def test_bins_are_not_mixed() -> None:
    """A plateau on one line shadows and lays over nothing on the next one, whatever their order."""
    heights = np.stack([_plateau(200, 60, 50, 300.0), np.zeros(200)])
    ground, look, slant = _profiles(heights, np.array([581e3, 581e3]))
    for bins in (np.array([[0], [1]]), np.array([[1], [0]]), np.array([[0], [5]])):
        mask = passive_layover_shadow(
            np.repeat(bins, 200, axis=1), ground, look, slant, separation_m=SEPARATION_M
        )
        assert mask[0].any() and not mask[1].any()


# ------------------------------------------------------------------------------- the graph, real crop


@pytest.fixture(scope="module")
def crop(shared_fixtures: Path, tmp_path_factory: pytest.TempPathFactory) -> CropSafe:
    return make_crop_safe(shared_fixtures, tmp_path_factory.mktemp("safe"))


def _range_axes(crop: CropSafe, grid: MapGrid) -> tuple[np.ndarray, np.ndarray, float]:
    """Each map pixel's coordinates (m) along the ground-range direction and across it, from the crop's
    centre, and the incidence there (from the annotation's geolocation grid, its middle row)."""
    gcp: xr.Dataset = s1.open_group(crop.path, "IW3/VV/gcp")
    row = gcp.sizes["azimuth_time"] // 2
    lon, lat = gcp.longitude.values[row], gcp.latitude.values[row]
    xs, ys = (np.asarray(v) for v in rasterio.warp.transform("EPSG:4326", grid.crs, lon, lat))
    ux, uy = xs[-1] - xs[0], ys[-1] - ys[0]
    norm = math.hypot(ux, uy)
    incidence = float(np.interp(700, gcp.pixel.values, gcp.incidenceAngle.values[row]))
    x, y = np.meshgrid(*grid.xy_centres())
    x, y = x - (x.min() + x.max()) / 2, y - (y.min() + y.max()) / 2
    return (x * ux + y * uy) / norm, (y * ux - x * uy) / norm, incidence


def _geocode(
    crop: CropSafe, work: Path, heights_for: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(mask, range axis, incidence, resolution) of the crop on the DEM ``heights_for(along, across)``."""
    files = s1.find_burst_files(crop.path)[0]
    options = s1.BackscatterOptions(gamma=None)
    grid = s1.burst_grid(crop.path, files, options)
    along, across, incidence = _range_axes(crop, grid)
    dem = write_dem(work / "dem.tif", heights_for(along, across), grid)
    source = DemSource(path=dem, datum=VerticalDatum.ELLIPSOID)
    result = s1.geocode_burst(crop.path, source, work / "out", options=options)
    with rasterio.open(result.files["layover_shadow"]) as dataset:
        mask = np.asarray(dataset.read(1))
    return mask, along, incidence, grid.resolution_m


@pytest.mark.slow  # geocoding: about 3 s
def test_a_plateau_across_the_range_direction_of_the_real_crop(crop: CropSafe, tmp_path: Path) -> None:
    """A 300 m plateau, 1 km wide, with vertical cliffs across the range direction (incidence 43.7°):
    layover over h·cot θ on both sides of its near cliff, shadow over h·tan θ behind its far one, ± one
    pixel at their ends; nothing elsewhere."""
    height_m, front_m, back_m = 300.0, -700.0, 300.0
    mask, along, incidence, res = _geocode(
        crop, tmp_path, lambda s, _: np.where((s >= front_m) & (s < back_m), height_m, 0.0)
    )
    inside = mask != s1.MASK_OUTSIDE
    assert inside.sum() > 40_000
    theta = math.radians(incidence)
    over, shadow_m = height_m / math.tan(theta), height_m * math.tan(theta)
    layover, shadow = (mask & MASK_LAYOVER) > 0, (mask & MASK_SHADOW) > 0
    expected_layover = (along > front_m - over) & (along < front_m + over)
    expected_shadow = (along >= back_m) & (along < back_m + shadow_m)
    # ± one pixel at the passive ends; at the cliffs, the facets of the pixels beside them, whose normals
    # sarsen takes across their neighbours (diagonal ones too: 1.2 px along range at this grid's angle)
    near_end = np.min(
        [np.abs(along - e) for e in (front_m - over, front_m + over, back_m + shadow_m)], axis=0
    )
    near_cliff = np.min([np.abs(along - e) for e in (front_m, back_m)], axis=0)
    sure = inside & (near_end > res) & (near_cliff > 1.5 * res)
    assert (layover & sure & ~expected_layover).sum() == 0
    assert (~layover & sure & expected_layover).sum() == 0
    assert (shadow & sure & ~expected_shadow).sum() == 0
    assert (~shadow & sure & expected_shadow).sum() == 0
    # the passive parts are most of it: the cliffs themselves are one pixel wide
    assert (layover & inside).sum() > 10 * (inside & (np.abs(along - front_m) < res)).sum()


@pytest.mark.slow  # geocoding: about 3 s
def test_hills_of_35_degrees_and_flat_ground_have_no_mask(crop: CropSafe, tmp_path: Path) -> None:
    """Hills whose slopes reach 35° in range and along track (layover needs more than the incidence,
    43.7°, shadow more than 90° - 43.7°), beside flat ground: nothing masked, though a range line's bin
    mixes points a pixel apart along track (graphs.s1_layover: the two-pixel separation)."""
    wavelength_m, start_m = 2000.0, -1200.0
    k = 2 * math.pi / wavelength_m
    amplitude_m = math.tan(math.radians(35.0)) / k  # the egg crate's steepest slope: amplitude · k

    def hills(along: np.ndarray, across: np.ndarray) -> np.ndarray:
        heights = amplitude_m * np.sin(k * (along - start_m)) * np.sin(k * across)
        return np.where(along < start_m, 0.0, heights)  # flat before: 0 on the boundary too

    mask, along, _, _ = _geocode(crop, tmp_path, hills)
    inside = mask != s1.MASK_OUTSIDE
    assert (inside & (along < start_m)).sum() > 5000 and (inside & (along > start_m)).sum() > 20_000
    assert not (mask[inside] & (MASK_LAYOVER | MASK_SHADOW)).any()
