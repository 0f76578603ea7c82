"""The download boundary."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from catalogue.models import Scene


class Downloader(Protocol):
    """Fetches one product as it comes: a zip archive, or a folder (``<scene>.SAFE/``); never unpacked.

    Returns the product's path: in ``dest_dir`` when it was fetched, or where it lies when it is on a
    local disk already (not copied). The caller reads it and never changes it; unpacking, when the
    scene graph needs it, is ``providers.unpack.open_product``'s, once.

    Raises ProductUnavailableError when it has not got the product (the next provider is tried),
    TemporaryError when trying again later may work, PermanentError otherwise.
    """

    name: str

    def download(self, scene: Scene, dest_dir: Path) -> Path: ...
