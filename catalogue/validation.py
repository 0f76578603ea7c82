"""Checks of a payload against the outside world, made before anything is downloaded.

- every layer resolves to a Geocube variable instance (GetVariable by instance id, or by variable name
  then instance name);
- the scene and tile graphs load, and every payload layer is one the tile graph indexes.
These run even when the payload has other problems, so that every problem is reported at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pydantic import ValidationError

from catalogue.payload import LayerSpec, Payload, parse_payload
from common.errors import FieldProblem, IngestError, TemporaryError, ValidationFailedError


class VariableLookup(Protocol):
    def get_variable(
        self,
        *,
        id: str | None = None,
        name: str | None = None,
        instance_id: str | None = None,
    ) -> Any: ...


def resolve_layers(
    layers: Mapping[str, LayerSpec], geocube: VariableLookup
) -> tuple[dict[str, str], list[FieldProblem]]:
    """Map each layer to its instance id; return (instances_id, problems)."""
    instances: dict[str, str] = {}
    problems: list[FieldProblem] = []
    for layer, spec in sorted(layers.items()):
        where = f"layers.{layer}"
        if not spec.instance_id and not (spec.variable and spec.instance):
            continue  # parse_payload reports it
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
            problems.append(
                FieldProblem(where, f"{what} not found in the Geocube ({exc}); create it or fix the name")
            )
            continue
        found = variable.find_instance(spec.instance)
        if found is None:
            known = ", ".join(sorted(i.name for i in variable.instances)) or "none"
            problems.append(
                FieldProblem(
                    where,
                    f"unknown instance {spec.instance!r} for variable "
                    f"{spec.variable!r}; known instances: {known}",
                )
            )
        else:
            instances[layer] = found.id
    return instances, problems


def indexed_layers(graph: Any) -> set[str]:
    """Layers a graph indexes (out-files with action ``to_index``), whatever its tile index."""
    return {str(o.layer) for files in graph.out_files for o in files if str(o.action) == "to_index"}


def check_graphs(
    graph_names: Mapping[str, str], layers: Mapping[str, LayerSpec], load_graph: Callable[[str], Any]
) -> list[FieldProblem]:
    """The graphs must load; every payload layer must be one that the tile graph indexes."""
    problems: list[FieldProblem] = []
    for field, name in graph_names.items():
        if not name:
            continue
        try:
            graph = load_graph(name)
        except IngestError as exc:
            problems.append(FieldProblem(field, str(exc)))
            continue
        if field == "tile_graph_name":
            produced = indexed_layers(graph)
            for layer in sorted(set(layers) - produced):
                problems.append(
                    FieldProblem(
                        f"layers.{layer}",
                        f"the tile graph {name!r} indexes no layer {layer!r}; it indexes: "
                        f"{', '.join(sorted(produced)) or 'nothing'}",
                    )
                )
    return problems


def _lenient_parts(raw: Any) -> tuple[dict[str, str], dict[str, LayerSpec]]:
    """Graph names and layers of a payload that failed to parse, as far as they can be read."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return {}, {}
    if not isinstance(raw, dict):
        return {}, {}
    lowered = {str(k).lower(): v for k, v in raw.items()}
    names = {
        f: lowered[f] for f in ("scene_graph_name", "tile_graph_name") if isinstance(lowered.get(f), str)
    }
    layers: dict[str, LayerSpec] = {}
    for layer, spec in (
        (lowered.get("layers") or {}).items() if isinstance(lowered.get("layers"), dict) else ()
    ):
        try:
            layers[str(layer)] = LayerSpec.model_validate(spec)
        except ValidationError:
            continue
    return names, layers


def validate_payload(
    raw: dict[str, Any] | str, *, load_graph: Callable[[str], Any], geocube: VariableLookup | None
) -> tuple[Payload, dict[str, str]]:
    """Parse and check a payload; return it with its layers' instance ids.

    ``geocube=None`` skips the layer checks (the CLI without GEOCUBE_SERVER).

    Raises:
        ValidationFailedError: listing every problem found, each naming its field and the fix.
    """
    payload: Payload | None = None
    problems: list[FieldProblem] = []
    try:
        payload = parse_payload(raw)
        names = {"scene_graph_name": payload.scene_graph_name, "tile_graph_name": payload.tile_graph_name}
        layers: Mapping[str, LayerSpec] = payload.layers
    except ValidationFailedError as exc:
        problems.extend(exc.problems)
        names, layers = _lenient_parts(raw)
    problems.extend(check_graphs(names, layers, load_graph))
    instances: dict[str, str] = {}
    if geocube is not None:
        instances, layer_problems = resolve_layers(layers, geocube)
        problems.extend(layer_problems)
    if problems or payload is None:
        raise ValidationFailedError("payload", problems)
    return payload, instances
