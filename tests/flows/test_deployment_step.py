"""The build step of prefect.yaml and the log levels of the flows, without workers.

The deployments test (test_ingest_deployments.py) runs both for real: ``prefect deploy`` on a Prefect
server, the workers' runs and their logs read back from the API.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.filesystems import LocalFileSystem, RemoteFileSystem

from flows.deployment import (
    RESULTS_BLOCK,
    DeploymentSetupError,
    ensure_result_storage,
    project_directory,
    result_storage_for,
    results_location,
)
from flows.logs import route_domain_logs
from tests.conftest import REPO


def test_the_project_folder_is_where_deploy_runs_or_project_dir(tmp_path: Path) -> None:
    assert project_directory({}, REPO) == str(REPO)
    assert project_directory({"PROJECT_DIR": "/srv/geocube-ingester"}, tmp_path) == "/srv/geocube-ingester"
    with pytest.raises(DeploymentSetupError, match=r"no flows/ingest.py: run it from the project folder"):
        project_directory({}, tmp_path)
    for wrong in ("{{ $PROJECT_DIR }}", "relative/dir"):
        with pytest.raises(DeploymentSetupError, match="PROJECT_DIR="):
            project_directory({"PROJECT_DIR": wrong}, REPO)


def test_results_go_to_the_results_uri_or_the_storage() -> None:
    assert results_location({}) is None
    assert (
        results_location({"GEOCUBE_INGESTER_STORAGE_URI": "/data/geocube/"})
        == "/data/geocube/.prefect-results"
    )
    both = {"GEOCUBE_INGESTER_STORAGE_URI": "s3://b/p", "GEOCUBE_INGESTER_RESULTS_URI": "/mnt/results"}
    assert results_location(both) == "/mnt/results"


def test_a_path_is_a_local_block_a_url_a_remote_one(tmp_path: Path) -> None:
    local = result_storage_for(str(tmp_path))
    assert isinstance(local, LocalFileSystem) and local.basepath == str(tmp_path)
    assert result_storage_for(f"file://{tmp_path}") == local
    remote = result_storage_for("memory://bucket/results")  # any fsspec URL here
    assert isinstance(remote, RemoteFileSystem) and remote.basepath == "memory://bucket/results"
    with pytest.raises(DeploymentSetupError, match="relative path"):
        result_storage_for("results")
    with pytest.raises(DeploymentSetupError, match="no fsspec file system for nosuchfs://"):
        result_storage_for("nosuchfs://bucket/results")


@pytest.mark.slow  # a Prefect API: about 20 s to start
@pytest.mark.usefixtures("prefect_api")
def test_the_block_is_saved_then_kept_without_a_location(tmp_path: Path) -> None:
    from prefect.exceptions import ObjectNotFound

    for kind in (LocalFileSystem, RemoteFileSystem):  # none yet, whatever ran before in this session
        with contextlib.suppress(ObjectNotFound, ValueError):
            kind.delete(RESULTS_BLOCK)
    with pytest.raises(DeploymentSetupError, match="set GEOCUBE_INGESTER_STORAGE_URI"):
        ensure_result_storage(None)
    assert ensure_result_storage(str(tmp_path / "results")) == f"local-file-system/{RESULTS_BLOCK}"
    assert ensure_result_storage(None) == f"local-file-system/{RESULTS_BLOCK}"
    saved: LocalFileSystem = LocalFileSystem.load(RESULTS_BLOCK)  # type: ignore[assignment]
    assert saved.basepath == str(tmp_path / "results")
    saved.write_path("probe", b"x")  # written where a worker's results go
    assert (tmp_path / "results" / "probe").read_bytes() == b"x"


@pytest.fixture
def loose_loggers() -> Iterator[list[str]]:
    names = ["catalogue", "jobs"]
    kept = {n: logging.getLogger(n).level for n in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield names
    for name, level in kept.items():
        logging.getLogger(name).setLevel(level)


def test_the_extra_loggers_get_prefect_s_level_not_root_s(loose_loggers: list[str]) -> None:
    """Prefect gives PREFECT_LOGGING_EXTRA_LOGGERS its API handler only: their level came from root
    (WARNING), which dropped every INFO line before it reached the handler."""
    from prefect.settings import PREFECT_LOGGING_EXTRA_LOGGERS, PREFECT_LOGGING_LEVEL, temporary_settings

    logging.getLogger("jobs").setLevel(logging.DEBUG)  # a level of its own is kept
    with temporary_settings({PREFECT_LOGGING_EXTRA_LOGGERS: "catalogue,jobs", PREFECT_LOGGING_LEVEL: "INFO"}):
        assert route_domain_logs() == ["catalogue"]
    assert logging.getLogger("catalogue").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("catalogue.records").isEnabledFor(logging.INFO)
    assert logging.getLogger("jobs").level == logging.DEBUG
