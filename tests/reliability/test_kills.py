"""Kills (issue 12, item 7): a SIGKILLed job leaves nothing the next job keeps, a killed download is
resumed rather than restarted, and a run whose process died with its worker ends Crashed, never
Running for ever.

Real processes, really killed: a child Python process opens a scratch folder and writes a layer into a
local storage, and is SIGKILLed mid-write (the copy is held after its first MiB so that the kill lands
inside the write, every time); a child downloads from a local HTTP server that sends its body slowly,
and is SIGKILLed mid-transfer; a child uploads a layer to S3 (moto) and is SIGKILLed between two
parts of its multipart upload. The Prefect part runs a real server on PostgreSQL, the automation of
``flows.zombies``, a deployment whose job variables set the heartbeat, and a real process worker: the
worker and its run are SIGKILLed, so nobody is left to report the crash but the automation.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from jobs.workspace import OWNER_SUFFIX, download_dir, scratch_dir
from providers.fetch import Expected, Fetcher
from storage.local import LocalStorage
from tests.conftest import REPO
from tests.reliability.test_server_faults import long_fault
from tests.support.http_server import QuietHandler, serve

pytestmark = [pytest.mark.slow]

LAYER_KEY = "KillsAOI/S2A_MSIL1C_20240115/tiles/T31TCJ/20240115_T31TCJ_B04.tif"

JOB = textwrap.dedent(
    """
    import shutil, sys, time
    from pathlib import Path
    from jobs.workspace import scratch_dir
    from storage.local import LocalStorage

    workdir, storage_root, mode, key = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]

    def held_after_first_mib(inp, out, length=0):
        out.write(inp.read(1 << 20))
        out.flush()
        print("writing", flush=True)
        time.sleep(600)

    with scratch_dir(workdir, "tile-T31TCJ") as scratch:
        (scratch / "20240115_T31TCJ_B04.tif").write_bytes(b"II*\\x00" + b"\\x01" * (4 << 20))
        if mode == "live":
            print("working", flush=True)
            time.sleep(600)
        shutil.copyfileobj = held_after_first_mib
        LocalStorage(storage_root).upload(scratch / "20240115_T31TCJ_B04.tif", key)
    """
)


def start(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], cwd=REPO, stdout=subprocess.PIPE, text=True
    )


def said(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == line, f"the child died first: {proc.wait()}"


def kill(proc: subprocess.Popen[Any]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


def test_a_job_killed_mid_write_leaves_nothing_that_the_next_job_keeps(tmp_path: Path) -> None:
    workdir, storage_root = tmp_path / "work", tmp_path / "storage"
    live = start(JOB, str(workdir), str(storage_root), "live", LAYER_KEY)
    killed = start(JOB, str(workdir), str(storage_root), "write", LAYER_KEY)
    try:
        said(live, "working")
        said(killed, "writing")
        folders = sorted(p for p in workdir.iterdir() if p.is_dir())
        assert len(folders) == 2 and all((workdir / f".{p.name}{OWNER_SUFFIX}").exists() for p in folders)
        (live_folder,) = (p for p in folders if owner_pid(p) == live.pid)
        (killed_folder,) = (p for p in folders if owner_pid(p) == killed.pid)
        layer_folder = (storage_root / LAYER_KEY).parent
        parts = [p for p in layer_folder.iterdir() if p.name.endswith(".part")]
        assert len(parts) == 1 and parts[0].stat().st_size == 1 << 20  # mid-write
        kill(killed)
        assert parts[0].exists() and len(list(workdir.iterdir())) == 4  # what a kill leaves

        # the next job on this workdir and this storage folder (another process: this one)
        with scratch_dir(workdir, "tile-T31TCJ") as mine:
            assert not killed_folder.exists(), "the killed job's folder is gone"
            assert sorted(p.name for p in workdir.iterdir()) == sorted(
                [
                    mine.name,
                    f".{mine.name}{OWNER_SUFFIX}",
                    live_folder.name,
                    f".{live_folder.name}{OWNER_SUFFIX}",
                ]
            ), "the live job's folder stays, with its files"
            assert (live_folder / "20240115_T31TCJ_B04.tif").is_file()
            layer = mine / "B04.tif"
            layer.write_bytes(b"II*\x00 whole")
            LocalStorage(storage_root).upload(layer, LAYER_KEY)
        assert sorted(p.name for p in layer_folder.iterdir()) == ["20240115_T31TCJ_B04.tif"]
        assert (storage_root / LAYER_KEY).read_bytes() == b"II*\x00 whole"
        assert live.poll() is None
    finally:
        for proc in (live, killed):
            if proc.poll() is None:
                kill(proc)
    with scratch_dir(workdir, "tile-again"):
        pass  # the live one was killed too, at the end: now its folder goes as well
    assert list(workdir.iterdir()) == []


def owner_pid(folder: Path) -> int:
    return int((folder.parent / f".{folder.name}{OWNER_SUFFIX}").read_text().split()[0])


OBJECT_JOB = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import storage.object as obj

    source, uri, key = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    real = obj._read_exactly

    def held_after_two_parts(path, size):
        for index, chunk in enumerate(real(path, size)):
            if index == 2:
                print("uploading", flush=True)
                time.sleep(600)
            yield chunk

    obj._read_exactly = held_after_two_parts
    obj.ObjectStorage(uri, endpoint_url=sys.argv[4]).upload(source, key)
    """
)


@pytest.mark.integration
def test_an_object_storage_write_killed_mid_upload_leaves_no_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.object import CHUNK_SIZE, ObjectStorage
    from tests.support.s3_server import ACCESS_KEY, SECRET_KEY, moto_s3

    for name, value in (("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
                        ("AWS_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    source = tmp_path / "20240115_T31TCJ_B04.tif"
    source.write_bytes(b"\x01" * (4 * CHUNK_SIZE + 1))  # a multipart upload
    with moto_s3() as s3:
        s3.create_bucket("kills")
        child = start(OBJECT_JOB, str(source), "s3://kills/geocube", LAYER_KEY, s3.endpoint)
        try:
            said(child, "uploading")
            wait_for("the upload's start", lambda: s3.pending_uploads("kills") == 1, 30)
        finally:
            kill(child)
        assert s3.keys("kills") == [], "no object, whole or partial, and no temporary one"
        storage = ObjectStorage("s3://kills/geocube", endpoint_url=s3.endpoint)
        assert not storage.exists(LAYER_KEY) and storage.list_keys("KillsAOI") == []
        # the next job's upload of the same layer: the object appears whole
        storage.upload(source, LAYER_KEY)
        assert s3.keys("kills") == [f"geocube/{LAYER_KEY}"]
        assert s3.get("kills", f"geocube/{LAYER_KEY}") == source.read_bytes()
        # the killed upload's parts stay (invisible, but stored) until aborted: on S3 a bucket
        # lifecycle rule AbortIncompleteMultipartUpload removes them (README)
        assert s3.pending_uploads("kills") == 1


# ---------------------------------------------------------------------------------- a killed download

BODY = hashlib.sha256(b"kills").digest() * (8 << 15)  # 8 MiB
CHUNK = 64 << 10


class SlowFiles(QuietHandler, http.server.BaseHTTPRequestHandler):
    """``BODY`` at about 2 MiB/s in 64 KiB chunks, with ranges; ``sent`` counts the body bytes each
    request got (up to the cut)."""

    sent: ClassVar[list[int]] = []
    ranges: ClassVar[list[str]] = []
    lock = threading.Lock()

    def do_GET(self) -> None:
        wanted = self.headers.get("Range", "")
        offset = int(wanted[len("bytes=") :].split("-")[0]) if wanted.startswith("bytes=") else 0
        with self.lock:
            self.ranges.append(wanted)
            self.sent.append(0)
            index = len(self.sent) - 1
        self.send_response(206 if offset else 200)
        self.send_header("Accept-Ranges", "bytes")
        if offset:
            self.send_header("Content-Range", f"bytes {offset}-{len(BODY) - 1}/{len(BODY)}")
        self.send_header("Content-Length", str(len(BODY) - offset))
        self.end_headers()
        try:
            for start_at in range(offset, len(BODY), CHUNK):
                piece = BODY[start_at : start_at + CHUNK]
                self.wfile.write(piece)
                self.wfile.flush()
                with self.lock:
                    self.sent[index] += len(piece)
                time.sleep(0.03)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


@pytest.fixture
def slow_server() -> Iterator[tuple[str, type[SlowFiles]]]:
    handler = type("Handler", (SlowFiles,), {"sent": [], "ranges": [], "lock": threading.Lock()})
    with serve(handler) as base:
        yield f"{base}/S2A_MSIL1C_20240115.zip", handler


DOWNLOAD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from jobs.workspace import download_dir
    from providers.fetch import Expected, Fetcher

    workdir, url, size, md5 = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with download_dir(workdir, "S2A_MSIL1C_20240115") as folder:
        (folder / "cdse").mkdir(exist_ok=True)
        print("fetching", flush=True)
        Fetcher().fetch(url, folder / "cdse" / "S2A_MSIL1C_20240115.zip", what="S2A_MSIL1C_20240115",
                        expected=Expected(size=size, checksums={"md5": md5}))
    """
)


def test_a_download_killed_mid_transfer_is_resumed_by_the_retry(
    tmp_path: Path, slow_server: tuple[str, type[SlowFiles]]
) -> None:
    url, server = slow_server
    md5 = hashlib.md5(BODY).hexdigest()  # noqa: S324 - the checksum a DHuS publishes
    part = tmp_path / "downloads" / "S2A_MSIL1C_20240115" / "cdse" / "S2A_MSIL1C_20240115.zip.part"
    child = start(DOWNLOAD, str(tmp_path), url, str(len(BODY)), md5)
    try:
        said(child, "fetching")
        deadline = time.monotonic() + 30
        while not (part.exists() and part.stat().st_size >= 2 << 20):
            assert time.monotonic() < deadline and child.poll() is None, "the transfer did not start"
            time.sleep(0.02)
    finally:
        kill(child)
    kept = part.stat().st_size
    assert 0 < kept < len(BODY), "killed mid-transfer"

    with download_dir(tmp_path, "S2A_MSIL1C_20240115") as folder:  # the retry
        dest = folder / "cdse" / "S2A_MSIL1C_20240115.zip"
        fetched = Fetcher().fetch(url, dest, what="S2A_MSIL1C_20240115",
                                  expected=Expected(size=len(BODY), checksums={"md5": md5}))  # fmt: skip
        assert dest.read_bytes() == BODY and fetched.checksum == "md5"
    assert server.ranges == ["", f"bytes={kept}-"]
    resent = server.sent[1]
    assert resent == len(BODY) - kept < len(BODY)
    assert fetched.resumed_bytes == kept
    sys.stdout.write(
        f"\nkilled download: {kept} of {len(BODY)} bytes kept, {resent} bytes sent again "
        f"({resent / len(BODY):.0%} of the body)\n"
    )


# ------------------------------------------------------------------------ a run whose worker died

HEARTBEAT_S = 30  # Prefect's floor; the deployments use flows.zombies.HEARTBEAT_S
WITHIN_S = 60.0  # the automation's window here (flows.zombies.WITHIN_S in production)
STAND_IN = textwrap.dedent(
    '''
    import os, time
    from pathlib import Path
    from prefect import flow

    @flow(name="process-tile")  # the name of one of the flows the automation watches
    def process_tile(marker: str, sleep_s: float) -> str:
        """A processing run mid-graph: it says its pid, then works."""
        Path(marker).write_text(str(os.getpid()))
        time.sleep(sleep_s)
        return "done"
    '''
)


def heartbeats_of(api: str, run_id: Any) -> int:
    import httpx

    answer = httpx.post(
        f"{api}/events/filter",
        json={
            "filter": {
                "event": {"name": ["prefect.flow-run.heartbeat"]},
                "any_resource": {"id": [f"prefect.flow-run.{run_id}"]},
            },
            "limit": 50,
        },
        timeout=10,
    )
    answer.raise_for_status()
    return len(answer.json()["events"])


def wait_for(what: str, check: Any, timeout_s: float) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout_s, f"{what}: not after {timeout_s:g} s"
        time.sleep(0.5)
    return time.monotonic() - started


@pytest.mark.integration
@long_fault
def test_a_run_whose_worker_is_killed_ends_crashed_not_running(tmp_path: Path) -> None:
    from prefect import Flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import FlowRun, StateType
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tests.support.services import BIN, drain_prefect_services, postgres, prefect_server, workers

    (tmp_path / "stand_in.py").write_text(STAND_IN)
    with postgres() as database_url, prefect_server(tmp_path / "home", database_url) as server_env:
        env = server_env | {"PREFECT_CLI_PROMPT": "false"}
        api = env["PREFECT_API_URL"]
        ensure = [sys.executable, "-m", "flows.zombies", "ensure", "--within-s", f"{WITHIN_S:g}"]
        for done_word in ("created", "unchanged"):  # idempotent: up.sh may run it on every deploy
            done = subprocess.run(ensure, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            assert f"geocube-ingester-crash-zombie-runs {done_word}" in done.stdout
        for pool in ("doomed-pool", "live-pool"):
            create = [str(BIN / "prefect"), "work-pool", "create", pool, "--type", "process"]
            assert subprocess.run(create, env=env, capture_output=True, timeout=120).returncode == 0
        with temporary_settings({PREFECT_API_URL: api}):
            try:
                source: Flow[..., Any] = Flow.from_source(  # type: ignore[assignment]
                    source=str(tmp_path), entrypoint="stand_in.py:process_tile"
                )
                for pool in ("doomed-pool", "live-pool"):
                    source.deploy(
                        name=pool,
                        work_pool_name=pool,
                        # as prefect.yaml's job variables give every deployment's runs
                        job_variables={"env": {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S)}},
                        print_next_steps=False,
                        ignore_warnings=True,
                    )

                def start_run(pool: str, marker: Path, sleep_s: float) -> FlowRun:
                    params = {"marker": str(marker), "sleep_s": sleep_s}
                    return run_deployment(f"process-tile/{pool}", parameters=params, timeout=0)  # type: ignore[return-value]

                killed = start_run("doomed-pool", tmp_path / "pid-killed", 600)
                # alive longer than the window, beating: never crashed
                long = start_run("live-pool", tmp_path / "pid-long", WITHIN_S + 30)
                short = start_run("live-pool", tmp_path / "pid-short", 1)  # ended: left alone
                with get_client(sync_client=True) as client:

                    def state_of(run: FlowRun) -> StateType | None:
                        now = client.read_flow_run(run.id).state
                        return now.type if now is not None else None

                    with workers(env, ["doomed-pool", "live-pool"], tmp_path, cwd=tmp_path) as (doomed, _):
                        marker = tmp_path / "pid-killed"
                        wait_for("the run's first heartbeat", lambda: heartbeats_of(api, killed.id), 120)
                        wait_for("the run's pid", lambda: marker.exists() and marker.read_text(), 30)
                        wait_for("the short run", lambda: state_of(short) == StateType.COMPLETED, 120)
                        assert state_of(killed) == state_of(long) == StateType.RUNNING
                        # the worker and its run die together (a machine lost): nobody reports
                        os.killpg(doomed.pid, signal.SIGKILL)
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(int(marker.read_text()), signal.SIGKILL)
                        doomed.wait(10)
                        killed_at = time.monotonic()
                        assert state_of(killed) == StateType.RUNNING
                        bound_s = WITHIN_S + HEARTBEAT_S + 30  # the window after the last beat, + slack
                        wait_for("Crashed", lambda: state_of(killed) == StateType.CRASHED, bound_s)
                        took_s = time.monotonic() - killed_at
                        run = client.read_flow_run(killed.id)
                        assert run.state is not None and "no heartbeat" in str(run.state.message)
                        assert state_of(long) == StateType.RUNNING  # beating past the window
                        wait_for("the long run", lambda: state_of(long) == StateType.COMPLETED, 120)
                        assert state_of(short) == StateType.COMPLETED
                        beats = heartbeats_of(api, killed.id), heartbeats_of(api, long.id)
            finally:
                drain_prefect_services()
    sys.stdout.write(
        f"\nkilled run: Crashed {took_s:.0f} s after the kill (heartbeat {HEARTBEAT_S} s, "
        f"window {WITHIN_S:g} s, bound {bound_s:g} s; {beats[0]} heartbeat(s) before the kill); "
        f"the live run beat {beats[1]} time(s) and completed\n"
    )


def test_the_production_automation_watches_our_flows_only_with_room_for_prefects_default_beat() -> None:
    from datetime import timedelta

    from flows.zombies import FLOW_NAMES, zombie_automation
    from flows.zombies import HEARTBEAT_S as OURS
    from flows.zombies import WITHIN_S as WINDOW

    automation = zombie_automation()
    trigger = automation.trigger
    assert trigger.model_dump()["posture"] == "Proactive"
    assert trigger.within == timedelta(seconds=WINDOW) == timedelta(seconds=300)  # type: ignore[union-attr]
    assert WINDOW >= 5 * OURS and WINDOW > 180 + 60  # Prefect 3.9's default beat, with a minute to spare
    related = trigger.model_dump()["match_related"]
    assert (
        related["prefect.resource.name"]
        == list(FLOW_NAMES)
        == [
            "ingest",
            "download-scene",
            "process-tile",
            "download-scenes",
            "process-tiles",
        ]
    )
    assert automation.actions[0].model_dump()["force"] is False
    with pytest.raises(ValueError, match="within_s 45: must be at least 60 s"):
        zombie_automation(within_s=45)
