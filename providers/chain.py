"""Trying the configured providers in order until one has the product."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from catalogue.models import Scene
from common.errors import IngestError, ProductUnavailableError, TemporaryError
from providers.base import Downloader
from providers.errors import AllProvidersFailedError, DownloadTemporaryError

log = logging.getLogger(__name__)


def download_product(scene: Scene, providers: Sequence[Downloader], dest_dir: Path) -> tuple[Path, str]:
    """Download ``scene`` with the first provider that has it; return (product path, provider name).

    A provider that has not got the product, or fails, hands over to the next. When all fail, the
    error is temporary if any failure was temporary (trying later may work), permanent otherwise; its
    message lists every provider's reason.
    """
    reasons: list[str] = []
    temporary = False
    for provider in providers:
        try:
            path = provider.download(scene, dest_dir)
        except ProductUnavailableError as exc:
            reasons.append(f"{provider.name}: {exc}")
            continue
        except TemporaryError as exc:
            temporary = True
            reasons.append(f"{provider.name}: {exc} (temporary)")
            log.warning("%s: provider %s failed temporarily: %s", scene.source_id, provider.name, exc)
            continue
        except IngestError as exc:
            reasons.append(f"{provider.name}: {exc}")
            log.warning("%s: provider %s failed: %s", scene.source_id, provider.name, exc)
            continue
        log.info("%s: downloaded by %s", scene.source_id, provider.name)
        return path, provider.name
    message = f"{scene.source_id}: no provider could deliver it:\n  " + "\n  ".join(
        reasons or ["(none configured)"]
    )
    if temporary:
        raise DownloadTemporaryError(message)
    raise AllProvidersFailedError(message)
