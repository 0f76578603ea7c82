"""A tile graph that reads T1 and T2, for the tests of dependencies and failures that don't cascade.

It is the built-in ExtractS2Bands plus in-files of T1 (its B04) and T2 (its B03): a tile processed
against a failed previous or reference fails on the import of a layer that tile never stored, so a DONE
dependant shows it ran against a DONE tile.
"""

from __future__ import annotations

import json
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "graphs" / "library"


def write_graph_reading_t1_t2(folder: Path) -> str:
    """Write the graph into ``folder``; return its path, for a payload's ``tile_graph_name``."""
    graph = json.loads((LIBRARY / "ExtractS2Bands.json").read_text())
    graph["in_files"][1] = [{"layer": "B04", "extension": "tif", "condition": "different_T0_T1"}]
    graph["in_files"][2] = [{"layer": "B03", "extension": "tif", "condition": "different_T0_T2"}]
    path = folder / "ExtractS2BandsAgainstT1T2.json"
    path.write_text(json.dumps(graph))
    return str(path)
