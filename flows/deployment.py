"""The build step of ``prefect.yaml``: where the workers find the code, and where runs keep results.

``prefect deploy`` runs it once per deployment, in its own process, before it registers anything:

- **the project folder.** The pull step used to read ``{{ $PROJECT_DIR }}``; a plain ``prefect deploy
  --all`` without that variable kept the text literally and overwrote working deployments with runs
  that crashed (``FileNotFoundError flows/ingest.py``). The folder is now this step's output: the
  folder ``prefect deploy`` runs in, which must hold ``flows/ingest.py``, or ``PROJECT_DIR`` when set
  (the project's path on the workers). Anything else stops the deploy before it changes anything.
- **the result storage** every pool and the parent share. A child's result is written where its
  worker's default result storage is; without a block that is ``$PREFECT_HOME/storage`` on the
  worker's machine, and a parent elsewhere could not read it (its outcome table lost the provider,
  bytes and outputs). The step saves the block ``geocube-ingester-results`` on
  ``GEOCUBE_INGESTER_RESULTS_URI``, or else ``<GEOCUBE_INGESTER_STORAGE_URI>/.prefect-results``, and
  every deployment names it in ``PREFECT_DEFAULT_RESULT_STORAGE_BLOCK``. A local or mounted path (or
  a ``file://`` URL) is a ``LocalFileSystem`` block; another URL (``s3://``, ``gs://``) a
  ``RemoteFileSystem`` (fsspec: ``s3fs`` or ``gcsfs`` on every worker, credentials from the workers'
  environment, never in the block). With neither variable, an existing block of that name is kept.
  ``RemoteFileSystem`` refuses ``file://`` (it wants a host), hence the local block for those.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

import fsspec
from prefect.filesystems import LocalFileSystem, RemoteFileSystem, WritableFileSystem

from common.errors import PermanentError

RESULTS_BLOCK = "geocube-ingester-results"
RESULTS_URI_ENV = "GEOCUBE_INGESTER_RESULTS_URI"
STORAGE_URI_ENV = "GEOCUBE_INGESTER_STORAGE_URI"
RESULTS_FOLDER = ".prefect-results"


class DeploymentSetupError(PermanentError):
    """``prefect deploy`` cannot make working deployments here; the message says what to set."""


def project_directory(environ: Mapping[str, str], cwd: Path) -> str:
    """The folder the workers load the flows from."""
    given = environ.get("PROJECT_DIR", "").strip()
    if given:  # the project's path on the workers, which may not exist on this machine
        if "{{" in given or not Path(given).is_absolute():
            raise DeploymentSetupError(f"PROJECT_DIR={given!r} must be the project folder's absolute path")
        return given
    if not (cwd / "flows" / "ingest.py").is_file():
        raise DeploymentSetupError(
            f"prefect deploy runs in {cwd}, which has no flows/ingest.py: run it from the project folder "
            "(the one with prefect.yaml), or set PROJECT_DIR to the project folder of the workers; "
            "nothing was deployed"
        )
    return str(cwd.resolve())


def results_location(environ: Mapping[str, str]) -> str | None:
    """Where results go: GEOCUBE_INGESTER_RESULTS_URI, else a folder of the ingester's storage."""
    given = environ.get(RESULTS_URI_ENV, "").strip()
    if given:
        return given
    storage = environ.get(STORAGE_URI_ENV, "").strip()
    return f"{storage.rstrip('/')}/{RESULTS_FOLDER}" if storage else None


def result_storage_for(location: str) -> WritableFileSystem:
    """A LocalFileSystem block on a path, a RemoteFileSystem block on a URL."""
    parts = urlsplit(location)
    scheme = parts.scheme
    if scheme in ("", "file") or len(scheme) == 1:  # a path (one letter: a Windows drive)
        path = Path(unquote(parts.path) if scheme == "file" else location).expanduser()
        if not path.is_absolute():
            raise DeploymentSetupError(
                f"result storage {location!r} is a relative path: set {RESULTS_URI_ENV} (or "
                f"{STORAGE_URI_ENV}) to an absolute path that every worker mounts"
            )
        return LocalFileSystem(basepath=str(path))
    try:  # the fsspec implementation must be here (and on every worker): s3fs for s3://, gcsfs for gs://
        fsspec.get_filesystem_class(scheme)
    except (ImportError, ValueError) as exc:
        raise DeploymentSetupError(
            f"result storage {location!r}: no fsspec file system for {scheme}:// here ({exc}); install it "
            f"on every worker (s3fs for s3://, gcsfs for gs://) or set {RESULTS_URI_ENV} to a shared path"
        ) from None
    return RemoteFileSystem(basepath=location)


def _block_slug(kind: type[WritableFileSystem]) -> str:
    return f"{kind.get_block_type_slug()}/{RESULTS_BLOCK}"


def ensure_result_storage(location: str | None) -> str:
    """Save (or keep) the result storage block; return its ``block-type/name`` slug."""
    if location is None:
        for kind in (LocalFileSystem, RemoteFileSystem):
            try:
                kind.load(RESULTS_BLOCK)
            except ValueError:  # no such block of this type
                continue
            return _block_slug(kind)
        raise DeploymentSetupError(
            f"no result storage that every worker reads: set {STORAGE_URI_ENV} (the storage the workers "
            f"share; results go to its {RESULTS_FOLDER} folder) or {RESULTS_URI_ENV}, then deploy again "
            "(deployments/up.sh does both); nothing was deployed"
        )
    block = result_storage_for(location)
    block.save(RESULTS_BLOCK, overwrite=True)
    return _block_slug(type(block))


def prepare_deployment() -> dict[str, str]:
    """The ``prefect.yaml`` build step: ``{{ project.directory }}``, ``{{ project.result_storage }}``.

    Raises:
        DeploymentSetupError: not run from the project folder, or no result storage known.
    """
    environ = dict(os.environ)
    directory = project_directory(environ, Path.cwd())
    return {"directory": directory, "result_storage": ensure_result_storage(results_location(environ))}
