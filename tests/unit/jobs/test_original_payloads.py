"""The original ingester's demo payloads validate and plan: OneAtlas (Pléiades: PhrPreProcessing,
PhrProcessing) and Sentinel-1 (S1Preprocessing, S1BackscatterCoherence).

The payloads are the original's own files (../shared/fixtures/original-ingester/payloads).
No OneAtlas exchange was ever recorded (PROVENANCE.md, "Not found"): the catalogue answers come from
tests/support/oneatlas_api.py, built from Airbus' published OneAtlas API documentation, served on 127.0.0.1.
The Sentinel-1 payload is planned from the original's own tiles document (interchange/tiles.json).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalogue.interchange import read_interchange
from catalogue.models import Constellation
from common.dataformat import DataFormat
from common.errors import IngestError
from geocube_client.client import GeocubeClient
from geocube_client.errors import GeocubeAlreadyExistsError
from graphs.loader import load_graph
from graphs.model import Engine, Graph
from graphs.snap_engine import SNAP_GPT_ENV, SNAP_GRAPHS_ENV
from jobs.ingestion import make_plan
from jobs.validation import validate_payload
from tests.support import oneatlas_api as api
from tests.support.replay import ReplayServer, Route
from tests.support.standin_exec import make_standin

APIKEY = "test-oneatlas-apikey-payloads"
SNAP = frozenset({Engine.PYTHON, Engine.CMD, Engine.SNAP})
NO_SNAP = frozenset({Engine.PYTHON, Engine.CMD})
# Two bundles over the payload's AOI (1..2°E, 43..44°N, Toulouse), one outside it.
INSIDE = "POLYGON ((1.40 43.50, 1.60 43.50, 1.60 43.70, 1.40 43.70, 1.40 43.50))"
OUTSIDE = "POLYGON ((5.40 43.50, 5.60 43.50, 5.60 43.70, 5.40 43.70, 5.40 43.50))"
SCENES = {
    "DS_PHR1A_201909101053025_FR1_PX_E001N43_0720_01234": ("uuid-1", INSIDE, "2019-09-10T10:53:02.500Z"),
    "DS_PHR1B_202104031048123_FR1_PX_E001N43_0612_05678": ("uuid-2", INSIDE, "2021-04-03T10:48:12.300Z"),
    "DS_PHR1A_202006011040000_FR1_PX_E005N43_0101_00001": ("uuid-3", OUTSIDE, "2020-06-01T10:40:00.000Z"),
}


def load_payload_graph(name: str) -> Graph:
    """The graph loader as validation calls it (the DIMAP graphs are built-ins)."""
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


@pytest.fixture
def denmark_s1(shared_fixtures: Path) -> dict[str, Any]:
    path = shared_fixtures / "original-ingester" / "payloads" / "DenmarkDemoS1.json"
    raw: dict[str, Any] = json.loads(path.read_text())
    return raw


@pytest.fixture
def dem_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DEM configured where processing runs (local mode): the python σ⁰ variant needs one."""
    from tests.support.dem import write_flat_dem

    dem = write_flat_dem(tmp_path / "dem.tif", (9.0, 54.0, 11.0, 56.0), height_m=20.0)
    monkeypatch.setenv("GEOCUBE_INGESTER_DEM", str(dem))
    monkeypatch.setenv("GEOCUBE_INGESTER_DEM_DATUM", "ellipsoid")
    return dem


def test_the_python_variant_without_a_dem_here_is_refused_naming_the_setting(
    denmark_s1: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEOCUBE_INGESTER_DEM", raising=False)
    with pytest.raises(IngestError, match=r"tile_graph_name: graph 'S1BackscatterCoherence' reads a DEM: "
                       r"GEOCUBE_INGESTER_DEM is not set"):  # fmt: skip
        validate_payload(denmark_s1, load_graph=lambda name: load_graph(name, engines=NO_SNAP), geocube=None)


@pytest.mark.usefixtures("dem_here")
def test_the_s1_demo_payload_validates_without_snap_and_says_coherence_needs_it(
    denmark_s1: dict[str, Any],
) -> None:
    """Without the snap engine, s1_engine auto picks the python variant: σ⁰ is made, coherence is not.
    The payload still validates (its coh_* out-files are there, never written); the tile graph's
    unavailable_layers tells validation what to warn about."""
    graphs: dict[str, Graph] = {}

    def loader(name: str) -> Graph:
        graphs[name] = load_graph(name, engines=NO_SNAP, config=denmark_s1["graph_config"])
        return graphs[name]

    payload, instances = validate_payload(denmark_s1, load_graph=loader, geocube=None)
    assert (payload.scene_graph_name, payload.tile_graph_name) == (
        "S1Preprocessing",
        "S1BackscatterCoherence",
    )
    assert sorted(payload.layers) == ["coh_VH", "coh_VV", "sigma0_VH", "sigma0_VV"]
    assert instances == {}
    tile_graph = graphs["S1BackscatterCoherence"]
    assert {s.engine for s in tile_graph.processing_steps} == {Engine.PYTHON}  # the python variant
    missing = sorted(set(payload.layers) & set(tile_graph.unavailable_layers))
    assert missing == ["coh_VH", "coh_VV"]
    assert "needs ESA SNAP" in tile_graph.unavailable_layers["coh_VV"]


def test_the_s1_demo_payload_validates_with_snap_where_gpt_and_its_xml_are(
    denmark_s1: dict[str, Any], shared_fixtures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gpt = make_standin(tmp_path / "bin", "gpt")
    monkeypatch.setenv(SNAP_GPT_ENV, str(gpt.path))
    monkeypatch.setenv(SNAP_GRAPHS_ENV, str(shared_fixtures / "original-ingester" / "graphs" / "snap"))

    def loader(name: str) -> Graph:
        return load_graph(name, config=denmark_s1["graph_config"])  # this machine: gpt is here

    payload, _ = validate_payload(denmark_s1, load_graph=loader, geocube=None)
    assert loader(payload.tile_graph_name).unavailable_layers == {}
    # without the SNAP XML folder, the snap variant is refused, naming the setting
    monkeypatch.setenv(SNAP_GRAPHS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(
        IngestError, match=rf"scene_graph_name.*S1_SLC_BurstSplit_AO_CAL.xml.*{SNAP_GRAPHS_ENV}"
    ):
        validate_payload(denmark_s1, load_graph=loader, geocube=None)


def test_the_s1_demo_payload_plans_from_the_originals_tiles_document(
    denmark_s1: dict[str, Any], shared_fixtures: Path
) -> None:
    payload, _ = validate_payload(  # a plan runs no step: neither engine nor DEM is needed
        denmark_s1,
        load_graph=lambda name: load_graph(name, engines=NO_SNAP),
        geocube=None,
        require_engines=False,
    )
    document = read_interchange(shared_fixtures / "original-ingester" / "interchange" / "tiles.json")
    plan = make_plan(payload, document)
    assert plan.constellation == Constellation.SENTINEL1
    assert len(plan.scenes) == 3 and plan.tiles
    assert {t.swath_id for t in plan.tiles} <= {"IW1", "IW2", "IW3"} and all(
        t.tile_nr > 0 for t in plan.tiles
    )
    roots = [t for t in plan.tiles if t.previous is None and t.reference is None]
    assert roots and len(roots) < len(plan.tiles), "later tiles link to their previous and reference"
