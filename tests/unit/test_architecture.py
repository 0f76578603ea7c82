"""The architecture rules of DEVELOPERS.md, checked on the source: dependencies point one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOMAIN = ["catalogue", "providers", "storage", "graphs", "geocube_client", "jobs", "common"]
LAYERS = {"flows": 3, "tasks": 2, **dict.fromkeys(DOMAIN, 1)}


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
def test_dependencies_point_from_flows_to_tasks_to_domain(package: str) -> None:
    level = LAYERS[package]
    for path in (REPO / package).rglob("*.py"):
        upward = {m for m in imports_of(path) if LAYERS.get(m, 0) > level}
        assert not upward, f"{path.relative_to(REPO)} imports a higher layer: {sorted(upward)}"
