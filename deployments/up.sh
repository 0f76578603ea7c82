#!/usr/bin/env bash
# Create the work pools, the account limits and the result storage block, and register the deployments
# of prefect.yaml, non-interactively:
#   PREFECT_API_URL=http://127.0.0.1:4200/api GEOCUBE_INGESTER_STORAGE_URI=/data/geocube deployments/up.sh
# The result storage every pool and the parent share is GEOCUBE_INGESTER_RESULTS_URI when set (a path all
# workers mount, or an fsspec URL: s3://bucket/prefix with s3fs on every worker), else the folder
# .prefect-results of GEOCUBE_INGESTER_STORAGE_URI; the Prefect block geocube-ingester-results points to
# it (flows/deployment.py, the build step of prefect.yaml, saves it). PROJECT_DIR, when set, is the
# project's path on the workers (default: this folder).
# Then start one worker per pool (each in its own terminal or service unit, with the ingester settings
# GEOCUBE_SERVER, GEOCUBE_INGESTER_STORAGE_URI, ... in its environment):
#   prefect worker start --pool download-pool
#   prefect worker start --pool processing-pool
#   prefect worker start --pool orchestrator-pool
# Do not start workers with `&` from a script: they inherit SIGINT as ignored and never stop gracefully
# (prefect-notes.md); the tests start theirs in a new session instead (tests/support/services.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PREFECT="${PREFECT:-.venv/bin/prefect}"
: "${PREFECT_API_URL:?set PREFECT_API_URL to your Prefect server, e.g. http://127.0.0.1:4200/api}"
for pool in download-pool orchestrator-pool; do
  "$PREFECT" work-pool create "$pool" --type process --overwrite >/dev/null
  echo "work pool $pool ready"
done
# The processing pool declares the engines its workers have (flows/pools.py): the parent validates the
# graphs against them. GEOCUBE_INGESTER_PROCESSING_ENGINES (e.g. python,cmd,snap) when the processing
# workers run elsewhere; by default the engines found here.
engines="${GEOCUBE_INGESTER_PROCESSING_ENGINES:-$(.venv/bin/python -c 'from graphs.engines import available_engines; print(",".join(sorted(e.value for e in available_engines())))')}"
template="$(mktemp)"
trap 'rm -f "$template"' EXIT
"$PREFECT" work-pool get-default-base-job-template --type process \
  | .venv/bin/python -m flows.pools declare "$engines" >"$template"
"$PREFECT" work-pool create processing-pool --type process --base-job-template "$template" --overwrite >/dev/null
echo "work pool processing-pool ready (engines: $engines)"
# One global concurrency limit per download account, its downloads at once: CDSE 4, Creodias 4, DHuS 2.
for entry in "cdse:4:${GEOCUBE_INGESTER_CDSE_USERNAME:-}" "creodias:4:${GEOCUBE_INGESTER_CREODIAS_USERNAME:-}" \
             "dhus:2:${GEOCUBE_INGESTER_DHUS_USER:-}"; do
  IFS=: read -r provider slots user <<<"$entry"
  [ -n "$user" ] || continue
  limit="$(.venv/bin/python -c 'import sys; from providers.tokens import account_limit_name; print(account_limit_name(*sys.argv[1:]))' "$provider" "$user")"
  "$PREFECT" gcl create "$limit" --limit "$slots" >/dev/null 2>&1 || "$PREFECT" gcl update "$limit" --limit "$slots" >/dev/null
  echo "global concurrency limit $limit: $slots"
done
# The build step of prefect.yaml checks the folder and saves the result storage block before anything is
# registered: a deploy it refuses changes nothing.
# Runs whose worker died (SIGKILL, a machine lost) are set Crashed after 300 s without a heartbeat.
.venv/bin/python -m flows.zombies ensure
"$PREFECT" --no-prompt deploy --all </dev/null
