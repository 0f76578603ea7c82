"""The download boundary."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from catalogue.models import Scene


class Downloader(Protocol):
    """Fetches one product and leaves it *unpacked* in ``dest_dir`` (e.g. ``<scene>.SAFE/``).

    Raises ProductUnavailableError when it has not got the product (the next provider is tried),
    TemporaryError when trying again later may work, PermanentError otherwise.
    """

    name: str

    def download(self, scene: Scene, dest_dir: Path) -> Path: ...
