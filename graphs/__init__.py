"""Processing graphs in the original ingester's JSON format: loading, running, out-file selection.

No Prefect here. ``graphs.cog`` (rasterio) is imported on demand, not by this package.
"""

from graphs.context import TileContext, make_tile_contexts
from graphs.engines import check_runnable
from graphs.errors import GraphError, GraphFatalError, GraphTemporaryError
from graphs.execute import (
    GraphOutcome,
    SelectedInFile,
    SelectedOutFile,
    execute_graph,
    select_in_files,
)
from graphs.loader import list_builtin_graphs, load_graph
from graphs.model import Graph

__all__ = [
    "Graph",
    "GraphError",
    "GraphFatalError",
    "GraphOutcome",
    "GraphTemporaryError",
    "SelectedInFile",
    "SelectedOutFile",
    "TileContext",
    "check_runnable",
    "execute_graph",
    "list_builtin_graphs",
    "load_graph",
    "make_tile_contexts",
    "select_in_files",
]
