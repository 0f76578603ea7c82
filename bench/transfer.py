"""The product's hot path: HTTP download -> storage -> a processing job's import, against curl + unzip.

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
import http.server
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from catalogue.models import Constellation, Scene
from catalogue.tiles import scene_tiles
from common.settings import Settings
from jobs.download import run_scene_job
from jobs.models import SceneJob
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
