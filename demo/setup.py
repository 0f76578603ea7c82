"""Setting up the demo's world: the generated archive, the local Geocube and its variables."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from common.dataformat import DataFormat
from demo.archive import make_demo_archive
from geocube_client.client import GeocubeClient
from geocube_client.errors import GeocubeAlreadyExistsError, GeocubeNotFoundError

PAYLOAD = Path(__file__).with_name("payload.json")
# Top-of-atmosphere reflectance: slightly negative for dark pixels since baseline 04.00, above 1 for
# bright clouds; the range only bounds what IndexDatasets accepts, the cast keeps any value.
REFLECTANCE = DataFormat(dtype="float32", no_data=math.nan, min_value=-0.1, max_value=1.6)


def load_demo_payload() -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(PAYLOAD.read_text())
    return payload


def ensure_variables(client: GeocubeClient, payload: dict[str, Any]) -> None:
    """Create the variables and instances the payload's layers name: reflectance as Float32, as the
    built-in ExtractS2Bands maps it ((DN + offset) / quantification, nodata NaN). A cube casts real
    values into the variable's format, so an integer variable would round reflectance to 0 or 1."""
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
                dformat=REFLECTANCE,
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
