"""The parent flow in ``deployments`` mode against a real Prefect server on PostgreSQL.

Started here, on 127.0.0.1, and stopped afterwards even when a test fails: PostgreSQL, a Prefect
server, the work pools, the deployments of ``prefect.yaml`` (``prefect deploy --all``), and one real
process worker on ``download-pool`` and one on ``processing-pool``. The parent runs in this process.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.flows.conftest import World, make_world
from tests.support.services import BIN, drain_prefect_services, postgres, prefect_server, workers

pytestmark = [pytest.mark.slow, pytest.mark.integration]

POOLS = ["download-pool", "processing-pool", "orchestrator-pool"]


def prefect(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "prefect"), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def prefect_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("prefect-stack")
    with postgres() as database_url, prefect_server(root / "home", database_url) as env:
        env = env | {
            "PREFECT_LOCAL_STORAGE_PATH": str(root / "results"),
            "PROJECT_DIR": str(REPO),
            "PREFECT_CLI_PROMPT": "false",
            "PREFECT_LOGGING_LEVEL": "INFO",
        }
        for pool in POOLS:
            prefect(env, "work-pool", "create", pool, "--type", "process", "--overwrite")
        out = prefect(env, "--no-prompt", "deploy", "--all")
        assert "download-scene" in out and "process-tile" in out
        yield env


@pytest.fixture
def world(tmp_path: Path, local_geocube: str) -> World:
    first = datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC)
    return make_world(
        tmp_path / "world",
        local_geocube,
        "DeployE2E",
        dates=[first + timedelta(days=10 * i) for i in range(3)],
        broken=[1],
    )


def test_children_run_on_their_pools_and_a_failed_tile_releases_its_dependants(
    prefect_stack: dict[str, str], world: World, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
    from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    from flows.ingest import ingest
    from jobs.summary import IngestionSummary

    env = prefect_stack | world.env
    with (
        workers(env, ["download-pool", "processing-pool"], tmp_path, cwd=REPO),
        pytest.MonkeyPatch.context() as mp,
    ):
        for key, value in world.env.items():
            mp.setenv(key, value)
        with temporary_settings(
            {
                PREFECT_API_URL: prefect_stack["PREFECT_API_URL"],
                PREFECT_LOCAL_STORAGE_PATH: prefect_stack["PREFECT_LOCAL_STORAGE_PATH"],
            }
        ):
            try:
                state = ingest(
                    payload=world.payload, mode="deployments", child_timeout_s=600, return_state=True
                )
                summary = IngestionSummary.model_validate(state.result(raise_on_failure=False))
                with get_client(sync_client=True) as client:
                    parent = client.read_flow_run(state.state_details.flow_run_id)
                    kids = client.read_flow_runs(
                        flow_run_filter=FlowRunFilter(
                            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
                        ),
                        limit=200,
                    )
            finally:
                drain_prefect_services()

    assert state.is_failed(), state.message
    assert "scenes: 3/3 done" in state.message and "tiles: 2/3 done, 1 failed" in state.message
    tiles = [r for r in summary.rows if r.kind == "tile"]
    assert [t.status.value for t in tiles] == ["DONE", "FAILED", "DONE"]

    downloads = [k for k in kids if k.name.startswith("download ")]
    processing = sorted((k for k in kids if k.name.startswith("process ")), key=lambda k: k.name)
    assert len(downloads) == 3 and len(processing) == 3
    assert {k.work_pool_name for k in downloads} == {"download-pool"}
    assert {k.work_pool_name for k in processing} == {"processing-pool"}
    assert [k.state.type.value for k in processing] == ["COMPLETED", "FAILED", "COMPLETED"]
    failed, dependant = processing[1], processing[2]
    assert dependant.start_time >= failed.end_time, "the dependant ran after its failed previous finished"
    assert len(list(world.storage.rglob("*.tif"))) == 2 * 4
    assert list(world.workdir.iterdir()) == []
