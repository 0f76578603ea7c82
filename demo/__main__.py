"""`make demo`: a real ingestion, offline, on embedded defaults.

Generates a Sentinel-2-like archive with its STAC catalogue, starts a local Geocube server, runs the
``ingest`` flow (Prefect's ephemeral API, children as local subflows), then prints the outcome table,
where the COGs are and what the Geocube indexed, and ends with the read-back: every indexed layer through
GetCube against its file (``geocube-ingester verify``), and one quicklook PNG per date made from the
Geocube's answers.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(os.environ.get("GEOCUBE_INGESTER_DEMO_DIR", ".demo")).resolve()

NEXT_STEPS = """
Same thing against CDSE and a real Geocube:
  export GEOCUBE_SERVER=geocube.example.com:443 GEOCUBE_APIKEY=...      # your Geocube (TLS by default)
  export GEOCUBE_INGESTER_CATALOGUES=cdse GEOCUBE_INGESTER_STORAGE_URI=/data/geocube
  export GEOCUBE_INGESTER_PROVIDERS=cdse,url                           # downloads from CDSE, with
  export GEOCUBE_INGESTER_CDSE_USERNAME=... GEOCUBE_INGESTER_CDSE_PASSWORD=...    # your CDSE account
  .venv/bin/geocube-ingester validate my-payload.json
  .venv/bin/geocube-ingester ingest my-payload.json                     # or: prefect deploy --all (README)
"""


def main() -> int:
    os.environ.setdefault("PREFECT_HOME", str(ROOT / "prefect"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from flows.prefect_api import prepare_environment

    prepare_environment()  # a start-up wait fit for a busy machine, before prefect is imported
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    for sub in ("archive", "stac", "storage", "work", "geocube", "quicklooks"):
        shutil.rmtree(ROOT / sub, ignore_errors=True)

    from demo.setup import (
        apply_environment,
        demo_environment,
        ensure_variables,
        load_demo_payload,
        prepare_demo,
    )
    from geocube_client.client import GeocubeClient
    from geocube_client.server import start_local_server

    prepare_demo(ROOT)
    (ROOT / "geocube").mkdir(parents=True, exist_ok=True)
    payload = load_demo_payload()
    with start_local_server(db_path=ROOT / "geocube" / "geocube.sqlite") as server:
        apply_environment(demo_environment(ROOT, server.address))
        with GeocubeClient(server.address, insecure=True) as client:
            ensure_variables(client, payload)
        print(f"local Geocube on {server.address}; archive of generated products in {ROOT / 'archive'}")
        print(f"ingesting AOI {payload['name']} ({payload['start_time']} .. {payload['end_time']}) ...")

        from flows.prefect_api import PrefectApiUnavailableError, ensure_prefect_api

        try:
            ensure_prefect_api()
        except PrefectApiUnavailableError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

        from flows.ingest import ingest
        from flows.outcome import summary_of
        from jobs.summary import IngestionSummary

        state = ingest(payload=payload, mode="local", return_state=True)
        summary = summary_of(state) or IngestionSummary(aoi=payload["name"], mode="local")
        print()
        print(summary.table())
        print()
        print(summary.headline())
        cogs = sorted((ROOT / "storage").rglob("*.tif"))
        print(f"\n{len(cogs)} COG layers in {ROOT / 'storage'} (open them in any GIS):")
        for cog in cogs:
            print(f"  {cog.relative_to(ROOT / 'storage')}")
        with GeocubeClient(server.address, insecure=True) as client:
            containers = client.get_containers([str(c) for c in cogs]) if cogs else []
        indexed = sum(len(c.datasets) for c in containers)
        print(f"\n{indexed} datasets indexed in the local Geocube ({ROOT / 'geocube' / 'geocube.sqlite'})")
        leftovers = list((ROOT / "work").iterdir())
        print(f"temporary files left in {ROOT / 'work'}: {len(leftovers)}")

        from jobs.verify import verify_aoi, write_quicklooks
        from storage import open_storage

        print(f"\nread-back (geocube-ingester verify {payload['name']}):")
        with GeocubeClient(server.address, insecure=True) as client:
            report = verify_aoi(client, open_storage(str(ROOT / "storage")), payload["name"])
        for check in report.checks:
            print(f"  {check.line()}")
        print(report.headline())
        for png in write_quicklooks(report, ROOT / "quicklooks", rgb=("B04", "B03", "B02")):
            print(f"quicklook from the Geocube's answer: {png}")
    print(NEXT_STEPS)
    print(f"demo wall time: {time.monotonic() - started:.1f} s")
    return 0 if state.is_completed() and not leftovers and report.all_equal else 1


if __name__ == "__main__":
    sys.exit(main())
