"""A job's scratch folder: created under the configured workdir and removed whatever the outcome."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def scratch_dir(root: Path | None, prefix: str) -> Iterator[Path]:
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in prefix)[:80]
    path = Path(tempfile.mkdtemp(dir=root, prefix=f"{safe}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
