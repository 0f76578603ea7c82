"""Reading a catalogue's JSON without trusting its shape: a wrong shape is a typed error naming the field.

A catalogue answer is input from outside. Where a parser expects an object, a list of objects or a
GeoJSON geometry, these helpers check it and raise :class:`AnswerShapeError` naming the field (a dotted
path such as ``product S1A_... .ContentDate``) and what came instead. :func:`reading` is the backstop
around a whole parser: any ``AttributeError``, ``TypeError``, ``KeyError``, ``IndexError``, ``ValueError``
or ``OverflowError`` a missed shape raises becomes an ``AnswerShapeError`` naming the item, never a
traceback (the ingester's own errors pass through unchanged).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from catalogue.errors import CatalogueError
from common.errors import IngestError

__all__ = ["AnswerShapeError", "geometry_at", "list_of_mappings", "mapping_at", "reading"]

_SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError, OverflowError, RecursionError)


class AnswerShapeError(CatalogueError):
    """A catalogue answered JSON of a shape we cannot read (the message names the field)."""


def _kind(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def mapping_at(obj: Mapping[str, Any], key: str, *, where: str) -> Mapping[str, Any]:
    """``obj[key]`` when it is an object; ``{}`` when it is absent or null.

    Raises:
        AnswerShapeError: it is something else.
    """
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AnswerShapeError(f"{where}.{key}: expected an object, got {_kind(value)}")
    return value


def list_of_mappings(obj: Mapping[str, Any], key: str, *, where: str) -> list[Mapping[str, Any]]:
    """``obj[key]`` when it is a list of objects; ``[]`` when it is absent or null.

    Raises:
        AnswerShapeError: it is not a list, or one of its entries is not an object.
    """
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise AnswerShapeError(f"{where}.{key}: expected a list of objects, got {_kind(value)}")
    for index, entry in enumerate(value):
        if not isinstance(entry, Mapping):
            raise AnswerShapeError(f"{where}.{key}[{index}]: expected an object, got {_kind(entry)}")
    return value


def geometry_at(obj: Mapping[str, Any], key: str, *, where: str) -> Any:
    """The shapely geometry of the GeoJSON ``obj[key]``; None when absent or null.

    Raises:
        AnswerShapeError: not a GeoJSON geometry shapely can build.
    """
    from shapely.errors import ShapelyError
    from shapely.geometry import shape

    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
        raise AnswerShapeError(f"{where}.{key}: expected a GeoJSON geometry, got {_kind(value)}")
    try:
        return shape(value)
    except (*_SHAPE_ERRORS, ShapelyError) as exc:
        raise AnswerShapeError(f"{where}.{key}: not a readable GeoJSON geometry ({exc})") from None


@contextmanager
def reading(where: str) -> Iterator[None]:
    """Turn any shape error raised inside into an :class:`AnswerShapeError` naming ``where``."""
    try:
        yield
    except IngestError:
        raise
    except _SHAPE_ERRORS as exc:
        raise AnswerShapeError(
            f"{where}: unexpected shape of the answer ({type(exc).__name__}: {exc})"
        ) from None
