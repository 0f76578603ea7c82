"""A local (or mounted) archive: ``<root>/<YYYY>/<MM>/<DD>/<scene>.zip`` or ``<root>/<scene>.zip``."""

from __future__ import annotations

import logging
from pathlib import Path

from catalogue.models import Scene
from providers.errors import ProductNotFoundError
from providers.unpack import unpack_product

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
            if path.is_file():
                log.info("%s: unpacking %s", scene.source_id, path)
                return unpack_product(path, dest_dir)
        raise ProductNotFoundError(
            f"{scene.source_id}: not in the local archive {self.root} "
            f"(looked for {', '.join(str(p) for p in self.candidates(scene))})"
        )
