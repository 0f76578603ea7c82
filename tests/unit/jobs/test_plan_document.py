"""A dry run's document carries the payload's plan-wide fields, as the original writes them."""

from __future__ import annotations

import json
from pathlib import Path

from catalogue.interchange import InterchangeShape, read_interchange
from jobs.ingestion import Prepared, make_plan, plan_document
from jobs.payload import parse_payload


def test_the_plan_document_carries_graph_config_retriable_storage_and_layers(shared_fixtures: Path) -> None:
    original = shared_fixtures / "original-ingester"
    raw = json.loads((original / "payloads" / "DenmarkDemoS1.json").read_text())
    raw |= {"storage_uri": "/data/aoi-storage", "is_retriable": True}
    payload = parse_payload(raw)
    read = read_interchange(original / "interchange" / "tiles.json")
    assert read.originals and read.is_retriable is False  # the document's scenes keep their own values
    kept = plan_document(Prepared(payload=payload, instances_id={}, document=read), make_plan(payload, read))
    assert read_interchange(kept).is_retriable is False
    # Without per-scene values of its own, a plan takes the payload's.
    document = read.model_copy(update={"originals": {}})
    prepared = Prepared(payload=payload, instances_id={"sigma0_VV": "inst-vv"}, document=document)
    written = plan_document(prepared, make_plan(payload, document))
    again = read_interchange(written)
    assert again.shape is InterchangeShape.CURRENT
    assert (
        again.graph_config
        == payload.graph_config
        == {
            "projection": "EPSG:32632",
            "snap_cpu_parallelism": "8",
            "bkg_resampling": "BISINC_5_POINT_INTERPOLATION",
        }
    )
    assert again.is_retriable is True
    assert again.storage_uri == "/data/aoi-storage"
    assert again.instances_id == {"sigma0_VV": "inst-vv"}
    assert again.properties == document.properties
    assert len(again.tiles) == len(document.tiles) > 0
