"""The original ingester's OneAtlas demo payload (Pléiades: PhrPreProcessing, PhrProcessing) validates, plans.

The payload is the original's own file (../shared/fixtures/original-ingester/payloads/OneAtlasDemo.json).
No OneAtlas exchange was ever recorded (PROVENANCE.md, "Not found"): the catalogue answers come from
tests/support/oneatlas_api.py, built from Airbus' published OneAtlas API documentation, served on 127.0.0.1.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalogue.models import Constellation
from common.dataformat import DataFormat
from geocube_client.client import GeocubeClient
from geocube_client.errors import GeocubeAlreadyExistsError
from graphs.loader import GRAPHS_DIR, LIBRARY_DIR, load_graph, load_graph_file
from graphs.model import Graph
from jobs.ingestion import make_plan
from jobs.validation import validate_payload
from tests.support import oneatlas_api as api
from tests.support.replay import ReplayServer, Route

APIKEY = "test-oneatlas-apikey-payloads"
DIMAP_GRAPHS = ("PhrPreProcessing", "SpotPreProcessing", "PhrProcessing", "SpotProcessing")
# Two bundles over the payload's AOI (1..2°E, 43..44°N, Toulouse), one outside it.
INSIDE = "POLYGON ((1.40 43.50, 1.60 43.50, 1.60 43.70, 1.40 43.70, 1.40 43.50))"
OUTSIDE = "POLYGON ((5.40 43.50, 5.60 43.50, 5.60 43.70, 5.40 43.70, 5.40 43.50))"
SCENES = {
    "DS_PHR1A_201909101053025_FR1_PX_E001N43_0720_01234": ("uuid-1", INSIDE, "2019-09-10T10:53:02.500Z"),
    "DS_PHR1B_202104031048123_FR1_PX_E001N43_0612_05678": ("uuid-2", INSIDE, "2021-04-03T10:48:12.300Z"),
    "DS_PHR1A_202006011040000_FR1_PX_E005N43_0101_00001": ("uuid-3", OUTSIDE, "2020-06-01T10:40:00.000Z"),
}


def load_payload_graph(name: str) -> Graph:
    """The graph loader; the four DIMAP graphs read from graphs/library as the loader reads a built-in,
    until graphs/loader.py lists them in BUILTIN_GRAPHS (issue 10)."""
    if name in DIMAP_GRAPHS:
        return load_graph_file(LIBRARY_DIR / f"{name}.json", command_roots=(GRAPHS_DIR,), source=name)
    return load_graph(name)


@pytest.fixture
def one_atlas_demo(shared_fixtures: Path) -> dict[str, Any]:
    path = shared_fixtures / "original-ingester" / "payloads" / "OneAtlasDemo.json"
    raw: dict[str, Any] = json.loads(path.read_text())
    return raw


@pytest.fixture
def oneatlas(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayServer]:
    features = [
        api.feature(uuid, identifier, wkt, acquisition_date=date, product_type="bundle")
        for identifier, (uuid, wkt, date) in SCENES.items()
    ]
    with ReplayServer() as server:
        server.add(
            Route(
                "POST",
                api.SEARCH_PATH,
                body=api.search_page(features, total=len(features), start_page=1, per_page=200),
            )
        )
        monkeypatch.setenv("GEOCUBE_INGESTER_ONEATLAS_APIKEY", APIKEY)
        monkeypatch.setenv("GEOCUBE_INGESTER_ONEATLAS_SEARCH_URL", server.url(api.SEARCH_PATH))
        monkeypatch.setenv("GEOCUBE_INGESTER_ONEATLAS_ORDER_URL", server.url(""))
        monkeypatch.setenv("GEOCUBE_INGESTER_ONEATLAS_AUTH_URL", server.url(api.AUTH_PATH))
        monkeypatch.setenv("GEOCUBE_INGESTER_CATALOGUES", "phr=oneatlas; spot=oneatlas")
        yield server


def test_the_oneatlas_demo_payload_validates_with_the_phr_graphs(one_atlas_demo: dict[str, Any]) -> None:
    payload, instances = validate_payload(one_atlas_demo, load_graph=load_payload_graph, geocube=None)
    assert payload.constellation == Constellation.PHR
    assert (payload.scene_graph_name, payload.tile_graph_name) == ("PhrPreProcessing", "PhrProcessing")
    assert sorted(payload.layers) == ["MS", "P"]
    assert instances == {}  # no Geocube asked


@pytest.mark.integration
def test_the_oneatlas_demo_payload_validates_against_a_geocube(
    one_atlas_demo: dict[str, Any], local_geocube: str
) -> None:
    """MS (4 bands) and P (1 band), indexed as Int16,0,0,32767 over [0, 1], fit Float32 [0, 1] variables
    (an Int16 [0, 32767] variable would lose them: validation says so and names that fix)."""
    variables = {"Multispectral_4bands": ["B0", "B1", "B2", "B3"], "Panchromatic": ["P"]}
    with GeocubeClient(local_geocube, insecure=True) as geocube:
        for name, bands in variables.items():
            try:
                variable_id = geocube.create_variable(
                    name=name, bands=bands, dformat=DataFormat("float32", math.nan, 0.0, 1.0)
                )
            except GeocubeAlreadyExistsError:
                continue
            geocube.instantiate_variable(variable_id, "default")
        _, instances = validate_payload(one_atlas_demo, load_graph=load_payload_graph, geocube=geocube)
    assert sorted(instances) == ["MS", "P"] and all(instances.values())


def test_the_oneatlas_demo_payload_plans_one_tile_per_bundle_in_its_aoi(
    one_atlas_demo: dict[str, Any], oneatlas: ReplayServer
) -> None:
    payload, _ = validate_payload(one_atlas_demo, load_graph=load_payload_graph, geocube=None)
    plan = make_plan(payload)
    inside = sorted(name for name, (_, wkt, _) in SCENES.items() if wkt == INSIDE)
    assert sorted(s.source_id for s in plan.scenes) == inside
    assert sorted(t.scene_id for t in plan.tiles) == inside
    assert plan.constellation == Constellation.PHR
    (search,) = [r for r in oneatlas.requests if r.path.startswith(api.SEARCH_PATH)]
    sent = json.loads(search.body)
    assert sent["productType"] == "bundle" and sent["cloudCover"] == "[0,80]"
    assert APIKEY not in json.dumps(plan.model_dump(mode="json"))


def test_a_spot_payload_with_the_spot_graphs_validates(one_atlas_demo: dict[str, Any]) -> None:
    spot = one_atlas_demo | {"scene_graph_name": "SpotPreProcessing", "tile_graph_name": "SpotProcessing"}
    spot["scene_type"] = one_atlas_demo["scene_type"] | {"constellation": "SPOT"}
    payload, _ = validate_payload(spot, load_graph=load_payload_graph, geocube=None)
    assert payload.constellation == Constellation.SPOT
