"""The demo's ingestion in deployments mode: wall time and each child's queue-to-running time.

The demo world (``demo.setup``: 12 generated Sentinel-2 products, ``ExtractS2Bands``, a local Geocube),
ingested by the ``ingest`` flow in this process with its children on a Prefect server's work
pools (``bench.orchestration_deployments``: ``deployments/up.sh``, one process worker per pool): one
child per scene and per tile, then the same payload on a fresh world with ``BENCH_DEMO_PER_CHILD``
(default 6) scenes and tiles per child. Against it, the same demo in local mode (children in this
process). Each run's children are read back from the API: expected start -> start (the queue), start ->
end.

``python -m bench demo-deployments``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.orchestration import _quantile, child_runs


def _world(root: Path, geocube: str, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    from demo.setup import demo_environment, ensure_variables, load_demo_payload, prepare_demo
    from geocube_client.client import GeocubeClient

    prepare_demo(root)
    payload = load_demo_payload() | {"name": name}
    with GeocubeClient(geocube, insecure=True) as client:
        ensure_variables(client, payload)
    return payload, demo_environment(root, geocube)


def _run(payload: dict[str, Any], env: dict[str, str], mode: str, per_child: int) -> str:
    from flows.ingest import ingest
    from flows.outcome import summary_of

    os.environ.update(env)
    started = time.perf_counter()
    state = ingest(payload=payload, mode=mode, child_timeout_s=1800, scenes_per_child=per_child,
                   tiles_per_child=per_child, return_state=True)  # fmt: skip
    wall = time.perf_counter() - started
    summary = summary_of(state)
    headline = summary.headline() if summary is not None else str(state.message)
    kids = child_runs(state)
    queue = [q for q, _, _ in kids]
    ran = [r for _, r, _ in kids]
    what = f"{mode}, {per_child}/child"
    return (
        f"{what:<22} {wall:>7.1f} s  {len(kids):>3} child runs, queue median {_quantile(queue, 0.5):.1f} s "
        f"(p95 {_quantile(queue, 0.95):.1f} s), run median {_quantile(ran, 0.5):.1f} s | {headline}"
    )


def main() -> None:
    per_child = int(os.environ.get("BENCH_DEMO_PER_CHILD", "6"))
    print(f"demo-deployments: the demo payload in local mode, then in deployments mode one child each and "
          f"{per_child} per child (BENCH_DEMO_PER_CHILD)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        root = Path(tmp)
        os.environ.setdefault("PREFECT_HOME", str(root / "prefect"))
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        from flows.prefect_api import prepare_environment

        prepare_environment()
        from bench.orchestration_deployments import database, deployed_api
        from flows.prefect_api import ensure_prefect_api
        from geocube_client.server import start_local_server

        lines = []
        with start_local_server(db_path=root / "geocube.sqlite") as server:
            names = ("DemoLocal", "DemoDeploy1", f"DemoDeploy{per_child}")
            worlds = [_world(root / name, server.address, name) for name in names]
            ensure_prefect_api()
            lines.append(_run(*worlds[0], "local", 1))
            started = time.perf_counter()
            with deployed_api(root / "stack", worlds[1][1]) as api:
                print(f"Prefect server {api} ({database()}), deployments and 2 workers up in "
                      f"{time.perf_counter() - started:.1f} s (not counted below)")  # fmt: skip
                lines.append(_run(*worlds[1], "deployments", 1))
                lines.append(_run(*worlds[2], "deployments", per_child))
        for line in lines:
            print(line)
