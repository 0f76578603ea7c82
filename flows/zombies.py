"""Zombie flow runs: a run whose process died with its worker (SIGKILL, the OOM killer, a machine lost)
reports no end, and without help stays Running for ever. A worker that outlives its run reports the
crash itself; this covers the runs nobody is left to report.

Two parts, both needed (Prefect's "Detect Zombie Flows", docs.prefect.io/v3/advanced/detect-zombie-flows):

- every flow run sends a ``prefect.flow-run.heartbeat`` event every ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``
  seconds (at least 30; 180 by default in Prefect 3.9): the deployments set ``HEARTBEAT_S`` in their
  job variables (prefect.yaml);
- this automation, on the server: after a run of one of our flows went Pending or Running, or sent a
  heartbeat, it expects a heartbeat, Running, or the run's end (Completed, Failed, Cancelled, Crashed)
  within ``WITHIN_S``; otherwise it sets the run Crashed. Watching from Pending catches the runs whose
  process died before their first heartbeat and whose worker could not report it. ``WITHIN_S``
  leaves room for a run that kept Prefect's default frequency (a local run started by hand) to miss
  nothing.

Only our flows (``FLOW_NAMES``, matched by the flow a heartbeat relates to) are watched: the other
flows of a shared server may heartbeat less often. ``python -m flows.zombies ensure`` creates the
automation or brings it up to date, by name (``deployments/up.sh`` runs it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

NAME = "geocube-ingester-crash-zombie-runs"
FLOW_NAMES = ("ingest", "download-scene", "process-tile", "download-scenes", "process-tiles")
HEARTBEAT_S = 60  # PREFECT_FLOWS_HEARTBEAT_FREQUENCY of the deployments' runs
WITHIN_S = 300.0  # 5 heartbeats of ours missed; 1 of Prefect's default 180 s, with 120 s to spare
MIN_HEARTBEAT_S = 30  # Prefect's floor of PREFECT_FLOWS_HEARTBEAT_FREQUENCY
ENDS = ("Completed", "Failed", "Cancelled", "Crashed")
STARTS = ("Pending", "Running")  # a run's process is up (or starting) from these on


def zombie_automation(
    *, within_s: float = WITHIN_S, flow_names: Sequence[str] = FLOW_NAMES, name: str = NAME
) -> AutomationCore:
    """The automation that sets Crashed a run of ``flow_names`` silent for ``within_s`` after a heartbeat.

    Raises:
        ValueError: ``within_s`` not above twice the shortest heartbeat period (a live run would be
            crashed between two heartbeats), or no flow name.
    """
    if within_s < 2 * MIN_HEARTBEAT_S:
        raise ValueError(
            f"within_s {within_s:g}: must be at least {2 * MIN_HEARTBEAT_S} s (twice the shortest "
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY), or live runs would be crashed between two heartbeats"
        )
    if not flow_names:
        raise ValueError("flow_names: name at least one flow to watch")
    return AutomationCore(
        name=name,
        description=(
            f"Sets Crashed a run of {', '.join(flow_names)} that sent no heartbeat and no end for "
            f"{within_s:g} s: its process died with its worker (flows/zombies.py)."
        ),
        trigger=EventTrigger(
            # from its start too, not only from its first heartbeat: a run whose process died before
            # its first beat (e.g. its engine got a 500 while the server's database restarted, and the
            # worker could not report the crash either) would otherwise be watched by nobody
            after={"prefect.flow-run.heartbeat", *(f"prefect.flow-run.{start}" for start in STARTS)},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Running",
                *(f"prefect.flow-run.{end}" for end in ENDS),
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            match_related=ResourceSpecification(
                {"prefect.resource.role": "flow", "prefect.resource.name": list(flow_names)}
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=within_s),
        ),
        actions=[
            ChangeFlowRunState(
                name=None,
                force=False,  # never over an end reached meanwhile
                state=StateType.CRASHED,
                message=(
                    f"no heartbeat for {within_s:g} s: the run's process died with its worker (killed, "
                    "or its machine lost)"
                ),
            )
        ],
    )


def ensure_zombie_automation(
    *, within_s: float = WITHIN_S, flow_names: Sequence[str] = FLOW_NAMES, name: str = NAME
) -> tuple[UUID, str]:
    """Create the automation on the server of PREFECT_API_URL, or update the one of that name;
    return its id and what was done (``created``, ``updated``, ``unchanged``)."""
    wanted = zombie_automation(within_s=within_s, flow_names=flow_names, name=name)
    fields = {"description", "trigger", "actions", "enabled"}
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(name)
        if not existing:
            return client.create_automation(wanted), "created"
        if existing[0].model_dump(include=fields) == wanted.model_dump(include=fields):
            return existing[0].id, "unchanged"
        client.update_automation(existing[0].id, wanted)
        return existing[0].id, "updated"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.zombies", description="Crash the flow runs whose heartbeats stopped."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    ensure = commands.add_parser("ensure", help="create or update the automation (PREFECT_API_URL)")
    ensure.add_argument("--within-s", type=float, default=WITHIN_S, help=f"default {WITHIN_S:g}")
    args = parser.parse_args(argv)
    try:
        _, done = ensure_zombie_automation(within_s=args.within_s)
    except ValueError as exc:
        parser.error(str(exc))
    sys.stdout.write(
        f"automation {NAME} {done}: a run of {', '.join(FLOW_NAMES)} silent for "
        f"{args.within_s:g} s is set Crashed (runs heartbeat every PREFECT_FLOWS_HEARTBEAT_FREQUENCY s)\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
