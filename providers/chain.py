"""Trying the configured providers in order until one has the product."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from catalogue.models import Scene
from common.errors import IngestError, ProductUnavailableError, TemporaryError
from providers.base import Downloader
from providers.errors import AllProvidersFailedError, DownloadTemporaryError
from providers.registry import provider_hint

log = logging.getLogger(__name__)

T = TypeVar("T")


def _as_it_is(path: Path) -> Path:
    return path


def _discard(path: Path, dest_dir: Path) -> None:
    """Remove what a provider fetched into ``dest_dir`` (never a product lying elsewhere)."""
    if path.is_relative_to(dest_dir):
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def download_product(
    scene: Scene,
    providers: Sequence[Downloader],
    dest_dir: Path,
    *,
    accept: Callable[[Path], T] = _as_it_is,  # type: ignore[assignment]
) -> tuple[T, str]:
    """Download ``scene`` with the first provider that has it; return (``accept(product)``, provider).

    ``accept`` opens what a provider delivered (checks it, unpacks it); a product it refuses (corrupt,
    not a zip) counts as that provider's failure. A provider that has not got the product, or fails,
    hands over to the next. When all fail, the error is temporary if any failure was temporary (trying
    later may work), permanent otherwise; its message lists every provider's reason.
    """
    reasons: list[str] = []
    temporary = False
    for provider in providers:
        path: Path | None = None
        target = dest_dir / provider.name  # one folder each: a .part is resumed only from its source
        target.mkdir(parents=True, exist_ok=True)
        try:
            path = provider.download(scene, target)
            opened = accept(path)
        except IngestError as exc:
            if path is not None:  # delivered but refused: make room for the next provider's copy
                _discard(path, target)
            if isinstance(exc, ProductUnavailableError):
                reasons.append(f"{provider.name}: {exc}")
            elif isinstance(exc, TemporaryError):
                temporary = True
                reasons.append(f"{provider.name}: {exc} (temporary)")
                log.warning("%s: provider %s failed temporarily: %s", scene.source_id, provider.name, exc)
            else:
                reasons.append(f"{provider.name}: {exc}")
                log.warning("%s: provider %s failed: %s", scene.source_id, provider.name, exc)
            continue
        log.info("%s: downloaded by %s", scene.source_id, provider.name)
        return opened, provider.name
    found_by = f" (found by catalogue {scene.catalogue})" if scene.catalogue else ""
    message = f"{scene.source_id}{found_by}: no provider could deliver it:\n  " + "\n  ".join(
        reasons or ["(none configured)"]
    )
    hint = provider_hint(scene.catalogue, [p.name for p in providers])
    if hint:
        message += f"\n  {hint}"
    if temporary:
        raise DownloadTemporaryError(message)
    raise AllProvidersFailedError(message)
