"""Graph JSON read as the original reads it where that is harmless (issue 10, item 6).

Where the original's Go decoding (``graph/graph_json.go``) is lenient and that is harmless, a graph
file is read as it reads it (each case tested in ``tests/unit/graphs/test_lenient_loading.py``):

- keys in any case (``Processing_Steps``, ``IN_FILES``, ``Tile_Index``): Go's ``encoding/json`` matches
  struct keys case-insensitively. Map keys (``config`` keys, ``args`` names) keep their case, as in Go.
  Two spellings of one key in one object are refused (Go would silently keep the last one);
- an out-file ``datatype`` that is unknown (``undefined``, ``int64``...): Go's ``DTypeFromString`` reads
  it as *undefined*, which matters only when the file is indexed without a ``dformat_out`` (the original
  then fails at indexing: ``indexTile: file.DType '0' not found``). So it is read as no datatype, except
  for such a file, where it is refused at load;
- ``nbands: 0`` (or null) is read as the default 1. The original keeps 0 and indexes the file with no
  band at all, which the Geocube refuses ("Wrong number of bands in dataset"): 1 is what was meant;
- an out-file without ``layer``: the original names its file ``<date>_<tile>_.<ext>``. With the default
  action ``to_ignore`` nothing is ever done with it (§9.3), so it is dropped at load; an out-file that
  is created, indexed or deleted needs its layer, and is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from common.dataformat import DataFormatError, canonical_dtype


def fold_keys(data: Any, fields: Iterable[str]) -> Any:
    """``data`` with its keys spelled as ``fields`` when they match in any case (Go's encoding/json).

    Raises:
        ValueError: two keys of ``data`` are spellings of one field.
    """
    if not isinstance(data, dict):
        return data
    by_folded = {name.casefold(): name for name in fields}
    folded: dict[Any, Any] = {}
    spelled: dict[Any, Any] = {}
    for key, value in data.items():
        name = by_folded.get(key.casefold(), key) if isinstance(key, str) else key
        if name in folded:
            raise ValueError(
                f"keys {spelled[name]!r} and {key!r} both mean {name!r} (keys match in any case, as in "
                "the original); keep one"
            )
        folded[name], spelled[name] = value, key
    return folded


def _is_unknown_dtype(value: Any) -> bool:
    if not isinstance(value, str) or value == "":
        return False
    try:
        canonical_dtype(value)
    except DataFormatError:
        return True
    return False


def read_out_file(data: Any) -> Any:
    """An out-file object (keys folded) with ``nbands`` 0/null as 1 and an unused unknown datatype dropped."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    nbands = data.get("nbands", 1)
    if nbands is None or (type(nbands) is int and nbands == 0):
        data["nbands"] = 1
    is_indexed_by_datatype = data.get("action") == "to_index" and data.get("dformat_out") is None
    if _is_unknown_dtype(data.get("datatype")) and not is_indexed_by_datatype:
        data["datatype"] = None  # the original's Undefined, never used for this file
    return data
