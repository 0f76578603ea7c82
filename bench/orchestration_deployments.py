"""Orchestration in ``deployments`` mode: the trivial tiles on a real Prefect server with process workers.

A Prefect server (``prefect server start``, its own ``PREFECT_HOME``) on PostgreSQL, as production runs it
(a throw-away cluster, the tests' ``tests.support.services.postgres``; ``BENCH_PREFECT_DB=sqlite`` for
SQLite, whose API answers 503 to workers under the load of a thousand children), ``deployments/up.sh``
(work pools, result storage block, ``prefect deploy --all``), one process worker per child pool
(``--limit 4``, polling every second, as the tests start them), then the ``ingest`` flow in this process
with ``mode=deployments``. Each child's queue-to-running time is its run's expected start -> start, read
from the API. Every process started here is stopped by its own id afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
POOLS = ("download-pool", "processing-pool")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # A new session: default signal dispositions, so one SIGTERM stops a worker (prefect-notes.md).
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def database() -> str:
    """The Prefect server's database: BENCH_PREFECT_DB, else PostgreSQL when its server is installed."""
    chosen = os.environ.get("BENCH_PREFECT_DB", "")
    if chosen:
        return chosen
    return "postgres" if list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")) else "sqlite"


@contextlib.contextmanager
def _database_url(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        yield ""
        return
    from tests.support.services import postgres

    with postgres() as url:
        yield url


@contextlib.contextmanager
def prefect_stack(root: Path, world_env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """A Prefect server, the deployments of prefect.yaml, one worker per child pool: (API, env)."""
    with _database_url(database()) as url:
        with _prefect_stack(root, world_env, url) as stack:
            yield stack


@contextlib.contextmanager
def _prefect_stack(
    root: Path, world_env: dict[str, str], database_url: str
) -> Iterator[tuple[str, dict[str, str]]]:
    home = root / "server-home"
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    base = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    }
    if database_url:
        base["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    base.pop("PREFECT_API_URL", None)
    procs = [_spawn([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                    base, root / "server.log")]  # fmt: skip
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{api}/ready", timeout=2).status_code == 200:
                    break
            if procs[0].poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the Prefect server did not start: see {root / 'server.log'}")
            time.sleep(0.3)
        env = base | world_env | {
            "PREFECT_API_URL": api,
            "PREFECT_CLI_PROMPT": "false",
            "PREFECT": str(BIN / "prefect"),
            "GEOCUBE_INGESTER_RESULTS_URI": str(root / "shared-results"),
        }  # fmt: skip
        for name in ("PROJECT_DIR", "PREFECT_LOCAL_STORAGE_PATH", "PREFECT_DEFAULT_RESULT_STORAGE_BLOCK"):
            env.pop(name, None)
        up = ["bash", str(REPO / "deployments" / "up.sh")]
        done = subprocess.run(
            up, env=env, cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"deployments/up.sh failed:\n{done.stdout}\n{done.stderr}")
        worker_env = env | {"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "1"}
        for pool in POOLS:
            cmd = [
                str(BIN / "prefect"),
                "worker",
                "start",
                "--pool",
                pool,
                "--limit",
                "4",
                "--type",
                "process",
            ]
            procs.append(_spawn(cmd, worker_env, root / f"worker-{pool}.log"))
        yield api, env
    finally:
        for proc in reversed(procs):
            _stop(proc)


@contextlib.contextmanager
def deployed_api(root: Path, world_env: dict[str, str]) -> Iterator[str]:
    """:func:`prefect_stack`, with this process's Prefect settings pointed at it while it runs."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    with prefect_stack(root, world_env) as (api, _env):
        settings = {PREFECT_API_URL: api, PREFECT_LOCAL_STORAGE_PATH: root / "parent-results"}
        with temporary_settings(settings):
            try:
                yield api
            finally:
                for service in (EventsWorker, APILogWorker):  # flush while this server still runs
                    service.drain_all(timeout=15)
