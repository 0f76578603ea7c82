"""Setting up the demo's world: the generated archive, the local Geocube and its variables."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from demo.archive import make_demo_archive
from geocube_client.client import GeocubeClient
from geocube_client.errors import GeocubeAlreadyExistsError, GeocubeNotFoundError
from geocube_client.models import DataFormat

PAYLOAD = Path(__file__).with_name("payload.json")


def load_demo_payload() -> dict[str, Any]:
    return json.loads(PAYLOAD.read_text())


def ensure_variables(client: GeocubeClient, payload: dict[str, Any]) -> None:
    """Create the variables and instances the payload's layers name (reflectance, uint16 0..10000)."""
    for spec in payload["layers"].values():
        try:
            variable = client.get_variable(name=spec["variable"])
            variable_id = variable.id
            known = {i.name for i in variable.instances}
        except GeocubeNotFoundError:
            variable_id = client.create_variable(
                name=spec["variable"],
                bands=["reflectance"],
                unit="",
                resampling="BILINEAR",
                description="Sentinel-2 top-of-atmosphere reflectance",
                dformat=DataFormat(dtype="uint16", no_data=0, min_value=0, max_value=10000),
            )
            known = set()
        if spec["instance"] not in known:
            try:
                client.instantiate_variable(variable_id, spec["instance"], metadata={"source": "demo"})
            except GeocubeAlreadyExistsError:
                pass


def demo_environment(root: Path, geocube_address: str) -> dict[str, str]:
    """The ingester settings of the demo: everything local and offline."""
    return {
        "GEOCUBE_SERVER": geocube_address,
        "GEOCUBE_INSECURE": "true",
        "GEOCUBE_INGESTER_STORAGE_URI": str((root / "storage").resolve()),
        "GEOCUBE_INGESTER_WORKDIR": str((root / "work").resolve()),
        "GEOCUBE_INGESTER_CATALOGUES": "static-stac",
        "GEOCUBE_INGESTER_STATIC_STAC_CATALOG": str((root / "stac").resolve()),
        "GEOCUBE_INGESTER_PROVIDERS": "local,url",
        "GEOCUBE_INGESTER_LOCAL_ARCHIVE": str((root / "archive").resolve()),
    }


def prepare_demo(root: Path, **archive_options: Any) -> None:
    """Generate the archive and the folders the demo settings point at."""
    make_demo_archive(root, **archive_options)
    for sub in ("storage", "work"):
        (root / sub).mkdir(parents=True, exist_ok=True)


def apply_environment(env: dict[str, str]) -> None:
    os.environ.update(env)
