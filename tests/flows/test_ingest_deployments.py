"""The deployments of ``prefect.yaml`` against a real Prefect server on PostgreSQL, with real workers.

Started here, on 127.0.0.1, and stopped afterwards even when a test fails: PostgreSQL, a Prefect
server, then ``deployments/up.sh`` (work pools, result storage block, a plain ``prefect deploy --all``
with no ``PROJECT_DIR``), and real process workers, each with its own ``PREFECT_HOME`` as on machines
of their own: a result stored on one worker's local disk is not there for the others. The parent runs
in this process (``geocube-ingester ingest --mode deployments``), or itself as the ``ingest``
deployment on the orchestrator pool.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.flows.conftest import World, make_world
from tests.support.link_graphs import write_graph_reading_t1_t2
from tests.support.services import BIN, drain_prefect_services, postgres, prefect_server, workers

pytestmark = [pytest.mark.slow, pytest.mark.integration]

POOLS = ["download-pool", "processing-pool", "orchestrator-pool"]
RESULTS_BLOCK = "local-file-system/geocube-ingester-results"
# Variables of the caller's environment that would change what up.sh and the deploy do.
DEPLOY_VARIABLES = (
    "PROJECT_DIR",
    "GEOCUBE_INGESTER_STORAGE_URI",
    "GEOCUBE_INGESTER_RESULTS_URI",
    "GEOCUBE_INGESTER_CDSE_USERNAME",
    "GEOCUBE_INGESTER_CREODIAS_USERNAME",
    "GEOCUBE_INGESTER_DHUS_USER",
    "PREFECT_LOCAL_STORAGE_PATH",
    "PREFECT_DEFAULT_RESULT_STORAGE_BLOCK",
    "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK",
)


def run(env: dict[str, str], cmd: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300
    )


@pytest.fixture(scope="module")
def prefect_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("prefect-stack")
    with postgres() as database_url, prefect_server(root / "home", database_url) as server_env:
        env = {k: v for k, v in server_env.items() if k not in DEPLOY_VARIABLES} | {
            "PREFECT_CLI_PROMPT": "false",
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT": str(BIN / "prefect"),
        }
        # up.sh from another folder (it moves to the project), results on a path every worker shares
        done = run(env | {"GEOCUBE_INGESTER_RESULTS_URI": str(root / "shared-results")},
                   ["bash", str(REPO / "deployments" / "up.sh")], cwd=root)  # fmt: skip
        assert done.returncode == 0, f"up.sh failed:\n{done.stdout}\n{done.stderr}"
        assert "work pool orchestrator-pool ready" in done.stdout
        assert "work pool processing-pool ready (engines: " in done.stdout
        yield env | {"SHARED_RESULTS": str(root / "shared-results")}


@pytest.fixture
def world_named(tmp_path: Path, local_geocube: str) -> Callable[[str], World]:
    def build(name: str) -> World:
        first = datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC)
        return make_world(
            tmp_path / name,
            local_geocube,
            name,
            dates=[first + timedelta(days=10 * i) for i in range(3)],
            broken=[1],
        )

    return build


@contextlib.contextmanager
def parent_here_children_on_workers(env: dict[str, str], world: World, tmp_path: Path) -> Iterator[None]:
    """A process worker per child pool, each with a home of its own; this process set up as the parent
    (the world's settings, the stack's API, a result folder of its own)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    with (
        workers(env, ["download-pool", "processing-pool"], tmp_path, cwd=REPO, own_homes=True),
        pytest.MonkeyPatch.context() as mp,
    ):
        for key, value in world.env.items():
            mp.setenv(key, value)
        settings = {PREFECT_API_URL: env["PREFECT_API_URL"], PREFECT_LOCAL_STORAGE_PATH: tmp_path / "parent"}
        with temporary_settings(settings):
            yield


def read_deployments() -> dict[str, Any]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return {d.name: d for d in client.read_deployments()}


def run_logs(client: Any, run_ids: list[Any]) -> list[Any]:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    logs: list[Any] = []
    while True:
        page = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=run_ids)), limit=200, offset=len(logs)
        )
        logs += page
        if len(page) < 200:
            return logs


def assert_domain_info_lines(logs: list[Any], logger: str) -> None:
    """The ingester's own INFO lines reached the API (not only WARNING and above)."""
    ours = [log for log in logs if log.name == logger or log.name.startswith(f"{logger}.")]
    assert any(log.level == 20 for log in ours), (
        f"no INFO line of {logger} in {sorted({x.name for x in logs})}"
    )


def assert_detailed_outcome(rows: list[dict[str, Any]]) -> None:
    """The children's results crossed machines: provider and outputs, not a substitute DONE."""
    scenes = [r for r in rows if r["kind"] == "scene"]
    tiles = [r for r in rows if r["kind"] == "tile"]
    assert [s["provider"] for s in scenes] == ["local"] * 3, scenes
    assert [t["status"] for t in tiles] == ["DONE", "FAILED", "DONE"]
    assert [t["outputs"] for t in tiles] == [4, 0, 4], tiles


def test_a_plain_deploy_makes_working_deployments_and_refuses_elsewhere(
    prefect_stack: dict[str, str], tmp_path: Path
) -> None:
    from prefect.filesystems import LocalFileSystem
    from prefect.settings import PREFECT_API_URL, temporary_settings

    env = prefect_stack
    with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}):
        # again, plain, from the project folder: no PROJECT_DIR, no storage variable (the block is kept)
        done = run(env, [str(BIN / "prefect"), "--no-prompt", "deploy", "--all"])
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        before = read_deployments()
        assert sorted(before) == [
            "download-scene", "download-scenes", "ingest", "ingest-last-10-days", "process-tile",
            "process-tiles",
        ]  # fmt: skip
        rolling = before["ingest-last-10-days"]
        assert rolling.parameters["window_days"] == 10 and rolling.parameters["payload"]["name"]
        assert [s.schedule.cron for s in rolling.schedules] == ["30 4 * * *"]  # type: ignore[union-attr]
        for deployment in before.values():
            assert "{{" not in json.dumps(deployment.model_dump(mode="json")), deployment.name
            assert deployment.pull_steps == [
                {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
            ]
            assert deployment.job_variables["env"]["PREFECT_DEFAULT_RESULT_STORAGE_BLOCK"] == RESULTS_BLOCK
        block: LocalFileSystem = LocalFileSystem.load("geocube-ingester-results")  # type: ignore[assignment]
        assert block.basepath == env["SHARED_RESULTS"]

        # from another folder: refused before anything changes
        prefect_file = str(REPO / "prefect.yaml")
        deploy = [str(BIN / "prefect"), "--no-prompt", "deploy", "--all", "--prefect-file", prefect_file]
        elsewhere = run(env, deploy, cwd=tmp_path)
        assert elsewhere.returncode != 0
        said = elsewhere.stdout + elsewhere.stderr
        assert "No such file or directory" in said and "flows/children.py" in said, said  # its entrypoint
        after = read_deployments()
        assert {n: d.updated for n, d in after.items()} == {n: d.updated for n, d in before.items()}


def test_children_run_on_their_pools_and_a_failed_tile_releases_its_dependants(
    prefect_stack: dict[str, str], world_named: Callable[[str], World], tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.ingest import ingest
    from flows.outcome import summary_of
    from flows.results import read_result
    from jobs.models import JobResult

    world = world_named("DeployE2E")
    # A graph reading T1/T2: the tiles wait for their previous and are re-linked past the failed one.
    payload = world.payload | {"tile_graph_name": write_graph_reading_t1_t2(tmp_path)}
    env = prefect_stack | world.env
    with parent_here_children_on_workers(env, world, tmp_path):
        try:
            state = ingest(payload=payload, mode="deployments", child_timeout_s=600, return_state=True)
            summary = summary_of(state)
            with get_client(sync_client=True) as client:
                parent = client.read_flow_run(state.state_details.flow_run_id)  # type: ignore[arg-type]
                kids = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
                    ),
                    limit=200,
                )
                logs = run_logs(client, [k.id for k in kids])
        finally:
            drain_prefect_services()

    message = str(state.message)
    assert state.is_failed(), message
    assert "scenes: 3/3 done" in message and "tiles: 2/3 done, 1 failed" in message
    assert summary is not None
    assert_detailed_outcome([r.model_dump(mode="json") | {"outputs": len(r.outputs)} for r in summary.rows])

    downloads = [k for k in kids if k.name.startswith("download ")]
    processing = sorted((k for k in kids if k.name.startswith("process ")), key=lambda k: k.name)
    assert len(downloads) == 3 and len(processing) == 3
    assert {k.work_pool_name for k in downloads} == {"download-pool"}
    assert {k.work_pool_name for k in processing} == {"processing-pool"}
    assert [k.state.type.value for k in processing] == ["COMPLETED", "FAILED", "COMPLETED"]  # type: ignore[union-attr]
    failed, dependant = processing[1], processing[2]
    assert dependant.start_time >= failed.end_time, "the dependant ran after its failed previous finished"  # type: ignore[operator]
    first = processing[0].parameters["job"]["tile"]
    assert dependant.parameters["job"]["tile"]["previous"]["scene_id"] == first["scene_id"], (
        "the dependant's child got the failed tile's previous as T1"
    )
    assert len(list(world.storage.rglob("*.tif"))) == 2 * 4
    assert list(world.workdir.iterdir()) == []
    assert_domain_info_lines(logs, "jobs")

    # The workers' machines are gone: their results still read, from the shared result storage.
    for pool in ("download-pool", "processing-pool"):
        shutil.rmtree(tmp_path / f"home-{pool}")
    with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}):
        for kid in downloads:
            assert kid.state is not None
            result = read_result(kid.state)
            assert isinstance(result, JobResult) and result.provider == "local", result
    assert sorted(p.name for p in Path(env["SHARED_RESULTS"]).iterdir()), "no result in the shared storage"


def test_the_parent_deployed_on_the_orchestrator_pool_ends_failed_with_its_outcome(
    prefect_stack: dict[str, str], world_named: Callable[[str], World], tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
    )
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.outcome import summary_of

    world = world_named("DeployParent")
    env = prefect_stack | world.env
    with (
        workers(env, POOLS, tmp_path, cwd=REPO, own_homes=True),
        temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}),
    ):
        try:
            parent: FlowRun = run_deployment(  # type: ignore[assignment]  # sync call: the FlowRun itself
                "ingest/ingest",
                parameters={"payload": world.payload, "mode": "deployments", "child_timeout_s": 600},
                timeout=900,
                poll_interval=2,
            )
            with get_client(sync_client=True) as client:
                kids = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
                    ),
                    limit=200,
                )
                parent_logs = run_logs(client, [parent.id])
                kid_logs = run_logs(client, [k.id for k in kids])
                artifacts = client.read_artifacts(
                    artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[parent.id]))
                )
            summary = summary_of(parent.state) if parent.state is not None else None
        finally:
            drain_prefect_services()

    state = parent.state
    assert state is not None and state.is_failed(), state
    assert parent.work_pool_name == "orchestrator-pool"
    message = str(state.message)
    assert "scenes: 3/3 done" in message and "tiles: 2/3 done, 1 failed" in message, message
    text = "\n".join(log.message for log in parent_logs)
    assert "TypeError" not in text and "Unexpected result for failed state" not in text
    assert_domain_info_lines(parent_logs, "catalogue")  # the parent's own domain lines, at INFO
    assert_domain_info_lines(kid_logs, "jobs")
    assert {k.work_pool_name for k in kids} == {"download-pool", "processing-pool"}

    (outcome,) = [a for a in artifacts if a.key == "outcome-deployparent"]
    rows = json.loads(outcome.data) if isinstance(outcome.data, str) else outcome.data
    assert isinstance(rows, list), outcome.data
    assert_detailed_outcome(rows)
    assert summary is not None, "the parent's result (its summary) was not readable from here"
    assert [r.status.value for r in summary.rows if r.kind == "tile"] == ["DONE", "FAILED", "DONE"]
    assert len(list(world.storage.rglob("*.tif"))) == 2 * 4
    assert list(world.workdir.iterdir()) == []


def test_batches_run_on_their_pools_with_every_tile_its_own_run(
    prefect_stack: dict[str, str], world_named: Callable[[str], World], tmp_path: Path
) -> None:
    """scenes_per_child 3, tiles_per_child 2: one download-scenes run, two process-tiles runs ([A B],
    [C]); inside them each scene and tile is its own task run, and C (next batch) runs against A, past
    the failed B of the first batch."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterName

    from flows.ingest import ingest
    from flows.outcome import summary_of

    world = world_named("DeployBatches")
    payload = world.payload | {"tile_graph_name": write_graph_reading_t1_t2(tmp_path)}
    env = prefect_stack | world.env
    with parent_here_children_on_workers(env, world, tmp_path):
        try:
            state = ingest(
                payload=payload, mode="deployments", child_timeout_s=600, scenes_per_child=3,
                tiles_per_child=2, return_state=True,
            )  # fmt: skip
            summary = summary_of(state)
            with get_client(sync_client=True) as client:
                runs = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_="DeployBatches")),
                    limit=200,
                )
                tasks = client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[r.id for r in runs])),
                    limit=200,
                )
        finally:
            drain_prefect_services()

    assert state.is_failed() and "tiles: 2/3 done, 1 failed" in str(state.message), state.message
    assert summary is not None
    assert [r.status.value for r in summary.rows if r.kind == "tile"] == ["DONE", "FAILED", "DONE"]
    batches = [r for r in runs if r.name.startswith("batch ")]
    assert sorted((r.work_pool_name, r.name.split("/")[1].split()[1]) for r in batches) == [
        ("download-pool", "scenes"),
        ("processing-pool", "tiles"),
        ("processing-pool", "tiles"),
    ], [r.name for r in batches]
    pool_of = {r.id: r.work_pool_name for r in runs}
    tiles = sorted(
        (t for t in tasks if t.name.startswith("process ") and "@" in t.name), key=lambda t: t.name[-10:]
    )
    scenes = [t for t in tasks if t.name.startswith("download DeployBatches/S2")]
    assert len(tiles) == 3 and len(scenes) == 3, [t.name for t in tasks]
    assert {pool_of[t.flow_run_id] for t in tiles} == {"processing-pool"}
    assert {pool_of[t.flow_run_id] for t in scenes} == {"download-pool"}
    assert [t.state_type.value for t in tiles] == ["COMPLETED", "FAILED", "COMPLETED"]  # type: ignore[union-attr]
    assert "re-linked: previous" in next(
        r.message for r in summary.rows if r.kind == "tile" and r.date == tiles[2].name[-10:]
    )
    assert len(list(world.storage.rglob("*.tif"))) == 2 * 4
    assert list(world.workdir.iterdir()) == []
