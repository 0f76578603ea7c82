"""Real services for the end-to-end tests, on 127.0.0.1, always stopped afterwards.

- PostgreSQL (Debian's server binaries; initdb refuses root, so it runs as the ``postgres`` user when
  the tests run as root);
- a Prefect server on that database;
- Prefect process workers on the work pools.
Each is a context manager that stops its process in ``finally``, also when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = sorted(str(p) for p in Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"PostgreSQL's {name} not found: run `make system-deps` (Debian package postgresql)"
        )
    return path


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL cluster; yields an asyncpg SQLAlchemy URL of database ``prefect``.

    Its folder is a new one in the system temp dir (pytest's are private to root, and initdb must run
    as ``postgres`` when the tests run as root); it is removed afterwards.
    """
    root = Path(tempfile.mkdtemp(prefix="geocube-ingester-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data, port = root / "data", free_port()
    try:
        _run(
            _as_postgres([_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        )
        _run(
            _as_postgres(
                [
                    _pg_bin("pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(root / "log"),
                    "-w",
                    "-o",
                    f"-p {port} -c listen_addresses=127.0.0.1 -k {root}",
                    "start",
                ]
            )
        )
    except BaseException:
        # pg_ctl may have started the server before failing (e.g. its wait timed out).
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        psql = [_pg_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-q"]
        subprocess.run(
            [*psql, "-c", "create role prefect login password 'prefect'"], check=True, capture_output=True
        )
        subprocess.run(
            [*psql, "-c", "create database prefect owner prefect"], check=True, capture_output=True
        )
        yield f"postgresql+asyncpg://prefect:prefect@127.0.0.1:{port}/prefect"
    finally:
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def _stop(proc: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _spawn(
    cmd: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    # A new session: the process gets default signal dispositions (a worker started from a
    # non-interactive shell would otherwise ignore SIGINT and never stop: prefect-notes.md).
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
        )


@contextlib.contextmanager
def prefect_server(home: Path, database_url: str) -> Iterator[dict[str, str]]:
    """A Prefect server on PostgreSQL; yields the environment that points clients at it."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url,
        "PREFECT_UI_ENABLED": "false",
    }
    proc = _spawn(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env,
        home / "server.log",
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"Prefect server exited: see {home / 'server.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{api}/ready", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"Prefect server not ready after 90 s: see {home / 'server.log'}")
            time.sleep(0.3)
        client_env = {k: v for k, v in env.items() if k != "PREFECT_API_DATABASE_CONNECTION_URL"}
        yield client_env | {"PREFECT_API_URL": api}
    finally:
        _stop(proc)


@contextlib.contextmanager
def workers(
    env: dict[str, str], pools: list[str], log_dir: Path, cwd: Path, *, own_homes: bool = False
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """One process worker per pool, polling every second.

    With ``own_homes``, each worker has its own ``PREFECT_HOME`` (``<log_dir>/home-<pool>``) and no
    ``PREFECT_LOCAL_STORAGE_PATH``, as on machines of their own: what one writes to its local storage
    the others cannot count on.
    """
    procs: list[subprocess.Popen[bytes]] = []
    worker_env = env | {"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "1"}
    try:
        for pool in pools:
            pool_env = worker_env
            if own_homes:
                pool_env = {k: v for k, v in worker_env.items() if k != "PREFECT_LOCAL_STORAGE_PATH"}
                pool_env["PREFECT_HOME"] = str(log_dir / f"home-{pool}")
            procs.append(
                _spawn(
                    [
                        str(BIN / "prefect"),
                        "worker",
                        "start",
                        "--pool",
                        pool,
                        "--limit",
                        "4",
                        "--type",
                        "process",
                    ],
                    pool_env,
                    log_dir / f"worker-{pool}.log",
                    cwd=cwd,
                )
            )
        yield procs
    finally:
        for proc in procs:
            _stop(proc)


def drain_prefect_services(timeout_s: float = 15) -> None:
    """Flush this process's Prefect event and log workers while their server still runs.

    They are bound to the API URL they started with; left alone, they would try to flush to a server
    that is gone when the process exits, and block the exit.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (EventsWorker, APILogWorker):
        service.drain_all(timeout=timeout_s)


# ------------------------------------------------------------------ services a test can stop and restart


class RestartablePostgres:
    """A throw-away PostgreSQL cluster (as :func:`postgres`) that a test can stop and start again on
    the same port and data folder: ``url`` stays valid across restarts."""

    def __init__(self, root: Path) -> None:
        self.root, self.data, self.port = root, root / "data", free_port()
        self.url = f"postgresql+asyncpg://prefect:prefect@127.0.0.1:{self.port}/prefect"

    def start(self) -> None:
        _run(
            _as_postgres(
                [
                    _pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                    f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}", "start",
                ]
            )
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """``mode`` ``immediate`` is a crash (no checkpoint, clients cut); ``fast`` a clean stop."""
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
            capture_output=True,
            check=False,
        )


@contextlib.contextmanager
def restartable_postgres() -> Iterator[RestartablePostgres]:
    """A :class:`RestartablePostgres` with database ``prefect``, started; stopped and removed after."""
    root = Path(tempfile.mkdtemp(prefix="geocube-ingester-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    server = RestartablePostgres(root)
    try:
        _run(
            _as_postgres(
                [_pg_bin("initdb"), "-D", str(server.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            )
        )
        server.start()
        psql = [_pg_bin("psql"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", "-q"]
        for sql in ("create role prefect login password 'prefect'", "create database prefect owner prefect"):
            subprocess.run([*psql, "-c", sql], check=True, capture_output=True)
        yield server
    finally:
        server.stop("fast")
        shutil.rmtree(root, ignore_errors=True)


class RestartablePrefectServer:
    """A Prefect server (as :func:`prefect_server`) that a test can kill and start again on the same
    port and database: ``env`` (for clients) stays valid across restarts."""

    def __init__(self, home: Path, database_url: str, extra_env: dict[str, str] | None = None) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home, self.port = home, free_port()
        self._env = {
            **os.environ,
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_DATABASE_CONNECTION_URL": database_url,
            "PREFECT_UI_ENABLED": "false",
            **(extra_env or {}),
        }
        self.api = f"http://127.0.0.1:{self.port}/api"
        client_env = {k: v for k, v in self._env.items() if k != "PREFECT_API_DATABASE_CONNECTION_URL"}
        self.env = client_env | {"PREFECT_API_URL": self.api}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 120) -> None:
        cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = proc = _spawn(cmd, self._env, self.home / "server.log")
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"Prefect server exited: see {self.home / 'server.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api}/ready", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Prefect server not ready after {timeout_s:g} s: see {self.home}/server.log"
                )
            time.sleep(0.3)

    def configured(self, name: str) -> str | None:
        """The server setting ``name`` it starts with (None: Prefect's default)."""
        return self._env.get(name) if name in self._env else None

    def configure(self, **settings: str) -> None:
        """Server settings for its next start (e.g. ``PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE``)."""
        self._env.update(settings)

    def kill(self) -> None:
        """SIGKILL the server and everything it started (its services): nothing is flushed."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)


@contextlib.contextmanager
def restartable_prefect_server(
    home: Path, database_url: str, extra_env: dict[str, str] | None = None
) -> Iterator[RestartablePrefectServer]:
    """A :class:`RestartablePrefectServer`, started; stopped afterwards, also when a test fails."""
    server = RestartablePrefectServer(home, database_url, extra_env)
    try:
        server.start()
        yield server
    finally:
        server.stop()
