"""CDSE products from the ``eodata`` S3 bucket, file by file: the ``cdse-s3`` provider.

CDSE keeps every product unzipped in the bucket ``eodata`` of its S3 endpoint
(``https://eodata.dataspace.copernicus.eu``, path-style, region ``default``), at the OData product's
``S3Path`` (``/eodata/Sentinel-1/SAR/IW_SLC__1S/2022/09/18/<name>.SAFE``), which the CDSE searcher keeps
as the scene's ``s3_path`` (``providers.cdse.products``). Keys are an S3 key pair made in the CDSE
dashboard (``GEOCUBE_INGESTER_CDSE_S3_ACCESS_KEY``/``..._SECRET_KEY``), not the account's password
(documentation.dataspace.copernicus.eu, "APIs / S3").

Why this exists beside ``cdse`` (the OData zip): ranges on the zip are unreliable (CDSETool #69), so a
cut restarts a multi-GB product. Here the product is the ``.SAFE`` folder's files, each fetched on its
own with its own resume (``providers.objects``): a file complete with its listed size is not fetched
again, a ``.part`` goes on with a ranged GET, and the folder is renamed into ``<dest_dir>/<name>.SAFE/``
once all files are there. A product that is one object (the ``S3Path`` of auxiliary files ends in
``.SAFE.zip``) is fetched as that one file.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from pydantic import SecretStr

from catalogue.models import Scene
from common.settings import Settings
from providers.errors import ProductNotFoundError
from providers.objects import ObjectFetcher, fetch_folder, list_folder
from storage.object import open_store

BUCKET = "eodata"
REGION = "default"  # what CDSE's S3 documentation signs with
AUTH_SETTINGS = (
    "GEOCUBE_INGESTER_CDSE_S3_ACCESS_KEY and GEOCUBE_INGESTER_CDSE_S3_SECRET_KEY "
    "(an S3 key pair of the CDSE dashboard)"
)


def eodata_key(s3_path: str) -> str | None:
    """The key under the bucket of an OData ``S3Path`` (``/eodata/Sentinel-1/...``, ``s3://eodata/...``),
    None when it is not one."""
    path = s3_path.strip().removeprefix("s3://").lstrip("/")
    if not path.startswith(f"{BUCKET}/") or len(PurePosixPath(path).parts) < 3:
        return None
    return path.removeprefix(f"{BUCKET}/").rstrip("/")


class CdseS3Downloader:
    """Downloads CDSE products from ``eodata`` (module docstring)."""

    name = "cdse-s3"

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: SecretStr,
        timeout_s: float = 60.0,
        max_retries: int = 5,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.fetcher = ObjectFetcher(auth_settings=AUTH_SETTINGS)
        # The key pair lives in the store only: never in a message, a log line or a repr.
        self._store = open_store("s3", BUCKET, endpoint_url=self.endpoint, access_key_id=access_key,
                                 secret_access_key=secret_key.get_secret_value(), region=REGION,
                                 timeout_s=timeout_s, max_retries=max_retries)  # fmt: skip

    def __repr__(self) -> str:
        return f"CdseS3Downloader(endpoint={self.endpoint!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> CdseS3Downloader | None:
        """None without the S3 key pair (GEOCUBE_INGESTER_CDSE_S3_ACCESS_KEY and _SECRET_KEY)."""
        if not settings.cdse_s3_access_key or settings.cdse_s3_secret_key is None:
            return None
        return cls(
            endpoint=settings.cdse_s3_endpoint,
            access_key=settings.cdse_s3_access_key,
            secret_key=settings.cdse_s3_secret_key,
            timeout_s=settings.http_timeout_s,
        )

    def download(self, scene: Scene, dest_dir: Path) -> Path:
        s3_path = str(scene.metadata.get("s3_path") or "")
        if not s3_path:
            raise ProductNotFoundError(
                f"{scene.source_id}: no CDSE S3Path (found by {scene.catalogue or 'no catalogue'}); "
                "a scene found by the cdse catalogue has one"
            )
        key = eodata_key(s3_path)
        if key is None:
            raise ProductNotFoundError(f"{scene.source_id}: S3Path {s3_path!r} is not in the {BUCKET} bucket")
        name = PurePosixPath(key).name
        shown = f"s3://{BUCKET}/{key}"
        what = scene.source_id
        files = list_folder(self._store, key, what=what, shown=shown, auth_settings=AUTH_SETTINGS)
        if not files:  # some products are one object (AUX files: <name>.SAFE.zip)
            return self.fetcher.fetch(self._store, key, dest_dir / name, what=what, shown=shown).path
        return fetch_folder(
            self.fetcher, self._store, key, dest_dir / name, what=what, shown=shown, sizes=files
        )
