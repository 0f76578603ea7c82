"""Graph JSON never crashes the loader (issue 12, item 1): 1 000+ variants of real graph files, each
either loads or ends in a GraphError that names the file.

The variants start from the built-in library and the original's own library files
(../shared/fixtures/original-ingester/graphs/library): a value anywhere replaced by any JSON value, a key
removed or given twice, bytes that are not UTF-8, nesting far deeper than any graph, text cut short.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphs.errors import GraphError
from graphs.loader import LIBRARY_DIR, load_graph_file

pytestmark = pytest.mark.slow  # about 5 000 loads

OURS = sorted(LIBRARY_DIR.glob("*.json"))
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths_of(item, (*prefix, index))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> Any:
    if not path:
        return value
    out = json.loads(json.dumps(document))
    node = out
    for part in path[:-1]:
        node = node[part]
    if delete and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def load(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "graph.json"
    path.write_bytes(raw)
    try:
        load_graph_file(path)
    except GraphError as exc:
        assert "graph" in str(exc).lower()


def library(shared_fixtures: Path) -> list[Path]:
    return OURS + sorted((shared_fixtures / "original-ingester" / "graphs" / "library").glob("*.json"))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_value_anywhere_loads_or_is_a_graph_error(
    shared_fixtures: Path, tmp_path: Path, data: st.DataObject
) -> None:
    source = data.draw(st.sampled_from(library(shared_fixtures)))
    document = json.loads(source.read_text())
    path = data.draw(st.sampled_from(paths_of(document)))
    value = data.draw(JSON_VALUES)
    delete = data.draw(st.booleans())
    load(tmp_path, json.dumps(replaced(document, path, value, delete=delete)).encode())


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_broken_bytes_are_a_graph_error(shared_fixtures: Path, tmp_path: Path, data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(library(shared_fixtures))).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(raw))))
    load(tmp_path, bytes(raw[:cut]))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"processing_steps": []}\xff', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nest"),
        (b'{"config": {}, "config": {"a": "b"}}', "config"),
        (b'{"config": {"x": NaN}}', "NaN"),
    ],
)
def test_the_shapes_that_crashed_before(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "graph.json"
    path.write_bytes(raw)
    with pytest.raises(GraphError, match=message):
        load_graph_file(path)
