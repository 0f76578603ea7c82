"""Process faults on a real Prefect server (issue 12, item 7): the parent flow's process SIGKILLed, the
Prefect server killed and restarted, PostgreSQL restarted, all while children run; and a full disk.

Started here, on 127.0.0.1, and stopped afterwards even when a test fails: PostgreSQL and a Prefect
server that the tests can stop and start again on the same port and data (``tests.support.services``),
``deployments/up.sh``, the zombie automation of ``flows.zombies`` with a short window, and real process
workers. The parent runs as ``python -m flows.cli ingest --mode deployments`` in a process of its own,
so that it can be killed. The world is the demo's (static STAC, local archive, a local Geocube).

Each fault ends with the same checks: the AOI's every tile DONE, once, in the ledger; one dataset per
stored layer in the Geocube and no record without its layers; nothing left in the workdir and no
``.part`` in the storage; and no flow run of the AOI left Running.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.flows.conftest import World, make_world
from tests.support.services import (
    BIN,
    RestartablePostgres,
    RestartablePrefectServer,
    restartable_postgres,
    restartable_prefect_server,
    workers,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(1500)]
# The kills and restarts take about 20 minutes together: `make test-faults` runs them (CI runs it after
# `make test`, whose budget is 15 minutes); `make test` runs the full-disk cases only. test_kills.py's
# killed-worker test (about 2.5 minutes) is one of them.
long_fault = pytest.mark.skipif(
    os.environ.get("GEOCUBE_INGESTER_LONG_FAULTS") != "1",
    reason="a long fault test: `make test-faults` runs it (GEOCUBE_INGESTER_LONG_FAULTS=1), CI too",
)

HEARTBEAT_S = 30  # Prefect's floor, for the parent (the deployments' children get it from prefect.yaml)
WITHIN_S = 60.0  # the automation's window here (flows.zombies.WITHIN_S in production)
DATES = 3
LAYERS_PER_TILE = 4
RUN_TIMEOUT_S = 900
LEASE_S = (
    300  # the lease of an AOI's slot (flows.aoi_lock: Prefect's default): a killed holder's lasts so long
)
DEPLOY_VARIABLES = (  # of the caller's environment: they would change what up.sh and the runs do
    "PROJECT_DIR",
    "GEOCUBE_INGESTER_STORAGE_URI",
    "GEOCUBE_INGESTER_RESULTS_URI",
    "PREFECT_LOCAL_STORAGE_PATH",
    "PREFECT_DEFAULT_RESULT_STORAGE_BLOCK",
    "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK",
)


@dataclass
class Stack:
    postgres: RestartablePostgres
    server: RestartablePrefectServer
    env: dict[str, str]
    root: Path

    @property
    def api(self) -> str:
        return self.env["PREFECT_API_URL"]


def run(env: dict[str, str], cmd: list[str], timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, env=env, cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout_s
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("faults-stack")
    with restartable_postgres() as pg, restartable_prefect_server(root / "home", pg.url) as server:
        env = {k: v for k, v in server.env.items() if k not in DEPLOY_VARIABLES} | {
            "PREFECT_CLI_PROMPT": "false",
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT": str(BIN / "prefect"),
        }
        done = run(env | {"GEOCUBE_INGESTER_RESULTS_URI": str(root / "shared-results")},
                   ["bash", str(REPO / "deployments" / "up.sh")])  # fmt: skip
        assert done.returncode == 0, f"up.sh failed:\n{done.stdout}\n{done.stderr}"
        ensure = [sys.executable, "-m", "flows.zombies", "ensure", "--within-s", f"{WITHIN_S:g}"]
        done = run(env, ensure)
        assert done.returncode == 0 and "updated" in done.stdout, done.stdout + done.stderr
        yield Stack(pg, server, env, root)


@pytest.fixture
def world_named(tmp_path: Path, local_geocube: str) -> Callable[[str], World]:
    def build(name: str) -> World:
        first = datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC)
        dates = [first + timedelta(days=10 * i) for i in range(DATES)]
        return make_world(tmp_path / name, local_geocube, name, dates=dates)

    return build


# ------------------------------------------------------------------------------------------ helpers


class Parent:
    """``geocube-ingester ingest --mode deployments`` in a process (and session) of its own."""

    def __init__(self, env: dict[str, str], world: World, log: Path) -> None:
        payload = log.with_suffix(".payload.json")
        payload.write_text(json.dumps(world.payload))
        self.log = log
        cmd = [sys.executable, "-m", "flows.cli", "ingest", str(payload), "--mode", "deployments"]
        run_env = env | world.env | {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S)}
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, env=run_env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def wait(self, timeout_s: float = RUN_TIMEOUT_S) -> tuple[int, str]:
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the parent did not end within {timeout_s:g} s:\n{self.said()[-4000:]}")
        return code, self.said()

    def said(self) -> str:
        return self.log.read_text(errors="replace")


def wait_for(what: str, check: Callable[[], Any], timeout_s: float, every_s: float = 1.0) -> Any:
    started, failure = time.monotonic(), ""
    while True:
        try:
            found = check()
        except Exception as exc:  # noqa: BLE001 - the API may be down meanwhile: ask again
            found, failure = None, f" (last: {type(exc).__name__}: {exc})"
        if found:
            return found
        assert time.monotonic() - started < timeout_s, f"{what}: not after {timeout_s:g} s{failure}"
        time.sleep(every_s)


def flow_runs_of(api: str, aoi: str) -> list[Any]:
    """Every flow run of the AOI (the parents, their children and batches: their names hold it)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        return list(
            client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=aoi)), limit=200)
        )


def parents_of(api: str, aoi: str) -> list[Any]:
    return sorted(
        (r for r in flow_runs_of(api, aoi) if r.parent_task_run_id is None and not is_child(r)),
        key=lambda r: r.created,
    )


def is_child(run: Any) -> bool:
    return str(run.name).startswith(("download ", "process ", "batch "))


def state_name(run: Any) -> str:
    return run.state.type.value if run.state is not None else "NONE"


class SlotLeakedError(AssertionError):
    """The AOI's concurrency slot is taken while no run of the AOI is left to release it."""


def unfinished_runs(api: str) -> list[str]:
    """Every run of the server not ended, also those that died before taking their name (a child is
    renamed by its own process: one that died at its start keeps Prefect's random name)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        runs = client.read_flow_runs(limit=200)
    return [
        f"{r.name}: {state_name(r)}" for r in runs if state_name(r) in ("RUNNING", "PENDING", "SCHEDULED")
    ]


def slots_taken(api: str, aoi: str) -> int:
    """The active slots of the AOI's concurrency limit (flows.aoi_lock): 0 once its runs ended."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.aoi_lock import limit_name

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        return int(client.read_global_concurrency_limit_by_name(limit_name(aoi)).active_slots)


def children_running(api: str, aoi: str) -> list[Any]:
    return [r for r in flow_runs_of(api, aoi) if is_child(r) and state_name(r) == "RUNNING"]


def check_final_state(world: World, env: dict[str, str]) -> dict[str, Any]:
    """The AOI's state after recovery: every tile DONE once, one dataset per layer, no leftovers."""
    from geocube_client.client import GeocubeClient

    done = run(
        env | world.env, [sys.executable, "-m", "flows.cli", "status", world.payload["name"], "--json"]
    )
    assert done.returncode == 0, done.stdout + done.stderr
    status = json.loads(done.stdout)
    layers = sorted(world.storage.rglob("*.tif"))
    assert len(layers) == DATES * LAYERS_PER_TILE, [str(p) for p in layers]
    with GeocubeClient(world.geocube, insecure=True) as client:
        records = client.list_records(tags={"aoi": world.payload["name"]})
        containers = client.get_containers(str(p) for p in layers)
    datasets = [d for c in containers for d in c.datasets]
    assert [len(c.datasets) for c in containers] == [1] * len(layers), "a layer indexed twice (or not)"
    assert sorted({d.record_id for d in datasets}) == sorted(r.id for r in records), "a record without layers"
    leftovers = sorted(str(p) for p in world.workdir.rglob("*"))
    assert leftovers == [], f"left in the workdir: {leftovers}"
    parts = sorted(str(p) for p in world.storage.rglob("*.part"))
    assert parts == [], f"half-written in the storage: {parts}"
    return {"status": status, "records": len(records), "datasets": len(datasets)}


def assert_tiles_done_once(status: dict[str, Any]) -> None:
    """Every tile and scene of the ledger DONE (each key once: the ledger is keyed by tile)."""
    assert {k: v for k, v in status["tiles"].items() if v} == {"DONE": DATES}, status
    assert {k: v for k, v in status["scenes"].items() if v} == {"DONE": DATES}, status


def assert_nothing_running(api: str, aoi: str) -> list[str]:
    states = [f"{r.name}: {state_name(r)}" for r in flow_runs_of(api, aoi)]
    assert not [s for s in states if s.endswith(("RUNNING", "PENDING", "SCHEDULED"))], states
    return states


def headline_ok(code: int, said: str) -> bool:
    return code == 0 and f"scenes: {DATES}/{DATES} done" in said and f"tiles: {DATES}/{DATES} done" in said


def rerun(
    stack: Stack,
    world: World,
    log: Path,
    timeout_s: float = RUN_TIMEOUT_S,
    *,
    ok: Callable[[int, str], bool] | None = None,
) -> tuple[float, str]:
    """The AOI run again to its end; ``ok`` (default: every scene and tile done) judges its outcome."""
    started = time.monotonic()
    parent = Parent(stack.env, world, log)
    try:
        code, said = parent.wait(timeout_s)
    finally:
        parent.kill()  # when the test is interrupted meanwhile
    assert (ok or headline_ok)(code, said), said[-4000:]
    return time.monotonic() - started, said


def rest_done(code: int, said: str) -> bool:
    """A re-run that did what the first run left (its own counts: only those), all of it."""
    import re

    return (
        code == 0
        and re.search(r"scenes: (\d+)/\1 done, 0 failed.*tiles: (\d+)/\2 done, 0 failed", said) is not None
    )


def nothing_left(code: int, said: str) -> bool:
    """A run of an AOI ingested whole: nothing to do, and Completed."""
    return code == 0 and "0 scene(s), 0 tile(s)" in said and f"{DATES} scene(s) left out" in said


# ------------------------------------------------------------------------------ 1. the parent killed


@long_fault
def test_a_killed_parent_ends_crashed_and_its_rerun_completes_without_duplicates(
    stack: Stack, world_named: Callable[[str], World], tmp_path: Path
) -> None:
    world = world_named("FaultParentKilled")
    aoi = world.payload["name"]
    env = stack.env | world.env
    began = time.monotonic()
    with workers(env, ["download-pool", "processing-pool"], tmp_path, cwd=REPO):
        parent = Parent(stack.env, world, tmp_path / "parent-1.log")
        try:
            wait_for("a child running", lambda: children_running(stack.api, aoi), 600, every_s=0.3)
            (killed,) = parents_of(stack.api, aoi)
            assert state_name(killed) == "RUNNING"
        finally:
            parent.kill()
        killed_at = time.monotonic()
        bound_s = WITHIN_S + HEARTBEAT_S + 60
        wait_for(
            "the killed parent Crashed",
            lambda: state_name(parents_of(stack.api, aoi)[0]) == "CRASHED",
            bound_s,
        )
        crashed_s = time.monotonic() - killed_at
        # its children were on the workers: they end on their own
        wait_for("the children's ends", lambda: not children_running(stack.api, aoi), 600)
        rerun_s, _ = rerun(stack, world, tmp_path / "parent-2.log")
        final = check_final_state(world, env)
        states = assert_nothing_running(stack.api, aoi)
        assert slots_taken(stack.api, aoi) == 0
    crashed = parents_of(stack.api, aoi)[0]
    assert crashed.state is not None and "no heartbeat" in str(crashed.state.message)
    assert [state_name(p) for p in parents_of(stack.api, aoi)] == ["CRASHED", "COMPLETED"], states
    assert_tiles_done_once(final["status"])
    sys.stdout.write(
        f"\nparent killed: Crashed {crashed_s:.0f} s after the kill (bound {bound_s:g} s); the re-run "
        f"took {rerun_s:.0f} s; {final['records']} records, {final['datasets']} datasets; whole test "
        f"{time.monotonic() - began:.0f} s\n"
    )


# --------------------------------------------------------------------- 2. the Prefect server restarted


@long_fault
@pytest.mark.parametrize(
    "leases",
    [
        # Prefect's default: a restart loses the lease of the AOI's slot, and its release is a no-op; the
        # parent then frees the slot it finds taken with no other holder (flows.aoi_lock)
        "memory",
        "filesystem",
    ],
)
def test_the_prefect_server_restarted_mid_run(
    stack: Stack, world_named: Callable[[str], World], tmp_path: Path, leases: str
) -> None:
    storage = f"prefect.server.concurrency.lease_storage.{leases}"
    if stack.server.configured("PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE") != storage:
        stack.server.configure(PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=storage)
        stack.server.kill()
        stack.server.start()
    world = world_named(f"FaultServerRestart{leases.title()}")
    outcome = _fault_mid_run(stack, world, tmp_path, restart=_restart_server)
    sys.stdout.write(f"\nPrefect server restarted mid-run (leases in {leases}): {outcome}\n")


def _restart_server(stack: Stack) -> None:
    stack.server.kill()
    time.sleep(5)
    stack.server.start()


# ------------------------------------------------------------------------ 3. PostgreSQL restarted


@long_fault
def test_postgresql_restarted_mid_run(
    stack: Stack, world_named: Callable[[str], World], tmp_path: Path
) -> None:
    outcome = _fault_mid_run(stack, world_named("FaultPostgresRestart"), tmp_path, restart=_restart_postgres)
    sys.stdout.write(f"\nPostgreSQL restarted mid-run: {outcome}\n")


def _restart_postgres(stack: Stack) -> None:
    stack.postgres.stop("immediate")  # a crash: connections cut, no checkpoint
    time.sleep(5)
    stack.postgres.start()


def _fault_mid_run(stack: Stack, world: World, tmp_path: Path, *, restart: Callable[[Stack], None]) -> str:
    """Run the AOI, apply the fault while children run; the run completes, or its re-run does; then
    the final state is right and no run stays Running."""
    aoi = world.payload["name"]
    env = stack.env | world.env
    began = time.monotonic()
    with workers(env, ["download-pool", "processing-pool"], tmp_path, cwd=REPO):
        parent = Parent(stack.env, world, tmp_path / "parent-1.log")
        try:
            wait_for("a child running", lambda: children_running(stack.api, aoi), 600, every_s=0.3)
            restart(stack)
            code, said = parent.wait()
        finally:
            parent.kill()
        first_s = time.monotonic() - began
        first = "completed" if headline_ok(code, said) else f"ended {code}: {said.strip().splitlines()[-1:]}"
        reran = ""
        if not headline_ok(code, said):
            # the re-run continues where it stopped (waiting for a Crashed parent's AOI slot if need be)
            wait_for("the children's ends", lambda: not children_running(stack.api, aoi), 600)
            rerun_s, _ = rerun(stack, world, tmp_path / "parent-2.log", ok=rest_done)
            reran = f"; its re-run completed in {rerun_s:.0f} s"
        final = check_final_state(world, env)
        if slots_taken(stack.api, aoi):
            raise SlotLeakedError(f"the slot of AOI {aoi} is still taken, with no run of it left")
        # the AOI is free again: a later run starts (at worst once a dead holder's slot lease expired,
        # LEASE_S), finds nothing to do and completes
        again_s, _ = rerun(stack, world, tmp_path / "parent-again.log", LEASE_S + 180, ok=nothing_left)
        check_final_state(world, env)
        wait_for(
            "no run left Running",
            lambda: not unfinished_runs(stack.api),
            WITHIN_S + HEARTBEAT_S + 60,
        )
    parents = [state_name(p) for p in parents_of(stack.api, aoi)]
    assert parents[-1] == "COMPLETED", parents
    assert_tiles_done_once(final["status"])
    return (
        f"the run {first} ({first_s:.0f} s){reran}; a later run completed in {again_s:.0f} s; parents "
        f"{parents}; {final['records']} records, "
        f"{final['datasets']} datasets; whole test {time.monotonic() - began:.0f} s"
    )


# ---------------------------------------------------------------------------------- 4. a full disk

FULL_DISK_JOB = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from jobs.workspace import WorkdirFullError, download_dir, scratch_dir
    from storage.errors import StorageError
    from storage.local import LocalStorage

    workdir, storage_root, case = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    limit = 0 if case == "create" else 1 << 20
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # this process's disk holds 1 MiB a file
    try:
        if case == "create":  # no room even for a scratch folder's owner file
            with scratch_dir(workdir, "tile-T31TCJ"):
                pass
        elif case == "write":  # a graph writing its output in the job's folder
            with scratch_dir(workdir, "tile-T31TCJ") as scratch:
                (scratch / "B04.tif").write_bytes(b"II*\\x00" * (1 << 20))
        elif case == "download":  # a product arriving in the download folder
            with download_dir(workdir, "S2A_MSIL1C_20240115") as folder:
                with (folder / "S2A_MSIL1C_20240115.zip.part").open("wb") as out:
                    for _ in range(4):
                        out.write(b"\\x01" * (1 << 19))
        elif case == "import":  # a layer copied from the storage into the job's folder
            with scratch_dir(workdir, "tile-T31TCJ") as scratch:
                LocalStorage(storage_root).download("KillsAOI/big.tif", scratch / "big.tif")
    except (WorkdirFullError, StorageError) as exc:
        print(f"{type(exc).__name__}: {exc}", flush=True)
        raise SystemExit(3)
    """
)


@pytest.mark.parametrize("case", ["create", "write", "download", "import"])
def test_a_full_work_directory_is_a_clear_error_and_leaves_nothing(tmp_path: Path, case: str) -> None:
    """A real full disk for one process (RLIMIT_FSIZE: writes past the limit fail with EFBIG): the job's
    error names the work directory and the fix, and nothing of the job is left in it."""
    workdir, storage_root = tmp_path / "work", tmp_path / "storage"
    (storage_root / "KillsAOI").mkdir(parents=True)
    (storage_root / "KillsAOI" / "big.tif").write_bytes(b"\x01" * (3 << 20))
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK_JOB, str(workdir), str(storage_root), case],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    said = done.stdout.strip()
    assert done.returncode == 3, f"{done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "GEOCUBE_INGESTER_WORKDIR" in said and "no room left on the disk of" in said, said
    assert str(workdir) in said and "File too large" in said, said
    assert sorted(str(p) for p in workdir.rglob("*")) == [], "the job left files in the work directory"
    assert sorted(p.name for p in (storage_root / "KillsAOI").iterdir()) == ["big.tif"]
    sys.stdout.write(f"\nfull work directory ({case}): {said}\n")


def test_a_full_storage_disk_is_a_clear_error_and_nothing_is_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC half-way through a layer's copy into the storage (and into the work directory): a clear
    error naming the folder and the fix; the old layer kept whole, no temporary file anywhere."""
    import shutil

    from storage.errors import StorageError
    from storage.local import LocalStorage

    storage = LocalStorage(tmp_path / "storage")
    layer = tmp_path / "B04.tif"
    layer.write_bytes(b"II*\x00 old")
    key = "FullAOI/S2A_MSIL1C_20240115/tiles/T31TCJ/20240115_T31TCJ_B04.tif"
    storage.upload(layer, key)
    layer.write_bytes(b"II*\x00" + b"\x01" * (3 << 20))

    def half_then_full(inp: Any, out: Any, length: int = 0) -> None:
        out.write(inp.read(1 << 20))
        out.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(shutil, "copyfileobj", half_then_full)
    folder = (tmp_path / "storage" / key).parent
    with pytest.raises(StorageError) as raised:
        storage.upload(layer, key)
    said = str(raised.value)
    assert f"no room left on the disk of {folder} (No space left on device)" in said, said
    assert "GEOCUBE_INGESTER_STORAGE_URI" in said and "an older one is kept" in said, said
    assert sorted(p.name for p in folder.iterdir()) == ["20240115_T31TCJ_B04.tif"], "a .part was left"
    assert (folder / "20240115_T31TCJ_B04.tif").read_bytes() == b"II*\x00 old"

    scratch = tmp_path / "work" / "tile-x"
    scratch.mkdir(parents=True)
    with pytest.raises(StorageError) as raised:
        storage.download(key, scratch / "B04.tif")
    said = str(raised.value)
    assert f"no room left on the disk of {scratch}" in said and "GEOCUBE_INGESTER_WORKDIR" in said, said
    assert list(scratch.iterdir()) == []
