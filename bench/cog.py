"""COG writing: ``graphs.cog.write_cog`` against ``gdal_translate -of COG`` with the same options.

Prepare: one 10980 x 10980 uint16 band (a Sentinel-2 10 m tile's size, 230 MiB of pixels): the real B01
of ``../shared/fixtures/s2`` (60 m, ``GEOCUBE_INGESTER_FIXTURES`` overrides the folder) upsampled 6x
(cubic) plus Gaussian noise of 30 DN, its 0 "no data" kept; or, without the fixtures, a smooth random
field plus the same noise. Written twice: an uncompressed tiled GeoTIFF, and a lossless JPEG2000 (1024²
tiles, 6 resolutions, NBITS=15, as ESA writes S2 bands) when rasterio's GDAL has the JP2OpenJPEG driver.

Run, each case in a fresh process whose wall time and peak RSS are its own (``os.wait4``):

- ``gdal``: ``gdal_translate -of COG`` (Debian's ``gdal-bin``) with the creation options ``write_cog``
  gives GDAL (``graphs.cog.cog_creation_options``: DEFLATE, 512² blocks, predictor, average overviews,
  ``NUM_THREADS``), nodata 0, a scale and an offset: ExtractS2Bands' call. GDAL's own cache (5 % of RAM);
- ``gdal 64M``: the same with ``GDAL_CACHEMAX=64``, the bound ``write_cog`` sets;
- ``ours``: ``write_cog`` as ExtractS2Bands calls it; ``ours 5%``: with ``GDAL_CACHEMAX=5%`` in the
  environment, i.e. GDAL's default, as ``write_cog`` ran before it bounded the cache;
- ``python``: the interpreter with ``graphs.cog`` imported, nothing written: the floor of ``ours``'s RSS.

Ours and gdal's outputs are checked to be valid COGs with equal pixels and metadata. Report: seconds,
GDAL's time / ours (goal >= 0.9), peak RSS MiB and RSS / the band's size (goal <= 1.5), the versions.

``BENCH_COG_RUNS`` (default 2) runs each case that many times, alternately; the best time is kept (and
the highest RSS).

Then ExtractS2Bands' per-tile cost outside the COG writing: ``extract_s2.py`` writing 4 bands of a small
L1C SAFE (the tests' ``make_l1c_safe``), run as ``graphs.engines`` runs it (a new interpreter), against
the same run forked from a warm server (``bench.script_server``, the prototype of a change to the
engine), against ``python -c pass``: median and best of ``BENCH_START_RUNS`` (default 15) runs.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.windows import Window

REPO = Path(__file__).resolve().parents[1]
SIZE = 10980
BAND_MIB = SIZE * SIZE * 2 / 2**20
SCALE_OFFSET = (1e-4, -0.1)  # (DN - 1000) / 10000, as baseline 04.00 and later
TRANSFORM = Affine(10.0, 0.0, 399960.0, 0.0, -10.0, 4800000.0)  # tile T31TDH, UTM 31N
B01 = (
    "s2/S2A_MSIL1C_20180101T105441_N0206_R051_T31TDH_20180101T124911.SAFE/GRANULE/"
    "L1C_T31TDH_A013204_20180101T105435/IMG_DATA/T31TDH_20180101T105441_B01.jp2"
)
# case: (what runs, its GDAL_CACHEMAX; None: not set, GDAL's default of 5 % of the RAM, or write_cog's bound)
CASES: dict[str, tuple[str, str | None]] = {
    "python": ("python", None),
    "gdal": ("gdal", None),
    "gdal 64M": ("gdal", "64"),
    "ours": ("ours", None),
    "ours 5%": ("ours", "5%"),  # write_cog before its bound: the cache GDAL gives itself
}


def _real_b01() -> Path | None:
    fixtures = Path(os.environ.get("GEOCUBE_INGESTER_FIXTURES", REPO.parent / "shared" / "fixtures"))
    path = fixtures / B01
    return path if path.is_file() else None


def make_band(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """The 10980² band and what it was made from."""
    band = np.empty((SIZE, SIZE), dtype=np.float32)
    real = _real_b01()
    if real is not None:
        with rasterio.open(real) as src:
            src.read(1, out=band, resampling=Resampling.cubic)  # 1830² -> 10980²
            nodata = src.read(1, out_shape=(SIZE, SIZE), resampling=Resampling.nearest) == 0
        what = f"real B01 ({real.name}) upsampled 6x + noise"
    else:
        coarse = rng.normal(3000, 1500, size=(1, 46, 46)).astype(np.float32)
        with (
            rasterio.MemoryFile() as memfile,
            memfile.open(
                driver="GTiff",
                width=46,
                height=46,
                count=1,
                dtype="float32",
                crs="EPSG:32631",
                transform=TRANSFORM @ Affine.scale(SIZE / 46),
            ) as mem,
        ):
            mem.write(coarse)
            mem.read(1, out=band, resampling=Resampling.cubic)
        nodata = np.zeros(band.shape, dtype=bool)
        nodata[:, : SIZE // 7] = True  # a swath edge
        what = "smooth random field + noise (no fixtures)"
    for row in range(0, SIZE, 1098):  # noise in slices: no second full-size float array
        band[row : row + 1098] += rng.normal(0, 30, size=(min(1098, SIZE - row), SIZE)).astype(np.float32)
    pixels = np.clip(band, 1, 2**15 - 1).astype(np.uint16)
    pixels[nodata] = 0
    return pixels, what


def prepare(work: Path) -> tuple[dict[str, Path], str]:
    """The sources (``tif``, and ``jp2`` when GDAL can write it) and what the band is."""
    pixels, what = make_band(np.random.default_rng(10980))
    profile = {"width": SIZE, "height": SIZE, "count": 1, "dtype": "uint16", "crs": "EPSG:32631",
               "transform": TRANSFORM, "nodata": None}  # fmt: skip
    sources = {"tif": work / "band.tif"}
    with rasterio.open(sources["tif"], "w", driver="GTiff", tiled=True, blockxsize=512, blockysize=512,
                       **profile) as dst:  # fmt: skip
        dst.write(pixels, 1)
    with rasterio.Env() as env:
        has_jp2 = "JP2OpenJPEG" in env.drivers()
    if has_jp2:
        sources["jp2"] = work / "band.jp2"
        with rasterio.open(sources["jp2"], "w", driver="JP2OpenJPEG", QUALITY=100, REVERSIBLE="YES",
                           BLOCKXSIZE=1024, BLOCKYSIZE=1024, RESOLUTIONS=6, NBITS=15,
                           **profile) as dst:  # fmt: skip
            dst.write(pixels, 1)
    return sources, what


def gdal_argv(src: Path, dst: Path) -> list[str]:
    """``gdal_translate`` with the creation options ``write_cog`` gives GDAL for ExtractS2Bands."""
    from graphs.cog import cog_creation_options

    with rasterio.open(src) as dataset:
        options = cog_creation_options(dataset, overview_resampling="average")
        dtype = dataset.dtypes[0]
    argv = ["gdal_translate", "-q", "-of", "COG", "-a_nodata", "0",
            "-a_scale", repr(SCALE_OFFSET[0]), "-a_offset", repr(SCALE_OFFSET[1])]  # fmt: skip
    if options.pop("NBITS", None):  # a JP2's NBITS=15: GDAL < 3.7's COG driver has no NBITS option, but
        argv += ["-ot", {"uint16": "UInt16"}[dtype]]  # gdal_translate drops NBITS once -ot is given
    for name, value in options.items():
        argv += ["-co", f"{name}={value}"]
    return [*argv, str(src), str(dst)]


def _child(case: str, src: Path, dst: Path) -> None:
    from graphs.cog import write_cog

    if case == "ours":
        write_cog(src, dst, nodata=0, overview_resampling="average", scale_offset=SCALE_OFFSET)


# Runs argv[1:], prints its exit status, wall seconds and peak RSS (KiB). A launcher of its own, stdlib
# only (python -I -S: 5 MiB): Linux carries a process's peak RSS across fork and exec, so a case spawned
# by this process (the band's 230 MiB, rasterio) would report at least this process's RSS.
LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.spawnvp(os.P_NOWAIT, sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), time.perf_counter() - started, usage.ru_maxrss)
"""


def run_case(case: str, src: Path, dst: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one case in a child process of its own."""
    what, cachemax = CASES[case]
    env = {k: v for k, v in os.environ.items() if k != "GDAL_CACHEMAX"}
    if cachemax is not None:
        env["GDAL_CACHEMAX"] = cachemax
    if what == "gdal":
        argv = gdal_argv(src, dst)
    else:
        argv = [sys.executable, "-m", "bench.cog", "--child", what, str(src), str(dst)]
    launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, *argv]
    done = subprocess.run(launcher, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    try:
        status, seconds, rss_kib = done.stdout.split()[-3:]
    except ValueError:
        status = "?"
    if status != "0":
        raise SystemExit(f"cog {case} {src.name} failed ({status}):\n{done.stderr[-3000:]}")
    return float(seconds), int(rss_kib) / 1024  # KiB on Linux


def check_same(ours: Path, theirs: Path) -> str:
    """Both valid COGs with equal pixels, nodata, scale and offset; their sizes."""
    from graphs.cog import is_valid_cog

    for path in (ours, theirs):
        if not is_valid_cog(path):
            raise SystemExit(f"cog: {path.name} is not a valid COG")
    with rasterio.open(ours) as a, rasterio.open(theirs) as b:
        mine, gdal = ((d.nodata, d.scales, d.offsets, d.overviews(1), d.compression) for d in (a, b))
        if mine != gdal:
            raise SystemExit(f"cog: the outputs' metadata differ: ours {mine}, gdal {gdal}")
        for row in range(0, SIZE, 2048):
            window = Window(0, row, SIZE, min(2048, SIZE - row))
            if not np.array_equal(a.read(1, window=window), b.read(1, window=window)):
                raise SystemExit(f"cog: pixels differ in rows {row}..{row + 2048}")
    mib = [p.stat().st_size / 2**20 for p in (ours, theirs)]
    return f"{mib[0]:.0f} MiB (ours), {mib[1]:.0f} MiB (gdal)"


def _gdal_version() -> str:
    done = subprocess.run(["gdal_translate", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().split(",")[0]


def main() -> None:
    if shutil.which("gdal_translate") is None:
        raise SystemExit("cog: gdal_translate is missing: install Debian's gdal-bin (make bench does)")
    runs = int(os.environ.get("BENCH_COG_RUNS", "2"))
    print(f"cog: machine {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"ours: rasterio {rasterio.__version__} (GDAL {rasterio.__gdal_version__}), "
          f"gdal: {_gdal_version()}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-cog-") as tmp:
        work = Path(tmp)
        tic = time.perf_counter()
        sources, what = prepare(work)
        print(f"  prepared a {SIZE}² uint16 band ({BAND_MIB:.0f} MiB): {what}, as "
              f"{', '.join(sources)} in {time.perf_counter() - tic:.0f} s")  # fmt: skip
        header = f"{'seconds':>9}{'peak RSS MiB':>14}{'RSS/band':>10}{'gdal s/this s':>15}"
        print(f"  {'source':<7}{'case':<10}{header}")
        for kind, src in sources.items():
            best: dict[str, tuple[float, float]] = {}
            for _ in range(runs):  # alternate, so every case sees the same machine load
                for case in CASES:
                    seconds, rss = run_case(case, src, work / f"{case.replace(' ', '-')}-{kind}.tif")
                    old = best.get(case, (float("inf"), 0.0))
                    best[case] = (min(old[0], seconds), max(old[1], rss))
            sizes = check_same(work / f"ours-{kind}.tif", work / f"gdal-{kind}.tif")
            for case, (seconds, rss) in best.items():
                ratio = f"{best['gdal'][0] / seconds:>14.2f}x" if case.startswith("ours") else ""
                print(f"  {kind:<7}{case:<10}{seconds:>9.1f}{rss:>14.0f}{rss / BAND_MIB:>10.2f}{ratio}")
            print(f"  {kind}: ours and gdal's outputs are valid COGs with equal pixels and metadata: {sizes}")
            for done in work.glob(f"*-{kind}.tif"):
                done.unlink()
        (work / "start").mkdir()
        script_start(work / "start")


def _median_best(run: Callable[[], None], runs: int) -> tuple[float, float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), min(seconds)


def script_start(work: Path) -> None:
    """extract_s2.py on a small SAFE: a new interpreter per tile against a fork of a warm server."""
    from bench import script_server
    from tests.unit.graphs.safe_trees import make_l1c_safe

    make_l1c_safe(work)
    script = str(REPO / "graphs" / "python" / "extract_s2.py")
    argv = ["--workdir", str(work), "--pattern-out", str(work / "out_*.tif"), "--layers", "B02,B03,B04,B08"]
    runs = int(os.environ.get("BENCH_START_RUNS", "15"))
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bench.script_server"])

    def forked() -> None:
        child = context.Process(target=script_server.run_script, args=(script, argv, str(work)))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"extract_s2.py forked from the server: exit status {child.exitcode}")

    def fresh(*command: str) -> Callable[[], None]:
        def run() -> None:
            subprocess.run(command, cwd=REPO, stdout=subprocess.DEVNULL, check=True)

        return run

    forked()  # starts the server
    cases = {
        "python -c pass": fresh(sys.executable, "-c", "pass"),
        "extract_s2.py --help (its imports)": fresh(sys.executable, script, "--help"),
        "a tile, new interpreter (today)": fresh(sys.executable, script, *argv),
        "a tile, forked from a warm server": forked,
    }
    print(f"  ExtractS2Bands' start: extract_s2.py writing 4 bands of a 120 x 120 px L1C, {runs} runs")
    print(f"  {'case':<38}{'median ms':>10}{'best ms':>9}")
    for case, run in cases.items():
        median, best = _median_best(run, runs)
        print(f"  {case:<38}{median * 1000:>10.0f}{best * 1000:>9.0f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        main()
