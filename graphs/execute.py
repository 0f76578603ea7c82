"""Running a graph on a tile: arguments, conditions, steps and out-file selection.

Follows original-ingester.md §5.3 to §5.9, with two deliberate fixes: arguments are passed in sorted
order, and ``dformat_out`` is parsed on the failure path too (defect 22: a ``to_index`` file selected
after a failure could not be indexed).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from common.dataformat import DataFormat, DataFormatError
from graphs.cog import read_scale_offset
from graphs.context import TileContext, TileContexts, format_arg, is_tile_condition_met
from graphs.engines import check_runnable, parse_timeout_s, resolve_command, run_step
from graphs.errors import GraphError, GraphFatalError, GraphTemporaryError
from graphs.model import (
    ERROR_CONDITIONS,
    FILE_CONDITIONS,
    TILE_CONDITIONS,
    Action,
    Condition,
    Graph,
    OutFile,
)

logger = logging.getLogger(__name__)


def _parse_dformat(text: str, *, field_name: str) -> DataFormat:
    """``DataFormat.parse`` (§5.9), its error re-raised as a GraphError naming the JSON path.

    Raises:
        GraphError: e.g. ``out_files[0][2].dformat_out: dformat 'uint12,0,0,1' dtype: unknown data type ...``.
    """
    try:
        return DataFormat.parse(text)
    except DataFormatError as exc:
        raise GraphError(f"{field_name}: {exc}") from exc


@dataclass(frozen=True)
class SelectedOutFile:
    """An out-file whose action must be carried out (upload, index, delete) for tile ``tile_index``."""

    tile_index: int
    layer: str
    extension: str
    action: Action
    file_name: str
    dformat: DataFormat | None
    ext_min_value: float
    ext_max_value: float
    exponent: float
    nbands: int


@dataclass(frozen=True)
class SelectedInFile:
    tile_index: int
    layer: str
    extension: str
    file_name: str


@dataclass(frozen=True)
class GraphOutcome:
    """The result of a graph: the error (None on success) and the out-files to act on either way."""

    error: Exception | None
    out_files: list[SelectedOutFile]

    @property
    def is_fatal(self) -> bool:
        return isinstance(self.error, GraphFatalError)


def _is_met(
    condition: Condition,
    out_file: OutFile,
    *,
    tiles: Sequence[TileContext],
    workdir: Path,
    error: Exception | None,
) -> bool:
    if condition in TILE_CONDITIONS:
        return is_tile_condition_met(condition, tiles)
    if condition in FILE_CONDITIONS:
        exists = (workdir / tiles[0].file_name(out_file.layer, out_file.extension)).exists()
        return exists if condition == Condition.FILE_EXISTS else not exists
    if condition == Condition.ON_FAILURE:
        return error is not None
    return isinstance(error, GraphFatalError)


def _is_kept(
    out_file: OutFile, *, tiles: Sequence[TileContext], workdir: Path, error: Exception | None
) -> bool:
    """§5.8: on success the condition alone decides; on failure the error conditions must pass."""
    cond, err_cond = out_file.condition, out_file.error_condition
    if error is None:
        return _is_met(cond, out_file, tiles=tiles, workdir=workdir, error=None)
    if err_cond in ERROR_CONDITIONS and cond not in ERROR_CONDITIONS:
        return _is_met(err_cond, out_file, tiles=tiles, workdir=workdir, error=error) and _is_met(
            cond, out_file, tiles=tiles, workdir=workdir, error=error
        )
    if cond in ERROR_CONDITIONS and _is_met(cond, out_file, tiles=tiles, workdir=workdir, error=error):
        return err_cond not in ERROR_CONDITIONS or _is_met(
            err_cond, out_file, tiles=tiles, workdir=workdir, error=error
        )
    return False


def _dformat_of(
    out_file: OutFile, *, config: Mapping[str, str], tiles: Sequence[TileContext], where: str
) -> DataFormat | None:
    if out_file.dformat_out is not None:
        field_name = f"{where}.dformat_out"
        text = format_arg(out_file.dformat_out, config=config, tiles=tiles, field_name=field_name)
        return _parse_dformat(text, field_name=field_name)
    if out_file.datatype is not None:
        return DataFormat(out_file.datatype, out_file.nodata, out_file.min_value, out_file.max_value)
    return None


def _real_range(
    out_file: OutFile, dformat: DataFormat | None, *, path: Path, tile_id: str
) -> tuple[float, float]:
    """The out-file's real range: the graph's, or the file's own scale/offset with ``ext_from_file``."""
    declared = (out_file.ext_min_value, out_file.ext_max_value)
    if not out_file.ext_from_file or dformat is None or not path.is_file():
        return declared
    scale_offset = read_scale_offset(path)
    if scale_offset is None:
        logger.info("%s: %s has no scale/offset; real range %s from the graph", tile_id, path.name, declared)
        return declared
    scale, offset = scale_offset
    if not scale > 0:
        raise GraphError(
            f"{path.name}: band scale {scale} must be > 0 for ext_from_file (a Geocube real range is "
            "increasing); write a positive scale, or drop ext_from_file"
        )
    low, high = dformat.min_value * scale + offset, dformat.max_value * scale + offset
    logger.info(
        "%s: %s is indexed as real = v * %g + %g: [%g, %g] -> [%g, %g]",
        tile_id, path.name, scale, offset, dformat.min_value, dformat.max_value, low, high,
    )  # fmt: skip
    return low, high


def declared_dformat(out_file: OutFile, *, config: Mapping[str, str], where: str) -> DataFormat | None:
    """The data format an out-file declares (its ``dformat_out``, else ``datatype``...), before running.

    Raises:
        GraphError: a ``dformat_out`` that cannot be parsed, or a config key that is missing.
    """
    return _dformat_of(out_file, config=config, tiles=(), where=where)


def select_out_files(
    graph: Graph,
    *,
    tiles: Sequence[TileContext],
    workdir: Path,
    config: Mapping[str, str],
    error: Exception | None,
) -> list[SelectedOutFile]:
    """The out-files to act on after a success (``error`` None) or a failure (§5.8).

    Raises:
        GraphError: on success only, a ``dformat_out`` that cannot be parsed, or an ``ext_from_file``
            file whose scale cannot give a real range. After a failure such a file is kept with
            ``dformat`` None and a warning (it must not be indexed).
    """
    selected = []
    for index, out_files in enumerate(graph.out_files):
        for position, out_file in enumerate(out_files):
            if not _is_kept(out_file, tiles=tiles, workdir=workdir, error=error):
                continue
            where = f"out_files[{index}][{position}]"
            file_name = tiles[index].file_name(out_file.layer, out_file.extension)
            ext_min, ext_max = out_file.ext_min_value, out_file.ext_max_value
            try:
                dformat = _dformat_of(out_file, config=config, tiles=tiles, where=where)
                ext_min, ext_max = _real_range(
                    out_file, dformat, path=workdir / file_name, tile_id=tiles[0].tile_id
                )
            except GraphError as exc:
                if error is None:
                    raise
                logger.warning("%s: %s", tiles[0].tile_id, exc)
                dformat = None
            selected.append(
                SelectedOutFile(
                    tile_index=index,
                    layer=out_file.layer,
                    extension=out_file.extension,
                    action=out_file.action,
                    file_name=file_name,
                    dformat=dformat,
                    ext_min_value=ext_min,
                    ext_max_value=ext_max,
                    exponent=out_file.exponent,
                    nbands=out_file.nbands,
                )
            )
    return selected


def select_in_files(graph: Graph, *, tiles: Sequence[TileContext]) -> list[SelectedInFile]:
    """The layers to import before running (§5.1 step 5, §5.7).

    Only in-files whose tile condition holds; in-files with a file or error condition are skipped (as
    the original does); duplicates by local file name are dropped.
    """
    seen: set[str] = set()
    selected = []
    for index, in_files in enumerate(graph.in_files):
        for in_file in in_files:
            if in_file.condition not in TILE_CONDITIONS or not is_tile_condition_met(
                in_file.condition, tiles
            ):
                continue
            name = tiles[index].file_name(in_file.layer, in_file.extension)
            if name not in seen:
                seen.add(name)
                selected.append(SelectedInFile(index, in_file.layer, in_file.extension, name))
    return selected


def _mark_fatal(error: Exception, *, is_retriable: bool) -> Exception:
    """§5.8: unless the tile is retriable, every failure counts as fatal (``on_fatal_failure``)."""
    if is_retriable or isinstance(error, GraphFatalError):
        return error
    fatal = GraphFatalError(f"{error} (fatal: the tile is not retriable)")
    fatal.__cause__ = error
    return fatal


def execute_graph(
    graph: Graph,
    *,
    tiles: TileContexts,
    workdir: Path,
    config: Mapping[str, str],
    is_retriable: bool,
) -> GraphOutcome:
    """Run ``graph`` for T0 = ``tiles[0]`` in ``workdir`` and say which out-files to act on.

    Args:
        tiles: (T0, T1, T2), see :func:`make_tile_contexts`.
        workdir: the job's working directory, holding the in-files; steps run there.
        config: the payload's ``graph_config``; it overrides the graph's default config, and ``workdir``
            is set to the absolute working directory.
        is_retriable: the tile may be retried; otherwise every failure is fatal (§5.8).

    Returns:
        The error (None on success) and the out-files to act on. Failures of a step, of an argument
        or of a dformat are returned, not raised, because out-file actions (e.g. deleting the product
        after a fatal failure) must happen either way.

    Raises:
        GraphError: before anything runs, when the graph cannot run here (engine not available,
            command not found), as the original fails when it builds the graph.
    """
    check_runnable(graph)
    commands = [
        resolve_command(step, index=i, roots=graph.command_roots)
        for i, step in enumerate(graph.processing_steps)
    ]
    workdir = Path(workdir).resolve()
    effective = {**graph.config, **config, "workdir": str(workdir)}
    tile_id = tiles[0].tile_id
    try:
        timeout_s = parse_timeout_s(effective)
        for i, (step, command) in enumerate(zip(graph.processing_steps, commands, strict=True)):
            label = f"{tile_id} step {i} ({step.engine.value} {Path(step.command).name})"
            if not is_tile_condition_met(step.condition, tiles):
                logger.info("%s: skipped (condition %s is false)", label, step.condition.value)
                continue
            args = {
                name: format_arg(
                    arg, config=effective, tiles=tiles, field_name=f"processing_steps[{i}].args.{name}"
                )
                for name, arg in step.args.items()
            }
            run_step(
                step, command, args,
                config=effective, graph_envs=graph.envs, cwd=workdir, timeout_s=timeout_s, label=label,
            )  # fmt: skip
        out_files = select_out_files(graph, tiles=tiles, workdir=workdir, config=effective, error=None)
        return GraphOutcome(error=None, out_files=out_files)
    except (GraphError, GraphFatalError, GraphTemporaryError) as exc:
        error = _mark_fatal(exc, is_retriable=is_retriable)
    logger.warning("%s: graph %s failed: %s", tile_id, graph.source, error)
    out_files = select_out_files(graph, tiles=tiles, workdir=workdir, config=effective, error=error)
    return GraphOutcome(error=error, out_files=out_files)


__all__ = [
    "GraphOutcome",
    "SelectedInFile",
    "SelectedOutFile",
    "declared_dformat",
    "execute_graph",
    "select_in_files",
    "select_out_files",
]
