#!/usr/bin/env bash
# Create the work pools, register the deployments of prefect.yaml and start one process worker per pool.
#   PREFECT_API_URL=http://127.0.0.1:4200/api deployments/up.sh          # workers in the foreground
# The workers read the ingester settings (GEOCUBE_SERVER, GEOCUBE_INGESTER_STORAGE_URI, ...) from this
# environment. Stop them with one Ctrl-C (or one SIGTERM to this script).
set -euo pipefail
# Job control: a worker started with & from a non-interactive shell would ignore SIGINT and never stop
# gracefully (prefect-notes.md).
set -m
cd "$(dirname "$0")/.."
PREFECT="${PREFECT:-.venv/bin/prefect}"
: "${PREFECT_API_URL:?set PREFECT_API_URL to your Prefect server, e.g. http://127.0.0.1:4200/api}"
for pool in download-pool processing-pool orchestrator-pool; do
  "$PREFECT" work-pool create "$pool" --type process --overwrite >/dev/null
done
PROJECT_DIR="$PWD" "$PREFECT" --no-prompt deploy --all </dev/null
pids=()
for pool in download-pool processing-pool orchestrator-pool; do
  "$PREFECT" worker start --pool "$pool" --limit "${WORKER_LIMIT:-4}" &
  pids+=($!)
done
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' INT TERM
wait
