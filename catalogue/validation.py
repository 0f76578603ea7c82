"""Checks of a payload against the outside world, made before anything is downloaded.

- every layer resolves to a Geocube variable instance (GetVariable by instance id, or by variable name
  then instance name);
- the scene and tile graphs load, and the layers the tile graph indexes are mapped.
Problems are collected and reported together with those of :func:`catalogue.payload.parse_payload`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from catalogue.payload import Payload
from common.errors import FieldProblem, IngestError, TemporaryError, ValidationFailedError


class VariableLookup(Protocol):
    def get_variable(self, *, id: str | None = None, name: str | None = None,  # noqa: A002
                     instance_id: str | None = None) -> Any: ...


def resolve_layers(payload: Payload, geocube: VariableLookup) -> tuple[dict[str, str], list[FieldProblem]]:
    """Map each payload layer to its instance id; return (instances_id, problems)."""
    instances: dict[str, str] = {}
    problems: list[FieldProblem] = []
    for layer, spec in sorted(payload.layers.items()):
        where = f"layers.{layer}"
        try:
            if spec.instance_id:
                geocube.get_variable(instance_id=spec.instance_id)
                instances[layer] = spec.instance_id
                continue
            variable = geocube.get_variable(name=spec.variable)
        except TemporaryError:
            raise
        except IngestError as exc:
            what = f"instance_id {spec.instance_id!r}" if spec.instance_id else f"variable {spec.variable!r}"
            problems.append(FieldProblem(where, f"{what} not found in the Geocube ({exc}); create it or fix "
                                         "the name"))
            continue
        found = next((i for i in variable.instances if i.name == spec.instance), None)
        if found is None:
            known = ", ".join(sorted(i.name for i in variable.instances)) or "none"
            problems.append(FieldProblem(where, f"unknown instance {spec.instance!r} for variable "
                                         f"{spec.variable!r}; known instances: {known}"))
        else:
            instances[layer] = found.id
    return instances, problems


def indexed_layers(graph: Any) -> set[str]:
    """Layers a graph indexes (out-files with action ``to_index``), whatever its tile index."""
    return {str(o.layer) for files in graph.out_files for o in files if str(o.action) == "to_index"}


def check_graphs(payload: Payload, load_graph: Callable[[str], Any]) -> list[FieldProblem]:
    """The graphs must load; the tile graph's indexed layers should all be mapped in ``layers``."""
    problems: list[FieldProblem] = []
    for field in ("scene_graph_name", "tile_graph_name"):
        name = getattr(payload, field)
        if not name:
            continue
        try:
            graph = load_graph(name)
        except IngestError as exc:
            problems.append(FieldProblem(field, str(exc)))
            continue
        if field == "tile_graph_name":
            produced = indexed_layers(graph)
            for layer in sorted(set(payload.layers) - produced):
                problems.append(FieldProblem(
                    f"layers.{layer}", f"the tile graph {name!r} indexes no layer {layer!r}; it indexes: "
                    f"{', '.join(sorted(produced)) or 'nothing'}"))
    return problems


def raise_if_problems(problems: list[FieldProblem]) -> None:
    if problems:
        raise ValidationFailedError("payload", problems)
