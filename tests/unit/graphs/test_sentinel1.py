"""Sentinel-1 burst backscatter on REAL pixels: the fixtures' SLC crop of …62D6 as a one-burst SAFE.

The crop's calibration and noise come from the same swath and polarisation of …7768 (62D6's are not
public; tests/support/s1_crop.py). DEMs are generated over the crop's footprint (tests/support/dem.py),
their heights above a stand-in geoid grid saved as us_nga_egm08_25.tif (no EGM2008 grid is installed
here; graphs.dem refuses to run without one).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.warp
import shapely
import xarray as xr
from shapely.geometry import Polygon

from common.dataformat import DataFormat
from geocube_client import GeocubeClient
from geocube_client.models import NewRecord
from graphs import sentinel1 as s1
from graphs.cog import is_valid_cog
from graphs.dem import PROJ_DATA_ENV, DemSource, MapGrid, VerticalDatum, warp_dem
from graphs.loader import LIBRARY_DIR, load_graph_file
from tests.support.dem import stand_in_geoid, write_flat_dem, write_relief_dem
from tests.support.s1_crop import CropSafe, make_crop_safe

REPO = Path(__file__).resolve().parents[3]
# Plausible C-band VV sigma0 at 43-44 deg incidence. Sea: the CMOD5.N geophysical model function
# (Hersbach, ECMWF Tech. Memo 627, 2010) gives about -30 dB at 2 m/s to -14 dB at 20 m/s (upwind);
# the crop's sea lies in the island's lee (low wind). Land (vegetation, fields, villages): -15 to -3 dB
# (Ulaby & Long, "Microwave Radar and Radiometric Remote Sensing", 2014, ch. 11; ESA Sentinel-1 user guide).
SEA_DB = (-32.0, -14.0)
LAND_DB = (-15.0, -3.0)


@pytest.fixture(scope="module")
def geoid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The stand-in EGM2008 grid, visible to PROJ for this module only."""
    with stand_in_geoid(tmp_path_factory.mktemp("grids")) as folder:
        yield folder


@pytest.fixture(scope="module")
def crop(shared_fixtures: Path, tmp_path_factory: pytest.TempPathFactory) -> CropSafe:
    return make_crop_safe(shared_fixtures, tmp_path_factory.mktemp("safe"))


def _footprint_bounds(crop: CropSafe, pad: float = 0.02) -> tuple[float, float, float, float]:
    files = s1.find_burst_files(crop.path)[0]
    grid = s1.burst_grid(crop.path, files, s1.BackscatterOptions())
    west, south, east, north = rasterio.warp.transform_bounds(grid.crs, "EPSG:4326", *grid.bounds())
    return west - pad, south - pad, east + pad, north + pad


def _coast_lat(crop: CropSafe) -> float:
    """The latitude of the crop's row 360 (between land rows 0-299 and sea rows 420-600)."""
    gcp, ds = s1.open_group(crop.path, "IW3/VV/gcp"), s1.open_group(crop.path, "IW3/VV")
    return s1.interp_geolocation(gcp, s1.line_time(ds, 360), 700)[1]


@pytest.fixture(scope="module")
def relief(crop: CropSafe, geoid: Path, tmp_path_factory: pytest.TempPathFactory) -> s1.BackscatterResult:
    """σ⁰ and γ⁰ (linear) on a DEM with hills over the land and 0 over the sea."""
    work = tmp_path_factory.mktemp("relief")
    dem = write_relief_dem(work / "dem.tif", _footprint_bounds(crop), coast_lat=_coast_lat(crop))
    options = s1.BackscatterOptions(scale=s1.Scale.LINEAR)
    return s1.geocode_burst(crop.path, DemSource(path=dem), work / "out", options=options)


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as dataset:
        return np.asarray(dataset.read(1))


def _db(values: np.ndarray) -> float:
    return float(10 * np.log10(values))


@pytest.mark.slow  # with the module's relief geocoding (about 5 s), shared by the gamma0 and GetCube tests
def test_sigma0_over_sea_and_land_falls_in_plausible_ranges(
    crop: CropSafe, relief: s1.BackscatterResult
) -> None:
    (files,) = s1.find_burst_files(crop.path)
    radar = s1.calibrate_burst(files, looks=(1, 1))
    # cells below the noise floor are NaN: counted as 0 (a lower bound) and skipped (an upper bound)
    sea, land = radar.sigma0[crop.sea_rows], radar.sigma0[crop.land_rows]
    sea_low, sea_high = _db(np.nan_to_num(sea).mean()), _db(np.nanmean(sea))
    land_db = _db(np.nanmean(land))
    assert SEA_DB[0] < sea_low <= sea_high < SEA_DB[1], (sea_low, sea_high)
    assert LAND_DB[0] < land_db < LAND_DB[1], land_db
    assert land_db - sea_high > 10  # the coast is plain in the picture
    assert np.mean(np.isnan(land)) < 0.05  # land is far above the noise floor
    # the same through the map: the geocoded layer's distribution spans both
    geocoded = _read(relief.files["sigma0_VV"])
    values = 10 * np.log10(geocoded[np.isfinite(geocoded)])
    assert np.percentile(values, 90) > LAND_DB[0] and np.percentile(values, 10) < SEA_DB[1]


@pytest.mark.slow  # two calibrations
def test_noise_is_removed_in_both_layouts(crop: CropSafe, shared_fixtures: Path, tmp_path: Path) -> None:
    (files,) = s1.find_burst_files(crop.path)
    after = s1.read_noise(files.noise)
    old = make_crop_safe(shared_fixtures, tmp_path, pre_290_noise=True)
    (old_files,) = s1.find_burst_files(old.path)
    before = s1.read_noise(old_files.noise)
    assert (after.layout, before.layout) == ("IPF>=2.90", "IPF<2.90")
    lines, pixels = np.arange(0, 601, 50.0), np.arange(0, 1401, 100.0)
    gain = after.at(lines, pixels) / before.at(lines, pixels)  # the azimuth LUT, only in the new layout
    azimuth = after.azimuth[0]
    assert np.allclose(gain[:, 0], np.interp(lines, azimuth.lines, azimuth.values), rtol=1e-6)
    # removing the noise lowers the sea (near the floor) much more than the land
    radar = s1.calibrate_burst(files, looks=(1, 1))
    old_radar = s1.calibrate_burst(old_files, looks=(1, 1))
    assert radar.below_noise_fraction > 0.05 and old_radar.below_noise_fraction > 0.05
    ratio = np.nanmean(old_radar.sigma0[crop.land_rows]) / np.nanmean(radar.sigma0[crop.land_rows])
    assert 0.98 < ratio < 1.02


def test_a_noise_file_of_another_shape_is_a_typed_error(tmp_path: Path) -> None:
    bad = tmp_path / "noise.xml"
    for text, message in (
        (b"not xml", "not valid XML"), (b"<noise/>", "no noiseRangeVectorList/noiseRangeVector"),
        (b"<noise><noiseVectorList><noiseVector><line>0</line><pixel>0 40</pixel><noiseLut>1 x</noiseLut>"
         b"</noiseVector></noiseVectorList></noise>", "noiseLut holds something other than numbers"),
    ):  # fmt: skip
        bad.write_bytes(text)
        with pytest.raises(s1.Sentinel1Error, match=message):
            s1.read_noise(bad)


def _grid_at_zero_height(gcp: xr.Dataset, crs: object) -> xr.Dataset:
    """The geolocation grid moved to height 0: the ground at the slant range and time of a point annotated
    at height h lies h / tan(incidence) nearer the sensor (an elevated point is seen at the range of a
    nearer one; the grid gives lat/lon at the annotated height; ground range grows with the pixel)."""
    lon, lat, h = gcp.longitude.values, gcp.latitude.values, gcp.height.values
    x, y = (
        np.array(v).reshape(lon.shape)
        for v in rasterio.warp.transform("EPSG:4326", crs, lon.ravel(), lat.ravel())
    )
    dx, dy = np.gradient(x, axis=1), np.gradient(y, axis=1)
    norm = np.hypot(dx, dy)
    shift = h / np.tan(np.radians(gcp.incidenceAngle.values))
    x0, y0 = x - shift * dx / norm, y - shift * dy / norm
    lon0, lat0 = rasterio.warp.transform(crs, "EPSG:4326", x0.ravel(), y0.ravel())
    moved = gcp.copy()
    moved["longitude"] = (gcp.longitude.dims, np.array(lon0).reshape(lon.shape))
    moved["latitude"] = (gcp.latitude.dims, np.array(lat0).reshape(lat.shape))
    return moved


@pytest.mark.slow  # geocoding: about 3 s
def test_the_geocoded_footprint_matches_the_geolocation_grid_within_one_pixel(
    crop: CropSafe, geoid: Path, tmp_path: Path
) -> None:
    """On a DEM at height 0, the crop's corners, interpolated in the annotation's grid (moved to height 0),
    bound the geocoded burst within one output pixel, all the way round."""
    dem = write_flat_dem(tmp_path / "dem.tif", _footprint_bounds(crop), height_m=0.0)
    options = s1.BackscatterOptions(gamma=None)
    source = DemSource(path=dem, datum=VerticalDatum.ELLIPSOID)
    result = s1.geocode_burst(crop.path, source, tmp_path, options=options)
    inside = _read(result.files["layover_shadow"]) != s1.MASK_OUTSIDE
    gcp = _grid_at_zero_height(s1.open_group(crop.path, "IW3/VV/gcp"), result.grid.crs)
    ds = s1.open_group(crop.path, "IW3/VV")
    # corners of the multilooked image (1 x 4 looks keep samples 0-1399), at the pixels' edges
    corners = [s1.interp_geolocation(gcp, s1.line_time(ds, line), pixel)
               for line, pixel in ((-0.5, -0.5), (-0.5, 1399.5), (600.5, 1399.5), (600.5, -0.5))]  # fmt: skip
    lons, lats = [c[0] for c in corners], [c[1] for c in corners]
    footprint = Polygon(zip(*rasterio.warp.transform("EPSG:4326", result.grid.crs, lons, lats), strict=True))
    res = result.grid.resolution_m
    x, y = np.meshgrid(*result.grid.xy_centres())
    in_grown = shapely.contains_xy(footprint.buffer(res), x, y)
    in_shrunk = shapely.contains_xy(footprint.buffer(-res), x, y)
    assert not (inside & ~in_grown).any()  # nothing geocoded more than a pixel outside the footprint
    assert not (~inside & in_shrunk).any()  # nothing missing more than a pixel inside it
    assert inside.sum() * res**2 == pytest.approx(footprint.area, rel=0.02)


@pytest.mark.slow  # the module's relief geocoding
def test_gamma0_differs_from_sigma0_on_slopes(relief: s1.BackscatterResult, crop: CropSafe) -> None:
    sigma, gamma = _read(relief.files["sigma0_VV"]), _read(relief.files["gamma0_VV"])
    with rasterio.open(relief.files["sigma0_VV"]) as dataset:
        grid = MapGrid(dataset.crs, dataset.transform, dataset.width, dataset.height)
    heights = warp_dem(DemSource(path=relief.files["sigma0_VV"].parents[1] / "dem.tif"), grid)
    dy, dx = np.gradient(heights, grid.resolution_m)
    slope = np.degrees(np.arctan(np.hypot(dx, dy)))
    ratio_db = 10 * np.log10(gamma / sigma)
    valid = np.isfinite(ratio_db)
    flat, steep = valid & (slope < 1), valid & (slope > 12)
    assert flat.sum() > 1000 and steep.sum() > 1000
    # flat ground: gamma0 = sigma0 / cos(incidence), incidence 43.6-43.9 deg here: +1.4 dB
    incidence = math.radians(float(s1.calibrate_burst(s1.find_burst_files(crop.path)[0], looks=(1, 4))
                                    .attrs["incidence_angle_mid_swath"]))  # fmt: skip
    assert np.median(ratio_db[flat]) == pytest.approx(-10 * math.log10(math.cos(incidence)), abs=0.3)
    # slopes: flattened by their own illuminated area, so the ratio spreads with the terrain
    assert np.std(ratio_db[steep]) > 3 * np.std(ratio_db[flat])
    # facing the sensor (east: a descending pass looks west) they get a lower ratio than facing away
    facing = valid & (slope > 12) & (dx < 0)  # height falls towards the east: faces east
    away = valid & (slope > 12) & (dx > 0)
    assert np.median(ratio_db[facing]) < np.median(ratio_db[flat]) < np.median(ratio_db[away])


@pytest.mark.slow  # geocoding: about 2.5 s
def test_layover_and_shadow_on_a_steep_ridge(crop: CropSafe, geoid: Path, tmp_path: Path) -> None:
    """A north-south ridge with 65° faces, across the range direction (incidence 43.8°): its east face
    (towards the sensor of this descending pass) is steeper than the incidence (layover), its west face
    steeper than 90° - incidence (shadow); the flat ground before the east face is passive layover, behind
    the west face passive shadow; farther away, neither."""
    dem = write_relief_dem(tmp_path / "dem.tif", _footprint_bounds(crop), amplitude_m=0.0, ridge_slope_deg=65)
    options = s1.BackscatterOptions(gamma=None)
    result = s1.geocode_burst(crop.path, DemSource(path=dem), tmp_path / "out", options=options)
    mask = _read(result.files["layover_shadow"])
    inside = mask != s1.MASK_OUTSIDE
    layover, shadow = inside & (mask & s1.MASK_LAYOVER > 0), inside & (mask & s1.MASK_SHADOW > 0)
    heights = warp_dem(DemSource(path=dem), result.grid)
    dy, dx = np.gradient(heights, result.grid.resolution_m)
    slope = np.degrees(np.arctan(np.hypot(dx, dy)))
    east_face, west_face = inside & (slope > 50) & (dx < 0), inside & (slope > 50) & (dx > 0)
    assert east_face.sum() > 100 and west_face.sum() > 100
    assert (layover & east_face).sum() > 0.9 * east_face.sum()
    assert (shadow & west_face).sum() > 0.9 * west_face.sum()
    # passive (graphs.s1_layover): the flat ground east of the east foot shares the east face's slant
    # ranges (345 m from the foot, 625 m from the crest), the crest hides the flat ground west of the west
    # foot (600 m · tan 43.8° = 575 m from the crest); ground under 20° farther away has neither
    x = result.grid.xy_centres()[0][None, :]
    from_crest = x - x[0, np.argmax(heights, axis=1)][:, None]
    gentle = inside & (slope < 20)
    east_ground = gentle & (from_crest > 300) & (from_crest < 580)
    west_ground = gentle & (from_crest < -330) & (from_crest > -530)
    assert (layover & east_ground).sum() > 0.99 * east_ground.sum()
    assert (shadow & west_ground).sum() > 0.99 * west_ground.sum()
    far = gentle & (np.abs(from_crest) > 700)
    assert far.sum() > 10_000 and not (mask[far] & (s1.MASK_LAYOVER | s1.MASK_SHADOW)).any()


@pytest.mark.slow
def test_the_graph_script_writes_cogs_by_layer(crop: CropSafe, geoid: Path, tmp_path: Path) -> None:
    dem = write_relief_dem(tmp_path / "dem.tif", _footprint_bounds(crop), coast_lat=_coast_lat(crop))
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(crop.path, work / crop.path.name)
    env = {"GEOCUBE_INGESTER_DEM": str(dem), PROJ_DATA_ENV: str(geoid), "PATH": "/usr/bin:/bin"}
    argv = [sys.executable, str(REPO / "graphs" / "python" / "s1_backscatter.py"), f"--workdir={work}",
            f"--pattern-out={tmp_path}/20220918_*.tif", "--scale=db", "--gamma=gamma_nearest",
            "--resolution-m=20", "--looks=1x4"]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    for layer in ("sigma0_VV", "gamma0_VV", "layover_shadow"):
        assert is_valid_cog(tmp_path / f"20220918_{layer}.tif"), layer
    assert "INFO: sigma0_VV" in done.stdout
    # without a DEM the step fails fatally (retrying cannot help), naming the setting
    env.pop("GEOCUBE_INGESTER_DEM")
    failed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert failed.returncode == 1 and "FATAL ERROR: GEOCUBE_INGESTER_DEM is not set" in failed.stderr


def test_the_builtin_graph_loads_with_its_layers() -> None:
    graph = load_graph_file(LIBRARY_DIR / "S1Backscatter.json")
    layers = {f.layer for f in graph.out_files[0]}
    assert {"sigma0_VV", "sigma0_VH", "gamma0_VV", "gamma0_VH", "layover_shadow"} <= layers
    assert graph.processing_steps[0].command == "python/s1_backscatter.py"


def test_options_name_the_field_and_the_values() -> None:
    assert s1.parse_options(looks="2x5", gamma="none", scale="LINEAR") == s1.BackscatterOptions(
        looks=(2, 5), gamma=None, scale=s1.Scale.LINEAR
    )
    cases = (({"resolution_m": "-1"}, "resolution_m"), ({"scale": "dB10"}, "scale 'dB10'"),
             ({"gamma": "sigma"}, "gamma 'sigma'"), ({"looks": "4"}, "looks '4'"))  # fmt: skip
    for kwargs, message in cases:
        with pytest.raises(s1.Sentinel1Error, match=message):
            s1.parse_options(**kwargs)


def test_a_sigma0_cog_is_indexed_and_read_back_through_getcube(
    relief: s1.BackscatterResult, local_geocube: str, tmp_path: Path
) -> None:
    path = relief.files["sigma0_VV"]
    values = _read(path)
    dformat = DataFormat("float32", math.nan, 0.0, 10.0)  # linear sigma0
    with GeocubeClient(local_geocube, insecure=True, timeout_s=10) as client:
        variable_id = client.create_variable(name="S1Sigma0Test", bands=["VV"], dformat=dformat)
        instance = client.instantiate_variable(variable_id, "VV", metadata={"polarisation": "VV"})
        aoi = client.create_aoi("POLYGON ((-27.3 38.6, -27.1 38.6, -27.1 38.75, -27.3 38.75, -27.3 38.6))")
        time = datetime(2022, 9, 18, 7, 49, 39, tzinfo=UTC)
        (record,) = client.create_records([NewRecord("S1A_IW_SLC__62D6_IW3_B07", time, {"s1": "test"}, aoi)])
        client.index_dataset(uri=str(path.resolve()), record_id=record, instance_id=instance.id, bands=[1],
                             dformat=dformat, real_min_value=0.0, real_max_value=10.0)  # fmt: skip
        with rasterio.open(path) as dataset:
            grid = {"crs_wkt": dataset.crs.to_wkt(), "transform": dataset.transform.to_gdal(),
                    "width": dataset.width, "height": dataset.height}  # fmt: skip
        (image,) = client.get_cube(instance_id=instance.id, record_ids=[record], **grid)
    cube = image.array[..., 0]
    assert image.error == "" and cube.shape == values.shape
    assert np.array_equal(np.isnan(cube), np.isnan(values))
    assert np.allclose(cube[np.isfinite(cube)], values[np.isfinite(values)], rtol=1e-6)


def test_the_crop_safe_is_a_one_burst_safe(crop: CropSafe) -> None:
    from catalogue.burst_safe import check_one_burst_safe

    burst = check_one_burst_safe(crop.path)
    assert (burst.swath, burst.polarisations, burst.lines, burst.samples) == ("IW3", ("VV",), 601, 1401)
    root = ET.parse(crop.annotation).getroot()  # noqa: S314 - written by the test
    assert root.findtext("swathTiming/burstList/burst/burstId") == "18029"


def test_map_chunks_never_end_under_the_flattening_overlap() -> None:
    assert s1._chunks(2000, 1024) == (1024, 976)
    assert s1._chunks(1100, 1024) == (1100,)  # a last chunk of 76 px would make sarsen's overlap fail
    assert s1._chunks(512, 1024) == (512,)
    assert all(c > s1.OVERLAP_PX for c in s1._chunks(4719, 512)[-1:])


@pytest.mark.slow
def test_a_full_size_burst_of_efa4_is_calibrated_chunk_by_chunk(
    shared_fixtures: Path, tmp_path: Path
) -> None:
    """EFA4's real IPF 3.31 annotation, calibration and noise on a full burst (1 501 x 21 632 samples;
    its dummy pixels are a constant 2 + 0j in VV: |DN|² = 4, far below the noise, so all NaN)."""
    import zipfile

    from catalogue.burst_safe import cut_burst_safe

    efa4 = "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4"
    with zipfile.ZipFile(shared_fixtures / "s1" / f"{efa4}.zip") as zf:
        zf.extractall(tmp_path)
    burst = cut_burst_safe(tmp_path / f"{efa4}.SAFE", tmp_path / "b" / f"{efa4}.SAFE", swath="IW1", burst=3,
                           polarisations=["VV"])  # fmt: skip
    (files,) = s1.find_burst_files(burst.path)
    assert s1.read_noise(files.noise).layout == "IPF>=2.90"
    radar = s1.calibrate_burst(files, looks=(1, 4))
    assert radar.sigma0.shape == (burst.lines, burst.samples // 4)
    assert radar.inside.mean() > 0.9 and radar.below_noise_fraction == 1.0
    grid = s1.burst_grid(burst.path, files, s1.BackscatterOptions())
    assert grid.crs.to_epsg() // 100 == 326  # northern UTM
    assert 3000 < grid.width < 6000 and 1000 < grid.height < 3000  # ~85 km x ~20 km (+ margins)
