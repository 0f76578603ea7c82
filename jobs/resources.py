"""Connections built from the settings inside a task (never passed as parameters: they hold secrets)."""

from __future__ import annotations

from common.errors import PermanentError
from common.settings import Settings
from geocube_client.client import GeocubeClient
from storage import open_storage


def open_geocube(settings: Settings) -> GeocubeClient:
    if not settings.geocube_server:
        raise PermanentError(
            "GEOCUBE_SERVER is not set: give the host:port of the Geocube gRPC API "
            "(and GEOCUBE_APIKEY, GEOCUBE_INSECURE as needed)"
        )
    return GeocubeClient(
        settings.geocube_server, api_key=settings.geocube_apikey, insecure=settings.geocube_insecure
    )


def storage_uri_for(payload_storage_uri: str, settings: Settings, *, required: bool = True) -> str:
    """The storage of an ingestion (the payload's, else the settings'), checked to open; "" if none
    and not ``required`` (a plan without storage has no ledger)."""
    uri = payload_storage_uri or settings.storage_uri
    if not uri:
        if required:
            raise PermanentError("no storage: set GEOCUBE_INGESTER_STORAGE_URI or the payload's storage_uri")
        return ""
    open_storage(uri)  # an unsupported or relative URI fails here, before any record or download
    return uri
