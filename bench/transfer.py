"""Downloads against curl, and the product's hot path (download -> storage -> import) against curl + unzip.

Part 1, the download core (``providers.fetch``) against ``curl`` on loopback, the file served by
``bench.fileserver`` (sendfile, a process of its own): one stream, 4 streams at once (4 curls against 4
threads of one process, ``bench.fetchrun``), each best of 3 alternating runs, with the catalogue's
checksum verified by ours (BLAKE3, as CDSE publishes, and MD5; curl checks nothing, so MD5 is also
measured against ``curl | tee | md5sum``, the same work); CPU seconds per
GiB (getrusage of the child processes); and the bytes sent again to resume a transfer cut at 50 %.

Part 2, the hot path:

Prepare: a Sentinel-2-like product zip of ``BENCH_PRODUCT_MIB`` MiB (default 1024) of incompressible
band files (JPEG2000 barely compresses), deflated as the providers ship them, served over HTTP on
127.0.0.1. Run, each in a fresh folder of one disk:

- ``curl + unzip``: what fetching and opening the product costs at least;
- ``ours``: ``jobs.download.run_scene_job`` with CopyProductToStorage (the product stored as it arrived)
  then ``storage.layout.import_layer`` of ``__product__.SAFE``, as a processing job does;
- ``re-zip path``: the path this replaced, rebuilt from today's primitives: unpack, zip again
  (``save_layer``), copy out of storage, unpack again.

Report: seconds and MiB written (the kernel's block-output count, getrusage ``ru_oublock``), and each
as a ratio to curl + unzip. ``os.sync()`` runs before each timing so earlier writes are not billed.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import blake3

from catalogue.models import Constellation, Scene
from catalogue.tiles import scene_tiles
from common.settings import Settings
from jobs.download import run_scene_job
from jobs.models import SceneJob
from providers.fetch import Expected, Fetcher
from providers.unpack import unpack_product
from storage.layout import PRODUCT_LAYER, LayerRef, extract_zip_safely, import_layer, save_layer
from storage.local import LocalStorage

SCENE = "S2B_MSIL1C_20240105T105339_N0510_R051_T31TCJ_20240105T113820"
DATE = datetime(2024, 1, 5, 10, 53, 39, tzinfo=UTC)
BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")


def make_product(path: Path, mib: int) -> Path:
    """A SAFE-shaped zip of about ``mib`` MiB: metadata plus one random 'JP2' per band."""
    per_band = (mib << 20) // len(BANDS)
    granule = f"{SCENE}.SAFE/GRANULE/L1C_T31TCJ_A035000_20240105T105339/IMG_DATA"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.writestr(f"{SCENE}.SAFE/manifest.safe", "<xfdu:XFDU/>")
        zf.writestr(f"{SCENE}.SAFE/MTD_MSIL1C.xml", "<n1:Level-1C_User_Product/>")
        for band in BANDS:
            with zf.open(f"{granule}/T31TCJ_20240105T105339_{band}.jp2", "w", force_zip64=True) as out:
                for _ in range(per_band >> 20):
                    out.write(os.urandom(1 << 20))
    return path


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Measure:
    seconds: float
    written_mib: float


def _blocks() -> int:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_oublock
    return own + resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock


def measure(run: Callable[[], object]) -> Measure:
    os.sync()
    blocks, started = _blocks(), time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    return Measure(seconds, (_blocks() - blocks) * 512 / 2**20)


def curl_unzip(url: str, work: Path) -> None:
    subprocess.run(["curl", "-sSf", "-o", str(work / "p.zip"), url], check=True)
    subprocess.run(["unzip", "-q", str(work / "p.zip"), "-d", str(work / "out")], check=True)


def ours(url: str, work: Path) -> None:
    scene = Scene(
        source_id=SCENE,
        date=DATE,
        constellation=Constellation.SENTINEL2,
        footprint_wkt="POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))",
        metadata={"download_link": url},
    )
    storage_root = work / "storage"
    job = SceneJob(
        aoi="BENCH",
        scene=scene,
        tiles=scene_tiles(scene),
        graph_name="CopyProductToStorage",
        storage_uri=str(storage_root),
    )
    run_scene_job(job, Settings(providers="url", workdir=work / "scratch"))
    processing = work / "processing"
    processing.mkdir()
    ref = LayerRef("BENCH", SCENE, SCENE, DATE.date(), PRODUCT_LAYER, "SAFE")
    import_layer(LocalStorage(storage_root), processing, ref)


def rezip_path(url: str, work: Path) -> None:
    """Download, unpack, zip again for storage, copy back out, unpack again (the replaced path)."""
    subprocess.run(["curl", "-sSf", "-o", str(work / "p.zip"), url], check=True)
    product = work / "product"
    product.mkdir()
    unpack_product(work / "p.zip", product)
    (work / "p.zip").unlink()
    storage = LocalStorage(work / "storage")
    ref = LayerRef("BENCH", SCENE, SCENE, DATE.date(), PRODUCT_LAYER, "*")
    save_layer(storage, product, ref)
    processing = work / "processing"
    processing.mkdir()
    storage.download(ref.key, processing / "layer.zip")
    extract_zip_safely(processing / "layer.zip", processing, archive="layer.zip")


@contextmanager
def file_server(folder: Path) -> Iterator[str]:
    """``bench.fileserver`` in a process of its own; its base URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.fileserver", str(folder)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        yield f"http://127.0.0.1:{server.stdout.readline().strip()}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_children(commands: list[list[str]]) -> tuple[float, float]:
    """Run commands at once; (wall seconds, CPU seconds of all)."""
    cpu, started = _children_cpu(), time.perf_counter()
    running = [subprocess.Popen(command) for command in commands]
    if any(p.wait() != 0 for p in running):
        raise SystemExit(f"benchmark command failed: {commands[0]}")
    return time.perf_counter() - started, _children_cpu() - cpu


def download_bench(root: Path, mib: int) -> None:
    served = root / "raw"
    served.mkdir()
    data = served / "p.bin"
    md5, b3 = hashlib.md5(usedforsecurity=False), blake3.blake3()
    with data.open("wb") as out:
        for _ in range(mib):
            chunk = os.urandom(1 << 20)
            md5.update(chunk)
            b3.update(chunk)
            out.write(chunk)
    size = data.stat().st_size
    published = {"MD5": {"MD5": md5.hexdigest()}, "BLAKE3": {"BLAKE3": b3.hexdigest()}}
    out_dir = root / "out"
    print(f"download core against curl: {size / 2**20:.0f} MiB per stream, loopback, bench.fileserver")
    print(f"{'streams':>8} {'checksum':>9} {'baseline':>12} {'base s':>8} {'ours s':>8} "
          f"{'ours/base speed':>16} {'base CPU s/GiB':>15} {'ours CPU s/GiB':>15}")  # fmt: skip
    with file_server(served) as base:
        # (streams, checksum ours verifies, baseline): curl checks nothing; "curl | md5sum" does the same
        # work as ours for an MD5 catalogue (fetch and verify), pipelined as a shell user would.
        for streams, algorithm, baseline in (
            (1, "BLAKE3", "curl"),
            (1, "MD5", "curl"),
            (1, "MD5", "curl|md5sum"),
            (4, "BLAKE3", "curl"),
        ):
            best = {baseline: (float("inf"), 0.0), "ours": (float("inf"), 0.0)}
            dests = [str(out_dir / f"{i}.bin") for i in range(streams)]
            urls = [f"{base}/p.bin"] * streams
            for _ in range(3):
                for who in (baseline, "ours"):
                    shutil.rmtree(out_dir, ignore_errors=True)
                    out_dir.mkdir()
                    os.sync()
                    if who == "curl":
                        commands = [["curl", "-sSf", "-o", d, u] for d, u in zip(dests, urls, strict=True)]
                    elif who == "curl|md5sum":
                        commands = [["bash", "-c", f"curl -sSf {u} | tee {d} | md5sum >/dev/null"]
                                    for d, u in zip(dests, urls, strict=True)]  # fmt: skip
                    else:
                        job = {"urls": urls, "dests": dests, "checksums": published[algorithm], "size": size}
                        commands = [[sys.executable, "-m", "bench.fetchrun", json.dumps(job)]]
                    wall, cpu = _run_children(commands)
                    if wall < best[who][0]:
                        best[who] = (wall, cpu)
            gib = size * streams / 2**30
            (base_s, base_cpu), (ours_s, ours_cpu) = best[baseline], best["ours"]
            print(f"{streams:>8} {algorithm:>9} {baseline:>12} {base_s:>8.2f} {ours_s:>8.2f} "
                  f"{base_s / ours_s:>15.2f}x {base_cpu / gib:>15.2f} {ours_cpu / gib:>15.2f}")  # fmt: skip
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir()
        before = _stats(base)
        fetched = Fetcher().fetch(f"{base}/p.bin?cut=0.5", out_dir / "cut.bin", what="bench",
                                  expected=Expected(size, published["BLAKE3"]))  # fmt: skip
        sent_again = _stats(base) - before - size
        print(
            f"cut at 50 %: resumed at byte {fetched.resumed_bytes} of {size}; {sent_again} bytes sent again"
        )
    shutil.rmtree(out_dir, ignore_errors=True)
    data.unlink()


def _stats(base: str) -> int:
    import httpx

    return int(httpx.get(f"{base}/stats").json()["sent"])


def main() -> None:
    mib = int(os.environ.get("BENCH_PRODUCT_MIB", "1024"))
    if shutil.which("curl") is None or shutil.which("unzip") is None:
        print("transfer: skipped, curl and unzip are needed for the baseline (apt-get install curl unzip)")
        return
    root = Path(tempfile.mkdtemp(prefix="bench-transfer-", dir=os.environ.get("BENCH_DIR")))
    try:
        served = root / "served"
        served.mkdir()
        make_product(served / f"{SCENE}.zip", mib)
        size = (served / f"{SCENE}.zip").stat().st_size / 2**20
        download_bench(root, mib)
        print()
        print(f"product hot path: a {size:.0f} MiB product, HTTP on 127.0.0.1, one disk ({root})")
        print(f"{'path':<14} {'seconds':>8} {'MiB written':>12} {'time ratio':>11} {'write ratio':>12}")
        with serve(served) as base:
            url = f"{base}/{SCENE}.zip"
            results: dict[str, Measure] = {}
            for name, run in (("curl + unzip", curl_unzip), ("ours", ours), ("re-zip path", rezip_path)):
                work = root / name.replace(" ", "")
                work.mkdir()
                results[name] = measure(lambda run=run, work=work: run(url, work))  # type: ignore[misc]
                shutil.rmtree(work)
        base_m = results["curl + unzip"]
        for name, m in results.items():
            print(
                f"{name:<14} {m.seconds:>8.2f} {m.written_mib:>12.0f} {m.seconds / base_m.seconds:>10.2f}x"
                f" {m.written_mib / max(base_m.written_mib, 1):>11.2f}x"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
