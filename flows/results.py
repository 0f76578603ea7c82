"""Reading a finished run's result from wherever its worker stored it.

A result in a saved storage block (the shared ``geocube-ingester-results``, flows/deployment.py) is
described in the run's state by its block id and key. Prefect 3.9.1's own ``state.result()`` resolves
that block with a client it never closes (``results.aresolve_result_storage``: ``get_client()``
without ``async with``): every read leaves a socket to the API open, which pytest's ``-W error``
turns into a failure and a long parent accumulates. So the block is read here with a client that is
closed, then the record through the block. Other states (in-memory data, a local path) go through
``state.result()`` as before.
"""

from __future__ import annotations

from typing import Any

from prefect import State
from prefect._internal.result_records import ResultRecordMetadata
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.filesystems import WritableFileSystem
from prefect.results import ResultStore


def read_result(state: State) -> Any:
    """What a finished run stored, as ``state.result(raise_on_failure=False)``: a completed run's value,
    a failed run's exception.

    Raises:
        ValueError, TypeError, OSError...: the result cannot be read (e.g. not in a shared storage).
    """
    metadata = state.data
    if not isinstance(metadata, ResultRecordMetadata) or metadata.storage_block_id is None:
        return state.result(raise_on_failure=False)
    if metadata.storage_key is None:
        raise ValueError(f"the result of state {state.name} has no storage key")
    with get_client(sync_client=True) as client:
        document = client.read_block_document(metadata.storage_block_id)
    block = Block._from_block_document(document)  # the way Prefect loads a block by id
    if not isinstance(block, WritableFileSystem):
        raise TypeError(
            f"result storage block {document.name!r} is a {type(block).__name__}, not a file system"
        )
    store = ResultStore(result_storage=block, serializer=metadata.serializer)
    return store.read(metadata.storage_key).result
