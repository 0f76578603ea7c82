"""A strict JSON reader for user input (payloads, graph JSON): what ``json.loads`` lets through, refused.

``json.loads`` silently keeps the last of two equal keys, reads ``NaN`` and ``Infinity`` (not JSON,
RFC 8259 §6), raises ``UnicodeDecodeError`` on non-UTF-8 bytes, ``RecursionError`` on deep nesting and a
bare ``ValueError`` on integers of more than 4 300 digits. :func:`load_json` turns each of these into a
:class:`JsonInputError` naming the input, where the problem is and the fix, and bounds the nesting
depth so that no later recursive walk (pydantic, shapely, ``json.dumps``) can hit the recursion limit.
"""

from __future__ import annotations

import json
import re
from itertools import chain
from typing import Any

import numpy as np

from common.errors import FieldProblem, ValidationFailedError

# A payload nests 6 levels at most (a FeatureCollection's MultiPolygon coordinates: features, [i],
# geometry, coordinates, polygon, ring, position); graph JSON about as many. 64 leaves room for any
# honest document and stays far below Python's recursion limit (1 000).
MAX_DEPTH = 64


class JsonInputError(ValidationFailedError):
    """A JSON document given by a user cannot be read; one problem, naming where and the fix."""

    def __init__(self, what: str, field: str, message: str) -> None:
        super().__init__(what, [FieldProblem(field, message)])


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (RFC 8259 §6); give a finite number or null")


def decode_text(data: bytes, *, what: str) -> str:
    """UTF-8 bytes (a UTF-8 byte order mark is dropped) as text.

    Raises:
        JsonInputError: the bytes are not UTF-8, naming the offset of the first bad byte.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JsonInputError(
            what,
            "(json)",
            f"not UTF-8 text: byte {data[exc.start : exc.start + 1]!r} at offset {exc.start} "
            "(JSON must be UTF-8, RFC 8259 §8.1); save the file as UTF-8",
        ) from None


_SCALARS = frozenset({str, int, float, bool, type(None)})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _scalars_only(items: Any) -> bool:
    return set(map(type, items)) <= _SCALARS


def depth_of(value: Any) -> int:
    """How deep lists and objects nest in ``value`` (a scalar is 0), walked without recursion.

    A list of lists of scalars (a ring of positions) is measured at once, so that a 10⁵-vertex polygon
    costs milliseconds, not one step per position.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        if depth > MAX_DEPTH:
            return depth
        if isinstance(item, list) and _scalars_only(item):
            deepest = max(deepest, depth)
            continue
        if (
            isinstance(item, list)
            and set(map(type, item)) == {list}
            and _scalars_only(chain.from_iterable(item))
        ):
            deepest = max(deepest, depth + 1)
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest


def text_depth(text: str) -> int:
    """How deep brackets nest in a JSON text (strings skipped), counted with numpy: no parse, no recursion."""
    data = np.frombuffer(_STRING.sub("", text).encode("utf-8", "replace"), dtype=np.uint8)
    opens = (data == ord("[")) | (data == ord("{"))
    closes = (data == ord("]")) | (data == ord("}"))
    steps = opens[opens | closes].astype(np.int32) * 2 - 1  # +1 per opening bracket, -1 per closing one
    return int(np.cumsum(steps).max(initial=0))


def check_depth(value: Any, *, what: str, field: str = "(json)") -> None:
    """Refuse a document (already parsed, e.g. given as a dict) nesting deeper than ``MAX_DEPTH``.

    Raises:
        JsonInputError: it nests deeper.
    """
    if depth_of(value) > MAX_DEPTH:
        raise JsonInputError(
            what, field, f"nests lists and objects more than {MAX_DEPTH} levels deep; no valid input does"
        )


def load_json(data: str | bytes, *, what: str) -> Any:
    """Parse a JSON document strictly.

    Args:
        data: the document; bytes must be UTF-8.
        what: the input, as errors name it (``payload``, ``graph S1Backscatter.json``).

    Raises:
        JsonInputError: not UTF-8, not JSON, a key given twice in one object (named), ``NaN`` or
            ``Infinity``, an integer too long to read, or nesting deeper than ``MAX_DEPTH``.
    """
    text = decode_text(data, what=what) if isinstance(data, bytes) else data
    if text_depth(text) > MAX_DEPTH:
        raise JsonInputError(
            what, "(json)", f"nests lists and objects more than {MAX_DEPTH} levels deep; no valid input does"
        )
    try:
        value = json.loads(text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
    except _DuplicateKeyError as exc:
        raise JsonInputError(
            what, exc.key, "given twice in one JSON object; keep one (JSON readers disagree on which wins)"
        ) from None
    except json.JSONDecodeError as exc:
        raise JsonInputError(what, "(json)", f"not valid JSON: {exc}") from None
    except RecursionError:
        raise JsonInputError(
            what, "(json)", f"nests lists and objects more than {MAX_DEPTH} levels deep; no valid input does"
        ) from None
    except ValueError as exc:  # NaN/Infinity, or an integer longer than sys.get_int_max_str_digits()
        raise JsonInputError(what, "(json)", f"not valid JSON: {exc}") from None
    return value
