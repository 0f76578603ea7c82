"""Settings of a deployment, read from the environment (never from flow parameters).

Secrets (API keys, passwords) are ``SecretStr``: they are never logged, never shown in the Prefect UI
as parameters, and never put into an exception message. A secret the environment leaves unset may come
from a secret store instead: ``load_settings`` asks the lookups registered with
:func:`register_secret_lookup` for it by its block name (``secret_block_name``: the variable's name in
lower case with dashes, ``geocube-ingester-cdse-password``). The orchestration layer registers Prefect
Secret blocks (``tasks.secrets``); this module knows no Prefect.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.redaction import register_secret


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
        description="GEOCUBE_INGESTER_STORAGE_URI: where tiles and layers are stored: an absolute path, "
        "s3://bucket/prefix or gs://bucket/prefix (a payload's storage_uri overrides it)",
    )
    workdir: Path | None = Field(
        default=None, description="GEOCUBE_INGESTER_WORKDIR: scratch space (default: the system temp dir)"
    )
    catalogues: str = Field(
        default="sentinel1=cdse,asf; sentinel2=cdse; landsat89=stac-landsat; phr=oneatlas; spot=oneatlas",
        description="GEOCUBE_INGESTER_CATALOGUES: the catalogues tried in order, for every constellation "
        "('cdse,static-stac') or per constellation ('sentinel2=creodias,cdse; landsat89=stac-landsat; "
        "*=static-stac'). Names: cdse, creodias, asf, dhus, oneatlas, static-stac, stac-landsat, "
        "stac-earth-search, stac-cdse",
    )
    static_stac_catalog: str = Field(
        default="", description="GEOCUBE_INGESTER_STATIC_STAC_CATALOG: folder of a static STAC catalogue"
    )
    cdse_odata_url: str = Field(
        default="https://catalogue.dataspace.copernicus.eu/odata/v1",
        description="GEOCUBE_INGESTER_CDSE_ODATA_URL: CDSE OData endpoint",
    )
    cdse_download_url: str = Field(
        default="https://download.dataspace.copernicus.eu/odata/v1",
        description="GEOCUBE_INGESTER_CDSE_DOWNLOAD_URL: CDSE download endpoint (Products(<id>)/$value)",
    )
    cdse_token_url: str = Field(
        default="https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token",
        description="GEOCUBE_INGESTER_CDSE_TOKEN_URL: CDSE identity token endpoint",
    )
    cdse_username: str = Field(default="", description="GEOCUBE_INGESTER_CDSE_USERNAME: CDSE account")
    cdse_password: SecretStr | None = Field(default=None, description="GEOCUBE_INGESTER_CDSE_PASSWORD")
    cdse_s3_endpoint: str = Field(
        default="https://eodata.dataspace.copernicus.eu",
        description="GEOCUBE_INGESTER_CDSE_S3_ENDPOINT: CDSE eodata S3 endpoint (provider cdse-s3)",
    )
    cdse_s3_access_key: str = Field(
        default="",
        description="GEOCUBE_INGESTER_CDSE_S3_ACCESS_KEY: CDSE S3 key (eodata.dataspace.copernicus.eu)",
    )
    cdse_s3_secret_key: SecretStr | None = Field(
        default=None, description="GEOCUBE_INGESTER_CDSE_S3_SECRET_KEY"
    )
    cdse_burst_url: str = Field(
        default="https://download.dataspace.copernicus.eu/odata/v1",
        description="GEOCUBE_INGESTER_CDSE_BURST_URL: CDSE burst service (POST Bursts(<id>)/$value)",
    )
    asf_burst_url: str = Field(
        default="https://sentinel1-burst.asf.alaska.edu",
        description="GEOCUBE_INGESTER_ASF_BURST_URL: ASF burst extractor ({SLC}/{IW}/{POL}/{i}.tiff|.xml)",
    )
    creodias_download_url: str = Field(
        default="https://zipper.creodias.eu/odata/v1",
        description="GEOCUBE_INGESTER_CREODIAS_DOWNLOAD_URL: Creodias download endpoint",
    )
    creodias_token_url: str = Field(
        default="https://identity.cloudferro.com/auth/realms/Creodias-new/protocol/openid-connect/token",
        description="GEOCUBE_INGESTER_CREODIAS_TOKEN_URL: Creodias identity token endpoint",
    )
    creodias_username: str = Field(default="", description="GEOCUBE_INGESTER_CREODIAS_USERNAME")
    creodias_password: SecretStr | None = Field(
        default=None, description="GEOCUBE_INGESTER_CREODIAS_PASSWORD"
    )
    creodias_totp_secret: SecretStr | None = Field(
        default=None, description="GEOCUBE_INGESTER_CREODIAS_TOTP_SECRET: base32 secret of the account's 2FA"
    )
    s3_endpoint_url: str = Field(
        default="",
        description="GEOCUBE_INGESTER_S3_ENDPOINT_URL: S3-compatible endpoint for s3:// storage and links "
        "(empty: AWS); credentials from the usual AWS_* variables",
    )
    dem_cache: Path | None = Field(
        default=None,
        description="GEOCUBE_INGESTER_DEM_CACHE: folder caching the Copernicus GLO-30 tiles fetched when "
        "GEOCUBE_INGESTER_DEM=glo30 (default: <workdir>/dem-cache, else $XDG_CACHE_HOME/geocube-ingester)",
    )
    dem_glo30_url: str = Field(
        default="s3://copernicus-dem-30m",
        description="GEOCUBE_INGESTER_DEM_GLO30_URL: where GLO-30 tiles are read, anonymously: "
        "s3://bucket[/prefix] on AWS (eu-central-1), or http(s)://host/bucket[/prefix] on an "
        "S3-compatible endpoint (a mirror)",
    )
    s3_requester_pays: bool = Field(
        default=False,
        description="GEOCUBE_INGESTER_S3_REQUESTER_PAYS: pay for s3:// reads of requester-pays buckets "
        "(Landsat Collection 2 on usgs-landsat)",
    )
    gs_endpoint_url: str = Field(
        default="", description="GEOCUBE_INGESTER_GS_ENDPOINT_URL: GCS endpoint for gs:// (empty: Google)"
    )
    stac_landsat_url: str = Field(
        default="https://landsatlook.usgs.gov/stac-server", description="GEOCUBE_INGESTER_STAC_LANDSAT_URL"
    )
    stac_earth_search_url: str = Field(
        default="https://earth-search.aws.element84.com/v1",
        description="GEOCUBE_INGESTER_STAC_EARTH_SEARCH_URL",
    )
    stac_cdse_url: str = Field(
        default="https://stac.dataspace.copernicus.eu/v1", description="GEOCUBE_INGESTER_STAC_CDSE_URL"
    )
    creodias_odata_url: str = Field(
        default="https://datahub.creodias.eu/odata/v1", description="GEOCUBE_INGESTER_CREODIAS_ODATA_URL"
    )
    asf_search_url: str = Field(
        default="https://api.daac.asf.alaska.edu/services/search/param",
        description="GEOCUBE_INGESTER_ASF_SEARCH_URL: ASF SearchAPI",
    )
    dhus_url: str = Field(
        default="", description="GEOCUBE_INGESTER_DHUS_URL: a DHuS hub (e.g. a national mirror)"
    )
    earthdata_token: SecretStr | None = Field(
        default=None,
        description="GEOCUBE_INGESTER_EARTHDATA_TOKEN: Earthdata Login bearer token (ASF downloads)",
    )
    dhus_user: str = Field(default="", description="GEOCUBE_INGESTER_DHUS_USER")
    dhus_password: SecretStr | None = Field(default=None, description="GEOCUBE_INGESTER_DHUS_PASSWORD")
    oneatlas_username: str = Field(default="APIKEY", description="GEOCUBE_INGESTER_ONEATLAS_USERNAME")
    oneatlas_apikey: SecretStr | None = Field(default=None, description="GEOCUBE_INGESTER_ONEATLAS_APIKEY")
    oneatlas_search_url: str = Field(
        default="https://search.foundation.api.oneatlas.airbus.com/api/v2/opensearch",
        description="GEOCUBE_INGESTER_ONEATLAS_SEARCH_URL",
    )
    oneatlas_order_url: str = Field(
        default="https://data.api.oneatlas.airbus.com", description="GEOCUBE_INGESTER_ONEATLAS_ORDER_URL"
    )
    oneatlas_auth_url: str = Field(
        default="https://authenticate.foundation.api.oneatlas.airbus.com/auth/realms/IDP/protocol/openid-connect/token",
        description="GEOCUBE_INGESTER_ONEATLAS_AUTH_URL",
    )
    providers: str = Field(
        default="local,url",
        description="GEOCUBE_INGESTER_PROVIDERS: download providers tried in order, for all "
        "('local,cdse,url') or per constellation ('sentinel1=asf,cdse; *=local,url'). Names: local, "
        "cdse, cdse-s3, creodias, dhus, asf, oneatlas, stac-assets, url; burst services cdse-bursts, "
        "asf-bursts",
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
    snap_graphs: Path | None = Field(
        default=None,
        description="GEOCUBE_INGESTER_SNAP_GRAPHS: folder of the original ingester's SNAP XML graphs (its "
        "graph/snap folder: S1_SLC_BkG.xml...), looked for before the graph roots",
    )
    step_timeout_s: float = Field(default=3600.0, gt=0, description="GEOCUBE_INGESTER_STEP_TIMEOUT_S")
    http_timeout_s: float = Field(default=60.0, gt=0, description="GEOCUBE_INGESTER_HTTP_TIMEOUT_S")
    catalogue_max_response_mb: float = Field(
        default=64.0,
        gt=0,
        description="GEOCUBE_INGESTER_CATALOGUE_MAX_RESPONSE_MB: cap of one catalogue answer",
    )
    unpack_max_gb: float = Field(
        default=100.0,
        gt=0,
        description="GEOCUBE_INGESTER_UNPACK_MAX_GB: cap of what one product zip unpacks to",
    )
    unpack_max_ratio: float = Field(
        default=1000.0, gt=1, description="GEOCUBE_INGESTER_UNPACK_MAX_RATIO: cap of a zip member's expansion"
    )
    download_min_rate_bps: float = Field(
        default=1024.0,
        gt=0,
        description="GEOCUBE_INGESTER_DOWNLOAD_MIN_RATE_BPS: a download slower than this (bytes/s) over "
        "GEOCUBE_INGESTER_DOWNLOAD_STALL_WINDOW_S is cut and resumed",
    )
    download_stall_window_s: float = Field(
        default=60.0,
        gt=0,
        description="GEOCUBE_INGESTER_DOWNLOAD_STALL_WINDOW_S: the window the minimum download rate is "
        "measured over (it also bounds headers sent a byte at a time)",
    )
    catalogue_deadline_s: float = Field(
        default=300.0,
        gt=0,
        description="GEOCUBE_INGESTER_CATALOGUE_DEADLINE_S: whole time of one catalogue answer (slow bodies)",
    )
    stale_temp_s: float = Field(
        default=86400.0,
        ge=60,
        description="GEOCUBE_INGESTER_STALE_TEMP_S: a temporary file in storage or a download folder that no "
        "live process of this machine holds is removed by the next write once untouched this long",
    )

    @property
    def catalogue_max_bytes(self) -> int:
        """``catalogue_max_response_mb`` in bytes."""
        return int(self.catalogue_max_response_mb * 1024 * 1024)

    def catalogue_entries(self) -> list[tuple[str, list[str]]]:
        """``(constellation key or "*", catalogue names)`` pairs of GEOCUBE_INGESTER_CATALOGUES, in order."""
        return chain_entries(self.catalogues)

    def provider_entries(self) -> list[tuple[str, list[str]]]:
        """``(constellation key or "*", provider names)`` pairs of GEOCUBE_INGESTER_PROVIDERS, in order."""
        return chain_entries(self.providers)

    def annotation_patterns(self) -> list[str]:
        return [p.strip() for p in self.annotations_urls.split(",") if p.strip()]


def chain_entries(text: str) -> list[tuple[str, list[str]]]:
    """``'sentinel2=a,b; *=c'`` as ``[("sentinel2", ["a", "b"]), ("*", ["c"])]``; a bare list is ``*``."""
    entries = []
    for entry in text.split(";"):
        key, sep, names = entry.partition("=")
        listed = [n.strip() for n in (names if sep else key).split(",") if n.strip()]
        entries.append((key.strip() if sep else "*", listed))
    return entries


# block name -> the secret's value, or None when the store has none of that name
SecretLookup = Callable[[str], str | None]
_SECRET_LOOKUPS: list[SecretLookup] = []


def register_secret_lookup(lookup: SecretLookup) -> None:
    """Ask ``lookup`` for the secrets the environment leaves unset (once registered, in this process)."""
    if lookup not in _SECRET_LOOKUPS:
        _SECRET_LOOKUPS.append(lookup)


def env_name(field: str) -> str:
    """The environment variable of a settings field (``cdse_password`` -> GEOCUBE_INGESTER_CDSE_PASSWORD)."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return f"GEOCUBE_INGESTER_{field.upper()}"


def secret_block_name(field: str) -> str:
    """The name a secret store keeps a secret setting under: ``geocube-ingester-cdse-password``."""
    return env_name(field).lower().replace("_", "-")


SECRET_FIELDS = tuple(
    name for name, info in Settings.model_fields.items() if SecretStr in typing.get_args(info.annotation)
)


def load_settings() -> Settings:
    """The settings of the environment; secrets it leaves unset from the registered secret stores."""
    settings = Settings()
    found: dict[str, SecretStr] = {}
    for name in SECRET_FIELDS if _SECRET_LOOKUPS else ():
        if getattr(settings, name) is not None:
            continue  # the environment wins
        for lookup in _SECRET_LOOKUPS:
            value = lookup(secret_block_name(name))
            if value:
                found[name] = SecretStr(value)
                break
    if found:
        settings = settings.model_copy(update=found)
    # The log redaction masks these values wherever they appear (common.redaction).
    register_secret(
        *(secret.get_secret_value() for name in SECRET_FIELDS if (secret := getattr(settings, name)))
    )
    return settings
