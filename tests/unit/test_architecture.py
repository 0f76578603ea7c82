"""The architecture rules of DEVELOPERS.md, checked on the source: dependencies point one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# A package may import packages of a lower level only (the same level: never each other).
LAYERS = {
    "common": 0,  # errors, settings, HTTP pieces, redaction
    "geocube_client": 1,  # the Geocube: our .proto, client, data mapping, local server
    "storage": 1,
    "catalogue": 2,  # planning: models, search fallback, bursts, tiles and series, records, ledger
    "graphs": 3,  # processing graphs, engines, built-ins
    "providers": 3,  # one module per provider: search, orders, download
    "jobs": 4,  # the application: validate, plan, download a scene, process a tile, verify
    "tasks": 5,  # Prefect tasks: one use case each, with retries
    "flows": 6,  # Prefect flows and the CLI: wiring only
}
DOMAIN = [p for p, level in LAYERS.items() if level < LAYERS["tasks"]]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_packages_import_no_prefect(package: str) -> None:
    offenders = [
        str(p.relative_to(REPO)) for p in (REPO / package).rglob("*.py") if "prefect" in imports_of(p)
    ]
    assert offenders == [], f"domain code must not import prefect: {offenders}"


@pytest.mark.parametrize("package", list(LAYERS))
def test_dependencies_point_down_the_levels(package: str) -> None:
    level = LAYERS[package]
    for path in (REPO / package).rglob("*.py"):
        wrong = {m for m in imports_of(path) - {package} if m in LAYERS and LAYERS[m] >= level}
        assert not wrong, f"{path.relative_to(REPO)} imports its level or a higher one: {sorted(wrong)}"
