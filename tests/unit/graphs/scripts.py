"""The built-in graph scripts as modules, for the tests that call their functions directly."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from graphs.loader import GRAPHS_DIR


def load_graph_script(name: str) -> ModuleType:
    """``graphs/python/<name>.py`` imported as a module of that name."""
    spec = importlib.util.spec_from_file_location(name, GRAPHS_DIR / "python" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
