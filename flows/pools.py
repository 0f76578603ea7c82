"""What the processing work pool declares it can run: the engines its graphs may use.

The parent flow validates a payload on the orchestrator pool, but the graphs run on the processing pool's
workers, which may have SNAP's ``gpt`` or a docker daemon where the orchestrator has none (and the other
way round). So the processing pool declares its engines: ``GEOCUBE_INGESTER_ENGINES`` (a comma list, e.g.
``python,cmd,snap``) in the ``env`` of its base job template, which ``deployments/up.sh`` sets from
``GEOCUBE_INGESTER_PROCESSING_ENGINES`` or, by default, from the engines found where it runs. The same
variable then reaches the workers' processes, and a worker whose declaration is wrong (``snap``
declared, no ``gpt``) still refuses the step, naming the fix (``graphs.engines.check_runnable``).

A pool without the declaration (created by hand) means "unknown": validation then checks the engines of
the machine it runs on, as before, and says so in the log.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import Any

from graphs.model import Engine

logger = logging.getLogger(__name__)

ENGINES_ENV = "GEOCUBE_INGESTER_ENGINES"
PROCESS_DEPLOYMENT = "process-tile/process-tile"


def parse_engines(raw: str, *, where: str = ENGINES_ENV) -> frozenset[str]:
    """The engine names of a comma list (python and cmd are always there: they need nothing).

    Raises:
        ValueError: an unknown engine name, with the known ones.
    """
    names = {part.strip().lower() for part in raw.split(",") if part.strip()}
    known = {e.value for e in Engine}
    unknown = sorted(names - known)
    if unknown:
        raise ValueError(
            f"{where}: unknown engine(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return frozenset(names | {Engine.PYTHON.value, Engine.CMD.value})


def engines_of_template(template: Mapping[str, Any]) -> frozenset[str] | None:
    """The engines a base job template declares in its ``env`` default, or None when it declares none."""
    properties = template.get("variables", {}).get("properties", {})
    env = properties.get("env", {}).get("default") if isinstance(properties, Mapping) else None
    raw = env.get(ENGINES_ENV) if isinstance(env, Mapping) else None
    if not isinstance(raw, str) or not raw.strip():
        return None
    return parse_engines(raw, where=f"the processing pool's {ENGINES_ENV}")


def declare_engines(template: Mapping[str, Any], engines: frozenset[str]) -> dict[str, Any]:
    """A copy of a process work pool's base job template whose ``env`` default declares ``engines``."""
    out: dict[str, Any] = json.loads(json.dumps(template))
    env = out.setdefault("variables", {}).setdefault("properties", {}).setdefault("env", {})
    env["default"] = {**(env.get("default") or {}), ENGINES_ENV: ",".join(sorted(engines))}
    return out


def processing_engines() -> frozenset[str] | None:
    """The engines the processing pool (the one ``process-tile`` runs on) declares; None when it declares
    none or cannot be read (validation then checks this machine's engines)."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(PROCESS_DEPLOYMENT)
            pool_name = deployment.work_pool_name
            if not pool_name:
                return None
            pool = client.read_work_pool(pool_name)
        except ObjectNotFound:
            logger.info("no %s deployment: checking the graphs' engines on this machine", PROCESS_DEPLOYMENT)
            return None
    engines = engines_of_template(pool.base_job_template)
    if engines is None:
        logger.info(
            "work pool %s declares no %s: checking the graphs' engines on this machine (deployments/up.sh "
            "declares them)",
            pool_name,
            ENGINES_ENV,
        )
    else:
        logger.info("work pool %s declares the engines %s", pool_name, ", ".join(sorted(engines)))
    return engines


def main(argv: list[str]) -> int:
    """``python -m flows.pools declare ENGINES < default-template.json``: the template that declares them
    (used by deployments/up.sh)."""
    if len(argv) != 2 or argv[0] != "declare":
        sys.stderr.write("usage: python -m flows.pools declare ENGINES < template.json\n")
        return 2
    try:
        engines = parse_engines(argv[1], where="GEOCUBE_INGESTER_PROCESSING_ENGINES")
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    json.dump(declare_engines(json.load(sys.stdin), engines), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
