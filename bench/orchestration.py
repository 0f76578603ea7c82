"""Orchestration: tiles per minute at N trivial tiles, the ``ingest`` flow against plain function calls.

Prepare: a world of ``BENCH_TILES`` (default 1 000) trivial tiles: as many tiny Sentinel-2-named products
(a zip of ``<scene>.SAFE/manifest.safe``, a few bytes) in a local archive, one per day, given to the parent
as a scenes interchange document (no catalogue search); scene graph ``CopyProductToStorage`` (the zip
stored as it is), tile graph ``Pass`` (no step, no in-file, no out-file) and no layers, a local Geocube
server (SQLite) and a local storage. The payload validates as it is: ``Pass`` with no layers is the
lightest tile graph there is.

Run: first the same jobs by plain calls of the use cases (``jobs.ingestion``, ``jobs.download``,
``jobs.process``: prepare, plan, records, every download then every tile, ledger), one after another, no
Prefect; then the ``ingest`` flow in local mode (the parent and its children in this process, on a
temporary Prefect API started as the CLI starts it, ``flows.prefect_api``), on a world of its own: in
batches of ``BENCH_PER_CHILD`` (default 25) scenes and tiles per child, then one child each on
``BENCH_ONE_EACH_TILES`` tiles (default all); then in deployments mode (``bench.orchestration_deployments``)
``BENCH_DEPLOY_BATCHED_TILES`` (default all) in batches and ``BENCH_DEPLOY_TILES`` (default 20) one each.

Report: wall time, tiles per minute, the ratio flow / plain calls, the parent's peak RSS (sampled every
50 ms) above what it held before the run and per tile, and Prefect's share of the wall time: the
children's own work (``JobResult.duration_s``, measured inside the job) against the flow's wall time.
Then where the time goes: CPU seconds of this process and of the API server (its child process), each
child run's expected start -> start and start -> end (from the API), and the parent's ``dispatch`` task
runs: how long each took around its child, and how many ran at once.

The Prefect API is the temporary one the CLI starts, or the server ``PREFECT_API_URL`` names (e.g. one
on PostgreSQL, to tell the engine's cost from SQLite's). A warm-up flow of 2 tiles runs first, uncounted:
the first flow run of a process pays for its imports and registrations.

``BENCH_TILES=50 python -m bench orchestration`` is a quick check.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from catalogue.interchange import write_interchange
from catalogue.models import Constellation, Scene

FOOTPRINT = "POLYGON ((1.2 43.5, 1.4 43.5, 1.4 43.7, 1.2 43.7, 1.2 43.5))"
AOI = [[[1.268, 43.590], [1.292, 43.590], [1.292, 43.608], [1.268, 43.608], [1.268, 43.590]]]
FIRST = datetime(2020, 1, 1, 10, 54, 21, tzinfo=UTC)


def _scene_id(date: datetime) -> str:
    return f"S2A_MSIL1C_{date:%Y%m%dT%H%M%S}_N0510_R051_T31TCJ_{date:%Y%m%dT%H%M%S}"


@dataclass
class World:
    root: Path
    env: dict[str, str]
    payload: dict[str, Any]
    document: dict[str, Any]
    n: int


def make_world(root: Path, n: int, *, name: str, geocube: str) -> World:
    """``n`` tiny products, one a day, in ``root/archive``, their scenes document, settings and payload."""
    scenes: list[Scene] = []
    for i in range(n):
        date = FIRST + timedelta(days=i)
        scene_id = _scene_id(date)
        folder = root / "archive" / f"{date:%Y}" / f"{date:%m}" / f"{date:%d}"
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(folder / f"{scene_id}.zip", "w") as zf:
            zf.writestr(f"{scene_id}.SAFE/manifest.safe", f"<manifest id='{scene_id}'/>\n")
        scenes.append(
            Scene(
                source_id=scene_id,
                date=date,
                constellation=Constellation.SENTINEL2,
                footprint_wkt=FOOTPRINT,
                tags={"constellation": "SENTINEL2"},
            )
        )
    last = FIRST + timedelta(days=n)
    payload = {
        "name": name,
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": AOI},
        "start_time": f"{FIRST:%Y-%m-%d}T00:00:00Z",
        "end_time": f"{last:%Y-%m-%d}T00:00:00Z",
        "scene_type": {"constellation": "sentinel2", "parameters": {}},
        "scene_graph_name": "CopyProductToStorage",
        "tile_graph_name": "Pass",
        "graph_config": {},
        "layers": {},
        "record_tags": {"source": "bench"},
    }
    document = write_interchange(
        scenes, [], aoi=name, graph_name="CopyProductToStorage", tile_graph_name="Pass"
    )
    for sub in ("storage", "work"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    env = {
        "GEOCUBE_SERVER": geocube,
        "GEOCUBE_INSECURE": "true",
        "GEOCUBE_INGESTER_STORAGE_URI": str(root / "storage"),
        "GEOCUBE_INGESTER_WORKDIR": str(root / "work"),
        "GEOCUBE_INGESTER_PROVIDERS": "local",
        "GEOCUBE_INGESTER_LOCAL_ARCHIVE": str(root / "archive"),
    }
    return World(root=root, env=env, payload=payload, document=document, n=n)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (``/proc/<pid>/stat``); 0 when gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_pids() -> list[int]:
    """This process's live child processes (the Prefect API server, and the workers in deployments mode)."""
    me = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if stat.read_text().rsplit(")", 1)[1].split()[1] == me:
                found.append(int(stat.parent.name))
    return found


def _cpu_now() -> tuple[float, float]:
    """(CPU s of this process, CPU s of its children): the parent against the API server."""
    return _cpu_s(os.getpid()), sum(_cpu_s(pid) for pid in _children_pids())


def _rss_bytes() -> int:
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class RssSampler:
    """The process's peak RSS while it runs, sampled every ``period_s``."""

    period_s: float = 0.05
    before: int = 0
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    @contextlib.contextmanager
    def sampling(self) -> Iterator[RssSampler]:
        self.before = self.peak = _rss_bytes()
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()
            self.peak = max(self.peak, _rss_bytes())

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.peak = max(self.peak, _rss_bytes())


@dataclass
class Run:
    what: str
    tiles: int
    wall_s: float
    work_s: float  # the children's own work (JobResult.duration_s)
    rss_before: int
    rss_peak: int
    done: int
    failed: int
    cpu_self_s: float = 0.0
    cpu_children_s: float = 0.0
    child_runs: list[tuple[float, float, float]] = field(default_factory=list)  # (queue s, run s, work s)
    dispatches: list[tuple[datetime, datetime]] = field(default_factory=list)

    @property
    def tiles_per_min(self) -> float:
        return 60 * self.tiles / self.wall_s

    @property
    def prefect_share(self) -> float:
        return max(0.0, 1 - self.work_s / self.wall_s)


def run_plain(world: World) -> Run:
    """The same ingestion by plain calls of the use cases, one job after another, no Prefect."""
    from common.settings import load_settings
    from jobs import ingestion
    from jobs.download import run_scene_job
    from jobs.models import JobResult, JobStatus
    from jobs.process import run_tile_job
    from jobs.resources import open_geocube
    from jobs.summary import IngestionSummary

    os.environ.update(world.env)
    sampler = RssSampler()
    cpu = _cpu_now()
    started = time.perf_counter()
    with sampler.sampling():
        prepared = ingestion.prepare(world.payload, document=world.document)
        plan = ingestion.plan(prepared)
        records = ingestion.create_records(prepared.payload, plan)
        scene_jobs, tile_jobs = ingestion.jobs_for(prepared, plan, records)
        settings = load_settings()
        summary = IngestionSummary(aoi=plan.aoi, mode="plain")
        work = 0.0
        downloaded: set[str] = set()
        for sj in scene_jobs:
            result = run_scene_job(sj, settings)
            work += result.duration_s
            downloaded.add(sj.scene.source_id)
            summary.rows.append(_plain_row("scene", sj.scene.source_id, sj.scene.date, result))
        status: dict[str, str] = {}
        with open_geocube(settings) as geocube:
            for tj in tile_jobs:
                outcome: JobResult | None = None
                if tj.scene.source_id in downloaded:
                    outcome = run_tile_job(tj, settings, geocube)
                    work += outcome.duration_s
                row = _plain_row("tile", tj.tile.source_id, tj.tile.date, outcome)
                summary.rows.append(row)
                status[tj.tile.key] = row.status.value
        ingestion.remove_unused_records(records, summary)
        ingestion.update_ledger(prepared.payload, plan, status, prepared.storage_uri)
    wall = time.perf_counter() - started
    tiles = [r for r in summary.rows if r.kind == "tile"]
    done = sum(r.status == JobStatus.DONE for r in tiles)
    run = Run("plain calls", len(tile_jobs), wall, work, sampler.before, sampler.peak, done,
              len(tiles) - done)  # fmt: skip
    run.cpu_self_s, run.cpu_children_s = (b - a for a, b in zip(cpu, _cpu_now(), strict=True))
    return run


def _plain_row(kind: str, item: str, date: datetime, result: Any) -> Any:
    from jobs.models import JobStatus
    from jobs.summary import OutcomeRow

    status = JobStatus.DONE if result is not None else JobStatus.FAILED
    return OutcomeRow(kind=kind, id=item, date=f"{date:%Y-%m-%d}", status=status, message="")


def run_flow(world: World, *, mode: str = "local", per_child: int = 1) -> Run:
    """The ``ingest`` flow: the parent in this process, its children as subflows of it (``local``) or
    as runs of their deployments, on the workers (``deployments``); ``per_child`` scenes and tiles per
    child run (``scenes_per_child``/``tiles_per_child``)."""
    from flows.ingest import ingest
    from flows.outcome import summary_of
    from jobs.models import JobStatus
    from jobs.stash import document_parameters

    os.environ.update(world.env)
    sampler = RssSampler()
    cpu = _cpu_now()
    started = time.perf_counter()
    with sampler.sampling():
        document = document_parameters(world.document, kind="scenes", aoi=world.payload["name"],
                                       storage_uri=world.env["GEOCUBE_INGESTER_STORAGE_URI"])  # fmt: skip
        state = ingest(
            payload=world.payload, mode=mode, **document, child_timeout_s=1800,
            scenes_per_child=per_child, tiles_per_child=per_child, return_state=True,
        )  # fmt: skip
    wall = time.perf_counter() - started
    cpu_self, cpu_children = (b - a for a, b in zip(cpu, _cpu_now(), strict=True))
    summary = summary_of(state)
    if summary is None:
        raise SystemExit(f"the ingest flow left no summary: {state.type.value} {state.message}")
    tiles = [r for r in summary.rows if r.kind == "tile"]
    done = sum(r.status == JobStatus.DONE for r in tiles)
    causes = sorted({f"{r.status.value} {r.message[:300]}" for r in tiles if r.status != JobStatus.DONE})
    for cause in causes[:3]:  # a benchmark that did not do the work says why
        print(f"  {mode}, {per_child}/child: {len(tiles) - done} tiles not done, e.g. {cause}")
    kids = child_runs(state)
    work = sum(w for _, _, w in kids)
    what = f"ingest flow, {mode}" + (f", {per_child}/child" if per_child > 1 else "")
    return Run(what, len(tiles), wall, work, sampler.before, sampler.peak, done,
               len(tiles) - done, cpu_self, cpu_children, kids, dispatch_runs(state))  # fmt: skip


def child_runs(parent_state: Any) -> list[tuple[float, float, float]]:
    """Per child run, from the API: (expected start -> start s, start -> end s, its own work s: the
    JobResult.duration_s measured inside the job, read from its result)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    from flows.results import read_result
    from jobs.batches import BatchResult
    from jobs.models import JobResult

    parent_id = parent_state.state_details.flow_run_id
    runs: list[tuple[float, float, float]] = []
    offset = 0
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])
                ),
                limit=200,
                offset=offset,
            )
            for kid in page:
                if kid.state is None or not kid.state.is_completed() or not kid.start_time:
                    continue
                work = 0.0
                with contextlib.suppress(Exception):  # a result not readable: its work counts as 0
                    result = read_result(kid.state)
                    if isinstance(result, JobResult):
                        work = result.duration_s
                    elif isinstance(result, BatchResult):  # a batch: the work of its items
                        work = sum(i.result.duration_s for i in result.items.values() if i.result)
                queue = (
                    (kid.start_time - kid.expected_start_time).total_seconds()
                    if kid.expected_start_time
                    else 0.0
                )
                ran = (kid.end_time - kid.start_time).total_seconds() if kid.end_time else 0.0
                runs.append((queue, ran, work))
            offset += len(page)
            if len(page) < 200:
                return runs


def dispatch_runs(parent_state: Any) -> list[tuple[datetime, datetime]]:
    """(start, end) of each of the parent's ``dispatch`` task runs (named ``download …``/``process …``)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    parent_id = parent_state.state_details.flow_run_id
    spans: list[tuple[datetime, datetime]] = []
    offset = 0
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[parent_id])), limit=200, offset=offset
            )
            spans += [
                (t.start_time, t.end_time)
                for t in page
                if t.name.startswith(("download ", "process ")) and t.start_time and t.end_time
            ]
            offset += len(page)
            if len(page) < 200:
                return spans


def _most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    now = most = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def _line(run: Run, baseline: Run | None) -> str:
    ratio = f"{run.wall_s / baseline.wall_s:>8.2f}x" if baseline else f"{'1.00x':>9}"
    grown = max(0, run.rss_peak - run.rss_before)
    return (
        f"{run.what:<26} {run.tiles:>6} {run.done:>5} {run.wall_s:>8.1f} {run.tiles_per_min:>8.0f} {ratio} "
        f"{run.work_s:>7.1f} {100 * run.prefect_share:>6.0f}% {run.rss_peak / 2**20:>8.0f} "
        f"{grown / 2**20:>7.0f} {grown / max(run.tiles, 1) / 1024:>7.1f}"
    )


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _details(run: Run) -> list[str]:
    cores = os.cpu_count() or 1
    lines = [
        f"  {run.what}: CPU {run.cpu_self_s:.1f} s in this process, {run.cpu_children_s:.1f} s in child "
        f"processes (API server; workers too in deployments mode), of {run.wall_s * cores:.0f} core-s "
        f"({cores} cores x wall)"
    ]
    if run.child_runs:
        queue = [q for q, _, _ in run.child_runs]
        ran = [r for _, r, _ in run.child_runs]
        work = [w for _, _, w in run.child_runs]
        lines.append(
            f"  {len(run.child_runs)} child runs: expected start -> start, median "
            f"{_quantile(queue, 0.5):.2f} s "
            f"(p95 {_quantile(queue, 0.95):.2f} s); start -> end median {_quantile(ran, 0.5):.2f} s "
            f"(p95 {_quantile(ran, 0.95):.2f} s); own work median {1000 * _quantile(work, 0.5):.0f} ms; "
            f"children running at once on average {sum(ran) / run.wall_s:.1f}"
        )
    if run.dispatches:
        took = [(b - a).total_seconds() for a, b in run.dispatches]
        lines.append(
            f"  {len(took)} dispatch task runs: start -> end median {_quantile(took, 0.5):.2f} s "
            f"(p95 {_quantile(took, 0.95):.2f} s); at most {_most_at_once(run.dispatches)} at once, "
            f"{sum(took) / run.wall_s:.1f} on average"
        )
    return lines


def _deployed(root: Path, m: int, mb: int, per_child: int, geocube: str) -> list[tuple[Run, Run]]:
    """A plain baseline and a deployments-mode flow run of ``m`` tiles, one child each, then the same
    for ``mb`` tiles in batches of ``per_child`` (bench.orchestration_deployments); 0: skipped."""
    from bench.orchestration_deployments import database, deployed_api

    worlds = []
    for count, batch in ((m, 1), (mb, per_child)):
        if count > 0:
            name = f"{count}x{batch}"
            plain_world = make_world(
                root / f"plain-{name}", count, name=f"BenchPlainDeploy{name}", geocube=geocube
            )
            world = make_world(root / f"deploy-{name}", count, name=f"BenchDeploy{name}", geocube=geocube)
            worlds.append((plain_world, world, batch))
    if not worlds:
        return []
    started = time.perf_counter()
    out = []
    with deployed_api(root / "stack", worlds[0][1].env) as api:
        print(f"Prefect server {api} ({database()}), deployments and 2 workers up in "
              f"{time.perf_counter() - started:.1f} s (not counted below)")  # fmt: skip
        for plain_world, world, batch in worlds:
            plain = run_plain(plain_world)
            out.append((plain, run_flow(world, mode="deployments", per_child=batch)))
    return out


def main() -> None:
    n = int(os.environ.get("BENCH_TILES", "1000"))
    m = int(os.environ.get("BENCH_DEPLOY_TILES", "20"))
    mb = int(os.environ.get("BENCH_DEPLOY_BATCHED_TILES", str(n)))
    n1 = int(os.environ.get("BENCH_ONE_EACH_TILES", str(n)))  # local mode, one child each
    per_child = int(os.environ.get("BENCH_PER_CHILD", "25"))
    print(
        f"orchestration: {n} trivial tiles (CopyProductToStorage + Pass) in local mode in batches of "
        f"{per_child} (BENCH_PER_CHILD) and {n1} one child each (BENCH_ONE_EACH_TILES); in deployments mode "
        f"{mb} in batches (BENCH_DEPLOY_BATCHED_TILES) and {m} one child each (BENCH_DEPLOY_TILES; 0: "
        "skipped); the ingest flow against plain calls"
    )
    with tempfile.TemporaryDirectory(prefix="bench-orchestration-") as tmp:
        root = Path(tmp)
        os.environ.setdefault("PREFECT_HOME", str(root / "prefect"))
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        from flows.prefect_api import prepare_environment

        prepare_environment()  # before prefect is imported, as the CLI does
        from geocube_client.server import start_local_server

        with start_local_server(db_path=root / "geocube.sqlite") as server:
            started = time.perf_counter()
            plain_world = make_world(root / "plain", n, name=f"BenchPlain{n}", geocube=server.address)
            flow_world = make_world(root / "flow", n1, name=f"BenchFlow{n1}", geocube=server.address)
            print(f"prepare: {time.perf_counter() - started:.1f} s for 2 x {n} products")
            from flows.prefect_api import ensure_prefect_api

            started = time.perf_counter()
            api = ensure_prefect_api()
            print(f"Prefect API {api} up in {time.perf_counter() - started:.1f} s (not counted below)")
            warm = make_world(root / "warm", 2, name="BenchWarmUp", geocube=server.address)
            started = time.perf_counter()
            run_flow(warm)
            print(f"warm-up: a first 2-tile flow run in {time.perf_counter() - started:.1f} s "
                  "(not counted below)")  # fmt: skip
            batch_world = make_world(root / "batched", n, name=f"BenchBatched{n}", geocube=server.address)
            plain_one = make_world(root / "plain-one", n1, name=f"BenchPlainOne{n1}", geocube=server.address)
            plain = run_plain(plain_world)
            pairs = [(plain if n1 == n else run_plain(plain_one), run_flow(flow_world))] if n1 > 0 else []
            if per_child > 1:
                pairs.append((plain, run_flow(batch_world, per_child=per_child)))
            pairs += _deployed(root, m, mb if per_child > 1 else 0, per_child, server.address)
        print(
            f"{'run':<26} {'tiles':>6} {'done':>5} {'wall s':>8} {'tiles/min':>8} {'vs plain':>9} "
            f"{'work s':>7} {'prefect':>7} {'peak MiB':>8} {'+MiB':>7} {'KiB/tile':>7}"
        )
        shown: set[int] = set()
        for plain, flow in pairs:
            if id(plain) not in shown:
                print(_line(plain, None))
            print(_line(flow, plain))
            shown.add(id(plain))
        shown.clear()
        for plain, flow in pairs:
            for line in ([] if id(plain) in shown else _details(plain)[:1]) + _details(flow):
                print(line)
            shown.add(id(plain))
        print(json.dumps({f"{flow.what} ({flow.tiles} tiles)": {"plain_s": round(plain.wall_s, 2),
                          "flow_s": round(flow.wall_s, 2)} for plain, flow in pairs}))  # fmt: skip
