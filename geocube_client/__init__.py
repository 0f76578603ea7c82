"""Geocube gRPC client, our own wire-compatible ``.proto``, and a Geocube-compatible local server.

Plain Python (no Prefect). The local server lives in ``geocube_client.server`` and is not imported here,
so that importing the client does not import rasterio.
"""

from geocube_client.client import GeocubeClient
from geocube_client.errors import (
    GeocubeAlreadyExistsError,
    GeocubeAuthError,
    GeocubeError,
    GeocubeFailedPreconditionError,
    GeocubeInvalidArgumentError,
    GeocubeNotFoundError,
    GeocubeTemporaryError,
)
from geocube_client.models import Container, Dataset, IndexOutcome, Instance, NewRecord, Record, Variable

__all__ = [
    "Container",
    "Dataset",
    "GeocubeAlreadyExistsError",
    "GeocubeAuthError",
    "GeocubeClient",
    "GeocubeError",
    "GeocubeFailedPreconditionError",
    "GeocubeInvalidArgumentError",
    "GeocubeNotFoundError",
    "GeocubeTemporaryError",
    "IndexOutcome",
    "Instance",
    "NewRecord",
    "Record",
    "Variable",
]
