"""Batches of jobs in one child run (``jobs.batches``): cutting, in-batch re-linking, upstream outcomes.
No Prefect."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalogue.models import Tile
from catalogue.relink import Links, Outcome
from jobs.batches import (
    BatchResult,
    ItemOutcome,
    TileBatch,
    cut,
    failed_scenes,
    run_tile_batch,
    upstream_outcomes,
)
from jobs.models import JobResult, JobStatus, SceneRef, TileJob
from jobs.stash import JobRef, job_parameters, load_job
from tests.unit.catalogue.test_relink import s2_scene, series


def jobs_of(tiles: list[Tile]) -> list[TileJob]:
    return [
        TileJob(aoi="A", scene=SceneRef.of(s2_scene(10 * i)), tile=t, graph_name="G", storage_uri="/s")
        for i, t in enumerate(tiles)
    ]


def test_cut_keeps_the_order_and_refuses_a_size_below_one() -> None:
    assert cut([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert cut([], 3) == []
    with pytest.raises(ValueError, match="at least 1"):
        cut([1], 0)


class Runner:
    """Runs tile jobs, failing the named ones; records the links each was run with."""

    def __init__(self, failing: set[str]) -> None:
        self.failing, self.seen = failing, {}

    def __call__(self, job: TileJob) -> JobResult:
        self.seen[job.tile.key] = Links.of(job.tile)
        if job.tile.key in self.failing:
            raise RuntimeError(f"broken {job.tile.source_id}")
        return JobResult(status=JobStatus.DONE, message="ok")


def test_a_failure_inside_a_batch_re_links_the_tiles_after_it() -> None:
    _, b, c, d = chain = series(4)
    runner = Runner({b.key})
    result = run_tile_batch(
        TileBatch(aoi="A", storage_uri="/s", jobs=jobs_of(chain), reads_links=True), runner
    )
    assert [result.items[t.key].done for t in chain] == [True, False, True, True]
    assert runner.seen[c.key] == Links(previous=b.previous, reference=b.reference)  # A, A
    assert runner.seen[d.key] == Links.of(d)  # C is DONE: as planned
    assert "re-linked: previous" in result.items[c.key].result.message  # type: ignore[union-attr]
    assert "broken" in result.items[b.key].error and result.items[b.key].links == Links.of(b)


def test_an_upstream_batch_that_did_not_complete_counts_as_failed_not_done() -> None:
    a, b, c = series(3)
    # [A] crashed (no BatchResult), [B C] runs: B must not be run against A as if A were DONE.
    upstream = upstream_outcomes([RuntimeError("crashed")], [a.key])
    assert upstream == {a.key: Outcome(done=False)}
    runner = Runner(set())
    run_tile_batch(
        TileBatch(aoi="A", storage_uri="/s", jobs=jobs_of([b, c]), reads_links=True, upstream=upstream),
        runner,
    )
    assert runner.seen[b.key] == Links(previous=None, reference=None), "B becomes the root"
    assert runner.seen[c.key] == Links(previous=c.previous, reference=c.previous), "B is its reference"


def test_a_graph_that_reads_no_links_is_run_as_planned_and_a_missing_download_is_named() -> None:
    a, b = chain = series(2)
    runner = Runner({a.key})
    scenes = failed_scenes(
        [BatchResult(items={s2_scene(10).source_id: ItemOutcome(error="gone from every provider")})],
        {s2_scene(10).source_id: "A/1 scene"},
    )
    result = run_tile_batch(
        TileBatch(aoi="A", storage_uri="/s", jobs=jobs_of(chain), reads_links=False, failed_scenes=scenes),
        runner,
    )
    assert list(runner.seen) == [a.key], "B's scene was not downloaded: B is not run"
    assert "not downloaded (gone from every provider)" in result.items[b.key].error
    assert failed_scenes([ValueError("batch lost")], {"S": "A/1 scene"}) == {
        "S": "download batch A/1 scene did not complete: batch lost"
    }


def test_a_batch_too_large_for_parameters_travels_by_reference(tmp_path: Path) -> None:
    chain = series(2)
    jobs = jobs_of(chain) * 600  # ~600 KB of JSON: past the parameter budget
    batch = TileBatch(aoi="A", storage_uri=str(tmp_path), jobs=jobs, reads_links=True)
    parameters = job_parameters(batch, aoi="A", item=batch.label, storage_uri=str(tmp_path))
    assert set(parameters) == {"job_ref"}
    ref = JobRef.model_validate(parameters["job_ref"])
    assert load_job(ref, TileBatch) == batch
