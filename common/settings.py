"""Settings of a deployment, read from the environment (never from flow parameters).

Secrets (API keys, passwords) are ``SecretStr``: they are never logged, never shown in the Prefect UI
as parameters, and never put into an exception message.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Ingester settings. Environment names are given in each field's description."""

    model_config = SettingsConfigDict(env_prefix="GEOCUBE_INGESTER_", extra="ignore")

    geocube_server: str = Field(
        default="",
        validation_alias=AliasChoices("GEOCUBE_SERVER", "GEOCUBE_INGESTER_GEOCUBE_SERVER"),
        description="GEOCUBE_SERVER: host:port of the Geocube gRPC API (required outside the demo)",
    )
    geocube_apikey: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("GEOCUBE_APIKEY", "GEOCUBE_INGESTER_GEOCUBE_APIKEY"),
        description="GEOCUBE_APIKEY: sent as 'authorization: Bearer <key>'",
    )
    geocube_insecure: bool = Field(
        default=False,
        validation_alias=AliasChoices("GEOCUBE_INSECURE", "GEOCUBE_INGESTER_GEOCUBE_INSECURE"),
        description="GEOCUBE_INSECURE: plaintext gRPC instead of TLS",
    )
    storage_uri: str = Field(
        default="",
        description="GEOCUBE_INGESTER_STORAGE_URI: where tiles and layers are stored "
        "(absolute path; a payload's storage_uri overrides it)",
    )
    workdir: Path | None = Field(
        default=None, description="GEOCUBE_INGESTER_WORKDIR: scratch space (default: the system temp dir)"
    )
    catalogues: str = Field(
        default="cdse",
        description="GEOCUBE_INGESTER_CATALOGUES: comma-separated catalogue names tried "
        "in order: cdse, static-stac",
    )
    static_stac_catalog: str = Field(
        default="", description="GEOCUBE_INGESTER_STATIC_STAC_CATALOG: folder of a static STAC catalogue"
    )
    cdse_odata_url: str = Field(
        default="https://catalogue.dataspace.copernicus.eu/odata/v1",
        description="GEOCUBE_INGESTER_CDSE_ODATA_URL: CDSE OData endpoint",
    )
    providers: str = Field(
        default="local,url",
        description="GEOCUBE_INGESTER_PROVIDERS: comma-separated download providers "
        "tried in order: local, url",
    )
    local_archive: str = Field(
        default="",
        description="GEOCUBE_INGESTER_LOCAL_ARCHIVE: folder holding <YYYY>/<MM>/<DD>/<scene>.zip "
        "or <scene>.zip",
    )
    annotations_urls: str = Field(
        default="",
        description="GEOCUBE_INGESTER_ANNOTATIONS_URLS: comma-separated URL patterns of Sentinel-1 products "
        "holding the annotation files, tried in order ({SCENE}, {YEAR}... keys, e.g. /archive/{SCENE}.zip); "
        "a payload's annotations_urls are tried after them",
    )
    graph_root: Path | None = Field(
        default=None, description="GEOCUBE_INGESTER_GRAPH_ROOT: folder of user graph JSON files"
    )
    step_timeout_s: float = Field(default=3600.0, gt=0, description="GEOCUBE_INGESTER_STEP_TIMEOUT_S")
    http_timeout_s: float = Field(default=60.0, gt=0, description="GEOCUBE_INGESTER_HTTP_TIMEOUT_S")

    def catalogue_names(self) -> list[str]:
        return [c.strip() for c in self.catalogues.split(",") if c.strip()]

    def annotation_patterns(self) -> list[str]:
        return [p.strip() for p in self.annotations_urls.split(",") if p.strip()]

    def provider_names(self) -> list[str]:
        return [p.strip() for p in self.providers.split(",") if p.strip()]


def load_settings() -> Settings:
    return Settings()
