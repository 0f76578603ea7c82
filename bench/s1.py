"""Sentinel-1 burst backscatter: time and peak RSS per burst, σ⁰ only and with γ⁰, against the raw cost
of reading the burst and warping the DEM (the work no backscatter can avoid).

Prepare (``../shared/fixtures/s1``; ``GEOCUBE_INGESTER_FIXTURES`` overrides it):

1. a full-size one-burst SAFE: IW1 burst 3 (VV + VH) cut from the zipped SLC ``S1B_…_EFA4`` (real
   annotation, calibration and noise of IPF 3.31; its TIFFs are dummies, constant values), whose pixels are
   replaced by complex Gaussian speckle (standard deviation 60 DN, about the real crop's land amplitude):
   the burst's real size, 1 501 x 21 632 samples per polarisation (130 MB of CInt16 each);
2. a DEM over its footprint with relief (tests/support/dem.py: 1 arc second, hills up to 300 m), heights
   above a geoid grid: the real ``us_nga_egm08_25.tif`` when PROJ has it, else the tests' stand-in;
3. the real crop of ``…62D6`` (601 x 1401, real pixels) as a one-burst SAFE, for the picture.

Run, each case in a fresh process (its peak RSS is its own): ``baseline`` (read every sample of both
TIFFs, window by window, and warp the DEM to the 20 m UTM grid with the geoid), ``sigma0`` (the graph's
work without γ⁰), ``sigma0+gamma0`` (with ``gamma_nearest``). Report: seconds, CPU seconds (all threads)
and peak RSS of each, the ratio to the baseline, the machine; each graph step's seconds (``layover_shadow``:
the passive pass of graphs.s1_layover) and the share of the burst in layover and in shadow (the hills'
slopes, 25° at most, are below IW1's incidence and its complement: about 0). Then a picture of the
crop's σ⁰ over its DEM's hillshade: ``/tmp/s1_sigma0.png`` (``BENCH_S1_PNG`` overrides it).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import rasterio
import rasterio.warp
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

REPO = Path(__file__).resolve().parents[1]
EFA4 = "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4"
CASES = ("baseline", "sigma0", "sigma0+gamma0")


def _fixtures() -> Path:
    path = Path(os.environ.get("GEOCUBE_INGESTER_FIXTURES", REPO.parent / "shared" / "fixtures"))
    if not (path / "s1").is_dir():
        raise SystemExit(f"s1: the shared fixtures {path} are absent")
    return path


def _speckle(tiff: Path, seed: int) -> None:
    """Overwrite a CInt16 TIFF with complex Gaussian speckle, 256 lines at a time."""
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(tiff, "r+") as data:
            for row in range(0, data.height, 256):
                height = min(256, data.height - row)
                real, imag = rng.normal(0, 60, size=(2, height, data.width)).astype(np.float32)
                data.write(
                    (real + 1j * imag).astype(np.complex64), 1, window=Window(0, row, data.width, height)
                )


def _prepare(work: Path) -> tuple[Path, Path, Path]:
    """(one-burst SAFE, geoid grid folder, DEM)."""
    from catalogue.burst_safe import cut_burst_safe
    from graphs.dem import GeoidGridMissingError, VerticalDatum, add_proj_data_dir, check_geoid_grid
    from graphs.sentinel1 import BackscatterOptions, burst_grid, find_burst_files
    from tests.support.dem import write_geoid_grid, write_relief_dem

    with zipfile.ZipFile(_fixtures() / "s1" / f"{EFA4}.zip") as zf:
        zf.extractall(work)
    burst = cut_burst_safe(work / f"{EFA4}.SAFE", work / "burst" / f"{EFA4}.SAFE", swath="IW1", burst=3)
    for seed, tiff in enumerate(sorted((burst.path / "measurement").glob("*.tiff"))):
        _speckle(tiff, seed)
    grids = work / "grids"
    try:
        check_geoid_grid(VerticalDatum.EGM2008)
    except GeoidGridMissingError:
        write_geoid_grid(grids)
    add_proj_data_dir(grids)
    files = find_burst_files(burst.path)[0]
    grid = burst_grid(burst.path, files, BackscatterOptions())
    west, south, east, north = rasterio.warp.transform_bounds(grid.crs, "EPSG:4326", *grid.bounds())
    dem = write_relief_dem(work / "dem.tif", (west - 0.02, south - 0.02, east + 0.02, north + 0.02))
    return burst.path, grids, dem


def _child(case: str, safe: Path, grids: Path, dem: Path, out: Path) -> dict[str, float]:
    """One case, in this process; its seconds and peak RSS."""
    from graphs.dem import DemSource, add_proj_data_dir, warp_dem
    from graphs.sentinel1 import BackscatterOptions, GammaMethod, burst_grid, find_burst_files, geocode_burst

    add_proj_data_dir(grids)
    started = time.perf_counter()
    steps: dict[str, float] = {}
    files = find_burst_files(safe)
    if case == "baseline":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            for burst in files:
                with rasterio.open(burst.measurement) as data:
                    for row in range(0, data.height, 256):
                        data.read(1, window=Window(0, row, data.width, min(256, data.height - row)))
        warp_dem(DemSource(path=dem), burst_grid(safe, files[0], BackscatterOptions()))
    else:
        gamma = GammaMethod.NEAREST if case == "sigma0+gamma0" else None
        chunk_px = int(os.environ.get("BENCH_S1_CHUNK_PX", BackscatterOptions().chunk_px))
        options = BackscatterOptions(gamma=gamma, chunk_px=chunk_px)
        result = geocode_burst(safe, DemSource(path=dem), out, options=options)
        steps = {f"step_{k}": v for k, v in result.seconds.items()}
        steps["pixels"] = float(result.grid.width * result.grid.height)
        with rasterio.open(result.files["layover_shadow"]) as data:
            mask = data.read(1)
        inside = mask != 255
        steps["layover_pct"] = float(100 * ((mask & 1) > 0)[inside].mean())
        steps["shadow_pct"] = float(100 * ((mask & 2) > 0)[inside].mean())
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mib = usage.ru_maxrss / 1024  # KiB on Linux
    cpu_s = usage.ru_utime + usage.ru_stime  # every thread's: steadier than the wall time on a busy machine
    return {"seconds": seconds, "cpu_seconds": cpu_s, "peak_rss_mib": peak_mib, **steps}


def _run_case(case: str, safe: Path, grids: Path, dem: Path, work: Path) -> dict[str, float]:
    out = work / f"out-{case}"
    argv = [sys.executable, "-m", "bench.s1", "--child", case, str(safe), str(grids), str(dem), str(out)]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"s1 {case} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _hillshade(heights: np.ndarray, resolution_m: float) -> np.ndarray:
    dy, dx = np.gradient(heights, resolution_m)
    slope, aspect = np.arctan(np.hypot(dx, dy)), np.arctan2(-dx, dy)
    azimuth, altitude = np.radians(315.0), np.radians(45.0)
    shade = np.sin(altitude) * np.cos(slope) + np.cos(altitude) * np.sin(slope) * np.cos(azimuth - aspect)
    return np.asarray(np.clip(shade, 0, 1))


def picture(work: Path, png: Path) -> str:
    """σ⁰ (dB) of the real crop over the hillshade of its DEM; what drew it."""
    from graphs.dem import DemSource, add_proj_data_dir, warp_dem
    from graphs.sentinel1 import (
        BackscatterOptions,
        burst_grid,
        find_burst_files,
        geocode_burst,
        interp_geolocation,
        line_time,
        open_group,
    )
    from tests.support.dem import write_geoid_grid, write_relief_dem
    from tests.support.s1_crop import make_crop_safe

    crop = make_crop_safe(_fixtures(), work / "crop")
    write_geoid_grid(work / "crop-grids")
    add_proj_data_dir(work / "crop-grids")
    grid = burst_grid(crop.path, find_burst_files(crop.path)[0], BackscatterOptions())
    west, south, east, north = rasterio.warp.transform_bounds(grid.crs, "EPSG:4326", *grid.bounds())
    gcp, ds = open_group(crop.path, "IW3/VV/gcp"), open_group(crop.path, "IW3/VV")
    coast = interp_geolocation(gcp, line_time(ds, 360), 700)[1]  # between the crop's land and sea rows
    bounds = (west - 0.02, south - 0.02, east + 0.02, north + 0.02)
    dem = write_relief_dem(work / "crop-dem.tif", bounds, coast_lat=coast)
    result = geocode_burst(crop.path, DemSource(path=dem), work / "crop-out", options=BackscatterOptions())
    with rasterio.open(result.files["sigma0_VV"]) as data:
        sigma0 = data.read(1)
    shade = _hillshade(warp_dem(DemSource(path=dem), result.grid), result.grid.resolution_m)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no picture"
    figure, axis = plt.subplots(figsize=(7, 8), dpi=100)
    axis.imshow(shade, cmap="gray", extent=_extent(result.grid))
    shown = axis.imshow(np.ma.masked_invalid(sigma0), cmap="viridis", vmin=-30, vmax=0, alpha=0.85,
                        extent=_extent(result.grid))  # fmt: skip
    figure.colorbar(shown, ax=axis, label=r"$\sigma^0$ VV (dB)", shrink=0.7)
    axis.set_title(
        "S1A 2022-09-18 IW3 VV (real SLC crop, Terceira)\n"
        r"$\sigma^0$ over the hillshade of a generated DEM"
    )
    axis.set_xlabel(f"x (m, {result.grid.crs})")
    axis.set_ylabel("y (m)")
    figure.tight_layout()
    figure.savefig(png)
    plt.close(figure)
    return f"matplotlib {matplotlib.__version__}"


def _extent(grid: object) -> tuple[float, float, float, float]:
    left, bottom, right, top = grid.bounds()  # type: ignore[attr-defined]
    return left, right, bottom, top


def main() -> None:
    print(f"s1: machine {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="bench-s1-") as tmp:
        work = Path(tmp)
        tic = time.perf_counter()
        safe, grids, dem = _prepare(work)
        print(f"  prepared {safe.name} IW1 burst 3 (VV, VH) in {time.perf_counter() - tic:.1f} s")
        results = {case: _run_case(case, safe, grids, dem, work) for case in CASES}
        base = results["baseline"]
        print(f"  {'case':<16}{'seconds':>10}{'CPU s':>8}{'peak RSS MiB':>15}{'x baseline time':>18}")
        for case, result in results.items():
            print(f"  {case:<16}{result['seconds']:>10.1f}{result['cpu_seconds']:>8.1f}"
                  f"{result['peak_rss_mib']:>15.0f}{result['seconds'] / base['seconds']:>18.1f}")  # fmt: skip
        for case, result in results.items():
            steps = ", ".join(f"{k[5:]} {v:.1f} s" for k, v in result.items() if k.startswith("step_"))
            if steps:
                masked = f"layover {result['layover_pct']:.2f} %, shadow {result['shadow_pct']:.2f} %"
                print(f"  {case}: {steps}; grid {result['pixels'] / 1e6:.1f} Mpx; {masked} of the burst")
        png = Path(os.environ.get("BENCH_S1_PNG", Path(tempfile.gettempdir()) / "s1_sigma0.png"))
        how = picture(work, png)
        print(f"  picture: {png} ({how})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        case, safe, grids, dem, out = sys.argv[2], *map(Path, sys.argv[3:7])
        out.mkdir(parents=True, exist_ok=True)
        print(json.dumps(_child(case, safe, grids, dem, out)))
    else:
        main()
