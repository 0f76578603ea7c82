"""Finding and loading graphs by name (original-ingester.md §5.2).

Built-in names map to our own ``graphs/library/*.json``. The original's spellings ``library/X.json``
and ``library/graph/X.json`` (used by its demo payloads) map to the same built-ins. Any other name is
a JSON file: absolute, or relative to ``graph_root``, or to the current directory. Remote graphs
(``gs://``) are not available yet.

A user's file wins over a built-in of the same name: with ``graph_root`` set, ``<root>/<name>`` (as
written, e.g. ``library/ExtractS2Bands.json``), ``<root>/<X>.json`` and ``<root>/library/<X>.json`` are
looked for first. The original ingester's own ``library/ExtractS2Bands.json`` differs from our built-in
(JP2 out, ``uint16,NaN,0,32767``, no B8A): whoever keeps a copy of it gets it, run as written. Which graph
was used is logged.

The original's hard-coded Sentinel-1 graphs (§5.12) are our own ``library/<name>.<variant>.json``:
``S1Preprocessing``, ``S1BackscatterCoherence`` and ``S1CoregExtract`` each come in two variants,
chosen by the config key ``s1_engine`` (the payload's ``graph_config``, default ``auto``):

- ``snap``: the original's graphs, step for step, with its SNAP XML (``snap/S1_SLC_*.xml``, which do
  not ship with us: ``GEOCUBE_INGESTER_SNAP_GRAPHS`` names their folder) and our ``python/convert.py``
  and ``python/erode_mask.py`` (the original's ``python/erodeMask.py`` resolves to it too);
- ``python``: no SNAP. ``S1Preprocessing`` stores the burst's one-burst SAFE (as ``S1BurstSplit``);
  ``S1BackscatterCoherence`` makes ``sigma0_VV``/``sigma0_VH`` with ``python/s1_backscatter.py`` in
  linear scale, then ``python/convert.py`` to the original's mapping (``dformat_out`` float32,0,0,1 over
  0..1), so that a payload made for the original indexes into the same variables. It reads ``resolution``,
  and ``crs`` (empty: the burst's UTM zone) instead of SNAP's ``projection``, and ``looks`` (default
  1x4, the original's ``terrain_correction_azimuth`` x ``terrain_correction_range``). Coherence needs
  SNAP: ``coh_VV``/``coh_VH`` are listed in the graph's ``unavailable_layers`` (their out-files stay,
  with condition file_exists, and are never made). ``S1CoregExtract`` has nothing to coregister: it only
  frees the tile's SAFE once T0≠T1;
- ``auto``: ``snap`` when the snap engine is among the engines where processing runs (``engines``,
  else this machine's), else ``python``.

``S1Clean`` runs no step (one file): it deletes T0's ``preprocessed.dim``, ``coregextract.dim`` and (ours,
for the python variant) ``__product__.SAFE``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from common.errors import FieldProblem, ValidationFailedError
from common.jsonload import load_json
from graphs.engines import available_engines
from graphs.errors import GraphError
from graphs.model import Engine, Graph

logger = logging.getLogger(__name__)

GRAPHS_DIR = Path(__file__).resolve().parent
LIBRARY_DIR = GRAPHS_DIR / "library"

BUILTIN_GRAPHS: dict[str, str] = {
    "CopyProductToStorage": "CopyProductToStorage.json",
    "ExtractLandsatBands": "ExtractLandsatBands.json",
    "ExtractS2Bands": "ExtractS2Bands.json",
    "Pass": "Pass.json",
    # The original's hard-coded Pléiades/SPOT graphs (§5.12), as library files.
    "PhrPreProcessing": "PhrPreProcessing.json",
    "PhrProcessing": "PhrProcessing.json",
    "S1Backscatter": "S1Backscatter.json",
    "S1BurstSplit": "S1BurstSplit.json",
    "SpotPreProcessing": "SpotPreProcessing.json",
    "SpotProcessing": "SpotProcessing.json",
}

# The original's hard-coded Sentinel-1 graphs (§5.12), each in two variants chosen by `s1_engine`
# (S1Clean runs no step: one file).
S1_VARIANT_GRAPHS = ("S1Preprocessing", "S1BackscatterCoherence", "S1CoregExtract")
BUILTIN_GRAPHS.update({name: f"{name}.snap.json" for name in S1_VARIANT_GRAPHS})
BUILTIN_GRAPHS["S1Clean"] = "S1Clean.json"
S1_ENGINE_KEY = "s1_engine"


class S1Engine(StrEnum):
    """How the original's Sentinel-1 graphs run (graph config ``s1_engine``)."""

    SNAP = "snap"  # the original's SNAP XML graphs, through gpt
    PYTHON = "python"  # our python/s1_backscatter.py: sigma0 only, no coregistration nor coherence
    AUTO = "auto"  # snap when the snap engine is among the engines where processing runs, else python


def choose_s1_engine(
    name: str,
    *,
    config: Mapping[str, str] | None = None,
    engines: frozenset[Engine] | frozenset[str] | None = None,
) -> S1Engine:
    """The variant of the S1 graph ``name``: config ``s1_engine`` (default ``auto``), ``auto`` resolved
    with ``engines`` (None: this machine's, :func:`graphs.engines.available_engines`).

    Raises:
        GraphError: ``s1_engine`` is not snap, python or auto.
    """
    raw = (config or {}).get(S1_ENGINE_KEY) or S1Engine.AUTO.value
    try:
        chosen = S1Engine(raw.strip().lower())
    except ValueError:
        raise GraphError(
            f"graph {name}: config.{S1_ENGINE_KEY}: {raw!r} is not one of snap, python, auto (auto: snap "
            "when the snap engine is where processing runs, else python); set it in the payload's "
            "graph_config"
        ) from None
    if chosen != S1Engine.AUTO:
        return chosen
    here = available_engines() if engines is None else engines
    return S1Engine.SNAP if Engine.SNAP in here else S1Engine.PYTHON


def list_builtin_graphs() -> list[str]:
    """Names of the graphs shipped with the ingester."""
    return sorted(BUILTIN_GRAPHS)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(graph)"


def _problems(exc: ValidationError) -> list[FieldProblem]:
    problems = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        problems.append(FieldProblem(_format_loc(tuple(err["loc"])), msg))
    return problems


def parse_graph(data: Any, *, source: str, command_roots: tuple[Path, ...] = ()) -> Graph:
    """Validate a decoded graph JSON document.

    Raises:
        GraphError: every problem, each naming its JSON path (``processing_steps[0].engine: ...``).
    """
    try:
        graph = Graph.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc)
        lines = "\n".join(f"  - {p}" for p in problems)
        if len(problems) == 1:
            message = f"graph {source}: {problems[0]}"
        else:
            message = f"graph {source} is invalid ({len(problems)} problems):\n{lines}"
        raise GraphError(message, problems=problems) from None
    return graph.with_origin(source, command_roots)


def load_graph_file(path: Path, *, command_roots: tuple[Path, ...] = (), source: str | None = None) -> Graph:
    """Load a graph JSON file; ``source`` names it in messages (default: the path).

    Raises:
        GraphError: unreadable file, invalid JSON or invalid graph.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GraphError(f"graph file {path}: cannot be read ({exc.strerror})") from exc
    try:
        # strict: UTF-8, no key twice, no NaN, nesting bounded (a RecursionError never escapes)
        data = load_json(raw, what=f"graph file {path}")
    except ValidationFailedError as exc:
        why = "; ".join(p.message if p.field == "(json)" else str(p) for p in exc.problems)
        raise GraphError(f"graph file {path}: {why}") from None
    return parse_graph(data, source=source or str(path), command_roots=command_roots)


def _builtin_name(name: str) -> str | None:
    if name in BUILTIN_GRAPHS:
        return name
    for prefix in ("library/graph/", "library/"):
        if name.startswith(prefix) and name.endswith(".json"):
            stem = name[len(prefix) : -len(".json")]
            if stem in BUILTIN_GRAPHS:
                return stem
    return None


def _user_copy(name: str, builtin: str, graph_root: Path | None) -> Path | None:
    """A user's file under ``graph_root`` standing for the built-in ``builtin``, if there is one."""
    if graph_root is None:
        return None
    names = dict.fromkeys(
        [name, f"{builtin}.json", f"library/{builtin}.json", f"library/graph/{builtin}.json"]
    )
    for relative in names:
        candidate = graph_root / relative
        if candidate.is_file():
            return candidate
    return None


def _load_user_file(path: Path, graph_root: Path | None) -> Graph:
    folder = path.parent.resolve()
    # The original keeps graphs in $GRAPHPATH/library and resolves commands against $GRAPHPATH.
    parents = [folder, folder.parent] if folder.name == "library" else [folder]
    if folder.name == "graph" and folder.parent.name == "library":
        parents.append(folder.parent.parent)
    roots = tuple(dict.fromkeys([*([graph_root] if graph_root else []), *parents]))
    return load_graph_file(path, command_roots=roots)


def _load_builtin(
    name: str,
    builtin: str,
    *,
    graph_root: Path | None,
    config: Mapping[str, str] | None,
    engines: frozenset[Engine] | frozenset[str] | None,
) -> Graph:
    roots = (*([graph_root] if graph_root else []), GRAPHS_DIR)
    if builtin not in S1_VARIANT_GRAPHS:
        logger.info("graph %s: the built-in %s", name, builtin)
        return load_graph_file(
            LIBRARY_DIR / BUILTIN_GRAPHS[builtin], command_roots=(GRAPHS_DIR,), source=builtin
        )
    variant = choose_s1_engine(builtin, config=config, engines=engines)
    logger.info("graph %s: the built-in %s, its %s variant (s1_engine)", name, builtin, variant.value)
    # graph_root may hold the SNAP XML (snap/...) as the original's GRAPHPATH does.
    return load_graph_file(
        LIBRARY_DIR / f"{builtin}.{variant.value}.json", command_roots=roots, source=builtin
    )


def load_graph(
    name: str,
    *,
    graph_root: Path | None = None,
    engines: frozenset[Engine] | frozenset[str] | None = None,
    config: Mapping[str, str] | None = None,
) -> Graph:
    """The graph called ``name``: a built-in, or a JSON file.

    Args:
        name: ``ExtractS2Bands``, ``library/ExtractS2Bands.json``, ``library/graph/ExtractS2Bands.json``,
            or a JSON file path (absolute, relative to ``graph_root``, or to the current directory).
        graph_root: folder of user graphs; relative step commands are also looked for there.
        engines: the engines where processing runs, for the Sentinel-1 built-ins' ``s1_engine auto``
            (``Engine`` members or their names, e.g. the processing pool's declared ``{"python", "snap"}``);
            None: those of this machine (:func:`graphs.engines.available_engines`).
        config: the payload's ``graph_config``; only ``s1_engine`` is read here.

    Raises:
        GraphError: unknown name (the message lists the built-ins), an invalid graph, or an
            ``s1_engine`` that is not snap, python or auto.
    """
    builtin = _builtin_name(name)
    if builtin is not None:
        own = _user_copy(name, builtin, graph_root)
        if own is not None:
            logger.info("graph %s: the user's file %s (it shadows the built-in %s)", name, own, builtin)
            return _load_user_file(own, graph_root)
        return _load_builtin(name, builtin, graph_root=graph_root, config=config, engines=engines)
    known = ", ".join(list_builtin_graphs())
    if "://" in name:
        raise GraphError(
            f"graph {name.split('?', 1)[0]!r}: remote graphs are not supported yet (roadmap G1); "
            f"copy the file under the graph root, or use a built-in: {known}"
        )
    path = Path(name)
    candidates = (
        [path] if path.is_absolute() else [*([graph_root / path] if graph_root else []), Path.cwd() / path]
    )
    for candidate in candidates:
        if candidate.is_file():
            logger.info("graph %s: the file %s", name, candidate)
            return _load_user_file(candidate, graph_root)
    tried = ", ".join(str(c) for c in candidates)
    raise GraphError(f"graph {name!r}: unknown graph; not a built-in ({known}) and no JSON file at {tried}")
