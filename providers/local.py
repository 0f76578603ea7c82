"""A local (or mounted) archive: ``<root>/<YYYY>/<MM>/<DD>/<scene>.zip`` or ``<root>/<scene>.zip``.

The product is given where it lies (``Downloader``): nothing is copied until it is stored or unpacked.
"""

from __future__ import annotations

import logging
from pathlib import Path

from catalogue.models import Scene
from providers.errors import ProductNotFoundError

log = logging.getLogger(__name__)


class LocalArchiveProvider:
    name = "local"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def candidates(self, scene: Scene) -> list[Path]:
        d = scene.date
        return [
            self.root / f"{d:%Y}" / f"{d:%m}" / f"{d:%d}" / f"{scene.source_id}.zip",
            self.root / f"{scene.source_id}.zip",
        ]

    def download(self, scene: Scene, dest_dir: Path) -> Path:
        for path in self.candidates(scene):
            if path.is_file():  # read where it lies, never copied nor changed
                log.info("%s: found %s", scene.source_id, path)
                return path
        raise ProductNotFoundError(
            f"{scene.source_id}: not in the local archive {self.root} "
            f"(looked for {', '.join(str(p) for p in self.candidates(scene))})"
        )
