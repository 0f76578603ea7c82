"""Checks of a payload against the outside world, made before anything is downloaded.

- every layer resolves to a Geocube variable instance (GetVariable by instance id, or by variable name
  then instance name);
- the scene and tile graphs load, and every payload layer is one the tile graph indexes;
- every step of both graphs uses an engine available where processing runs: the engines the processing
  pool declares (``engines``, read by the parent from the pool's ``GEOCUBE_INGESTER_ENGINES``), else
  those found here (``graphs.check_runnable``: ``gpt`` for snap, the docker CLI for docker); unless
  ``require_engines`` is off (``plan`` needs no engine: the problem is then a warning);
- every layer's data mapping (the out-file's ``dformat_out``, real range and exponent) survives the cast
  into its variable's format that a Geocube applies when it serves a cube (``geocube_client.mapping``):
  a mapping that loses the data is a problem naming the variable format to create or the mapping to set;
  one that only loses precision is a warning (logged).
These run even when the payload has other problems, so that every problem is reported at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pydantic import ValidationError

from common.errors import FieldProblem, IngestError, TemporaryError, ValidationFailedError
from common.jsonload import load_json
from geocube_client.errors import GeocubeInvalidArgumentError
from geocube_client.mapping import (
    DataMapping,
    check_mapping,
    describe_format,
    is_identity,
    suggested_variable,
)
from geocube_client.models import Variable, is_uuid
from graphs.dem import check_dem_setup, graph_needs_dem
from graphs.engines import check_runnable
from graphs.errors import GraphError
from graphs.execute import declared_dformat
from jobs.payload import LayerSpec, Payload, parse_payload

logger = logging.getLogger(__name__)


class VariableLookup(Protocol):
    def get_variable(
        self,
        *,
        id: str | None = None,
        name: str | None = None,
        instance_id: str | None = None,
    ) -> Any: ...


def _malformed_id(where: str, instance_id: str) -> FieldProblem:
    return FieldProblem(
        f"{where}.instance_id",
        f"{instance_id!r} is malformed: a Geocube instance id is a UUID (e.g. "
        "'7b0c3e2a-5a4f-4c2e-9d51-1f0e2b6c9a10'); copy it from the variable's instances, or give "
        "'variable' and 'instance' names instead",
    )


def resolve_layers(
    layers: Mapping[str, LayerSpec], geocube: VariableLookup
) -> tuple[dict[str, str], list[FieldProblem], dict[str, Variable]]:
    """Map each layer to its instance id; return (instances_id, problems, variables by layer)."""
    instances: dict[str, str] = {}
    variables: dict[str, Variable] = {}
    problems: list[FieldProblem] = []
    for layer, spec in sorted(layers.items()):
        where = f"layers.{layer}"
        if not spec.instance_id and not (spec.variable and spec.instance):
            continue  # parse_payload reports it
        if spec.instance_id and not is_uuid(spec.instance_id):
            problems.append(_malformed_id(where, spec.instance_id))
            continue
        try:
            if spec.instance_id:
                variables[layer] = geocube.get_variable(instance_id=spec.instance_id)
                instances[layer] = spec.instance_id
                continue
            variable = geocube.get_variable(name=spec.variable)
        except TemporaryError:
            raise
        except GeocubeInvalidArgumentError as exc:
            if spec.instance_id:
                problems.append(_malformed_id(where, spec.instance_id))
            else:
                problems.append(FieldProblem(f"{where}.variable", f"{spec.variable!r} is refused: {exc}"))
            continue
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
            variables[layer] = variable
    return instances, problems, variables


def indexed_layers(graph: Any) -> set[str]:
    """Layers a graph indexes (out-files with action ``to_index``), whatever its tile index."""
    return {str(o.layer) for files in graph.out_files for o in files if str(o.action) == "to_index"}


def check_declared_engines(graph: Any, engines: frozenset[str]) -> None:
    """Check that every step of ``graph`` uses one of the ``engines`` the processing pool declares.

    Raises:
        GraphError: naming each step whose engine the pool does not declare, and the fix.
    """
    problems = [
        f"processing_steps[{i}] ({step.engine.value} {step.command}): the processing pool declares the "
        f"engines {', '.join(sorted(engines)) or 'none'} (GEOCUBE_INGESTER_ENGINES in its base job "
        f"template), not '{step.engine.value}': install it on the processing workers and declare it "
        f"(deployments/up.sh, GEOCUBE_INGESTER_PROCESSING_ENGINES), or use a graph without it"
        for i, step in enumerate(graph.processing_steps)
        if step.engine.value not in engines
    ]
    if problems:
        raise GraphError(f"graph {graph.source}: " + "; ".join(problems))


def check_graphs(
    graph_names: Mapping[str, str],
    layers: Mapping[str, LayerSpec],
    load_graph: Callable[[str], Any],
    *,
    require_engines: bool = True,
    engines: frozenset[str] | None = None,
) -> tuple[list[FieldProblem], Any]:
    """The graphs must load and (``require_engines``) find their engines where processing runs (the
    declared ``engines``, else this machine's); every payload layer must be one that the tile graph
    indexes.

    Returns the problems and the tile graph (None when it did not load).
    """
    problems: list[FieldProblem] = []
    tile_graph = None
    for field, name in graph_names.items():
        if not name:
            continue
        try:
            graph = load_graph(name)
        except IngestError as exc:
            problems.append(FieldProblem(field, str(exc)))
            continue
        try:
            if engines is None:
                check_runnable(graph)
            else:
                check_declared_engines(graph, engines)
        except IngestError as exc:
            if require_engines:
                problems.append(FieldProblem(field, str(exc)))
            else:
                logger.warning("%s: %s (processing will need it)", field, exc)
        if field == "tile_graph_name" and engines is None and require_engines and graph_needs_dem(graph):
            try:  # processing runs here (local mode): its DEM and geoid grid must be here too
                check_dem_setup()
            except IngestError as exc:
                problems.append(FieldProblem(field, f"graph {name!r} reads a DEM: {exc}"))
        if field == "tile_graph_name":
            tile_graph = graph
            for layer, reason in sorted(getattr(graph, "unavailable_layers", {}).items()):
                if layer in layers:
                    logger.warning("layers.%s: %s", layer, reason)
            produced = indexed_layers(graph)
            for layer in sorted(set(layers) - produced):
                problems.append(
                    FieldProblem(
                        f"layers.{layer}",
                        f"the tile graph {name!r} indexes no layer {layer!r}; it indexes: "
                        f"{', '.join(sorted(produced)) or 'nothing'}",
                    )
                )
    return problems, tile_graph


def _mapping_fix(mapping: DataMapping, variable: Variable, *, from_file: bool) -> str:
    """The fix of a mapping that ``check_mapping`` refused: the variable to create, or the mapping to set."""
    fix = f"create the variable as {describe_format(suggested_variable(mapping))}"
    df = mapping.dformat
    as_is = DataMapping(df, df.min_value, df.max_value)
    if not from_file and not is_identity(mapping) and check_mapping(as_is, variable.dformat).is_ok:
        fix += (
            f", or keep {variable.name!r} and index the file values as they are: set the out-file's "
            f"ext_min_value {df.min_value:g} and ext_max_value {df.max_value:g} (real = file value)"
        )
    else:
        fix += (
            f", or set the out-file's dformat_out and ext_min_value/ext_max_value so that its real values "
            f"fit {describe_format(variable.dformat)}"
        )
    return fix


def check_layer_mappings(
    tile_graph: Any,
    variables: Mapping[str, Variable],
    config: Mapping[str, str],
    *,
    graph_name: str = "",
) -> tuple[list[FieldProblem], list[str]]:
    """Whether each layer's values survive the cast into its variable's format; (problems, warnings)."""
    problems: list[FieldProblem] = []
    warnings: list[str] = []
    effective = {**tile_graph.config, **config}
    for index, out_files in enumerate(tile_graph.out_files):
        for position, out in enumerate(out_files):
            variable = variables.get(str(out.layer))
            if str(out.action) != "to_index" or variable is None:
                continue
            where = f"layers.{out.layer}"
            try:
                dformat = declared_dformat(out, config=effective, where=f"out_files[{index}][{position}]")
            except IngestError as exc:
                problems.append(FieldProblem(where, f"the tile graph {graph_name!r}: {exc}"))
                continue
            if dformat is None:
                problems.append(
                    FieldProblem(
                        where,
                        f"the tile graph {graph_name!r} indexes {out.layer} without a data format; give its "
                        "out-file a dformat_out ('dtype,nodata,min,max')",
                    )
                )
                continue
            if not (dformat.min_value < dformat.max_value and out.ext_min_value < out.ext_max_value):
                continue  # the index call refuses it, naming the field
            mapping = DataMapping(dformat, out.ext_min_value, out.ext_max_value, out.exponent)
            verdict = check_mapping(mapping, variable.dformat)
            what = (
                f"the tile graph {graph_name!r} indexes {out.layer} as {mapping.describe()}, and a cube of "
                f"variable {variable.name!r} ({describe_format(variable.dformat)}) holds real values in that "
                "format"
            )
            if verdict.problems:
                problems.append(
                    FieldProblem(
                        where,
                        f"{what}: {'; '.join(verdict.problems)}. Fix: "
                        f"{_mapping_fix(mapping, variable, from_file=out.ext_from_file)}",
                    )
                )
            for warning in verdict.warnings:
                warnings.append(f"{where}: {what}: {warning}")
    return problems, warnings


def _lenient_document(raw: Any) -> dict[str, Any]:
    """The payload as a JSON object with lower-cased top-level keys, as far as it can be read; {}
    when it cannot (the parse error says why)."""
    if isinstance(raw, str | bytes):
        try:
            raw = load_json(raw, what="payload")
        except ValidationFailedError:
            return {}
    if not isinstance(raw, dict):
        return {}
    return {str(k).lower(): v for k, v in raw.items()}


def lenient_graph_config(raw: Any) -> dict[str, str]:
    """The payload's ``graph_config`` as far as it can be read (its text values), {} otherwise."""
    config = _lenient_document(raw).get("graph_config")
    if not isinstance(config, dict):
        return {}
    return {str(k): v for k, v in config.items() if isinstance(v, str)}


def _lenient_parts(raw: Any) -> tuple[dict[str, str], dict[str, LayerSpec]]:
    """Graph names and layers of a payload that failed to parse, as far as they can be read."""
    lowered = _lenient_document(raw)
    names = {
        f: lowered[f] for f in ("scene_graph_name", "tile_graph_name") if isinstance(lowered.get(f), str)
    }
    layers: dict[str, LayerSpec] = {}
    for layer, spec in (
        (lowered.get("layers") or {}).items() if isinstance(lowered.get("layers"), dict) else ()
    ):
        if not isinstance(spec, dict):
            continue
        try:
            layers[str(layer)] = LayerSpec.model_validate({str(k).lower(): v for k, v in spec.items()})
        except ValidationError:
            continue
    return names, layers


def validate_payload(
    raw: dict[str, Any] | str | bytes,
    *,
    load_graph: Callable[[str], Any],
    geocube: VariableLookup | None,
    require_engines: bool = True,
    engines: frozenset[str] | None = None,
) -> tuple[Payload, dict[str, str]]:
    """Parse and check a payload; return it with its layers' instance ids.

    ``geocube=None`` skips the layer checks (the CLI without GEOCUBE_SERVER). ``require_engines=False``
    (``plan``) logs a graph engine missing here as a warning instead of refusing the payload. ``engines``:
    those the processing pool declares (None: the ones found on this machine).

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
    graph_problems, tile_graph = check_graphs(
        names, layers, load_graph, require_engines=require_engines, engines=engines
    )
    problems.extend(graph_problems)
    instances: dict[str, str] = {}
    if geocube is not None:
        instances, layer_problems, variables = resolve_layers(layers, geocube)
        problems.extend(layer_problems)
        if tile_graph is not None:
            config = payload.graph_config if payload is not None else {}
            name = names.get("tile_graph_name", "")
            mapping_problems, warnings = check_layer_mappings(tile_graph, variables, config, graph_name=name)
            problems.extend(mapping_problems)
            for warning in warnings:
                logger.warning("%s", warning)
    if problems or payload is None:
        raise ValidationFailedError("payload", problems)
    return payload, instances
