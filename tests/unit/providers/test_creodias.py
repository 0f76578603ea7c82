"""Creodias catalogue: the CDSE OData searcher pointed at Creodias, on the real recorded Creodias page
(shared fixtures ``creodias/odata``; PROVENANCE.md, "Creodias OData")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalogue.errors import CatalogueError
from catalogue.models import Constellation
from providers.cdse.products import parse_product
from providers.cdse.search import CdseODataSearcher
from providers.creodias import DEFAULT_BASE_URL, CreodiasODataSearcher
from tests.unit.providers.cdse_support import s2_query

PAGE = "creodias/odata/products_s1_grd_expand_attributes_count_top10.json"


def test_it_is_the_cdse_searcher_at_creodias() -> None:
    searcher = CreodiasODataSearcher()
    assert isinstance(searcher, CdseODataSearcher)
    assert (searcher.name, searcher.base_url) == ("creodias", DEFAULT_BASE_URL)
    assert searcher.supports(Constellation.SENTINEL1) and searcher.supports(Constellation.SENTINEL2)
    assert not searcher.supports(Constellation.PHR)
    assert CreodiasODataSearcher(base_url="http://127.0.0.1:9/odata/v1/", page_size=10).page_size == 10


def test_every_recorded_creodias_product_parses(shared_fixtures: Path) -> None:
    products = json.loads((shared_fixtures / PAGE).read_text())["value"]
    scenes = [parse_product(p, Constellation.SENTINEL1, catalogue="creodias") for p in products]
    assert len(scenes) == 10 and {s.catalogue for s in scenes} == {"creodias"}
    assert {s.tags["productType"] for s in scenes} == {"IW_GRDH_1S"}
    assert [s.date for s in scenes] == sorted(s.date for s in scenes)
    assert all(s.metadata["online"] is True and s.metadata["s3_path"].startswith("/eodata/") for s in scenes)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"parameters": {"swathidentifier": "IW1"}},
            "catalogue 'creodias' does not understand 'swathidentifier'",
        ),
        ({"constellation": Constellation.LANDSAT89}, "catalogue 'creodias' has no Landsat89 products"),
    ],
)
def test_a_parameter_error_names_creodias(changes: dict[str, object], expected: str) -> None:
    # Refused before any request (the base URL is never reached): the filter is built first.
    searcher = CreodiasODataSearcher(base_url="http://127.0.0.1:9/odata/v1")
    with pytest.raises(CatalogueError, match=expected) as caught:
        searcher.search(s2_query(**changes))
    assert "cdse" not in str(caught.value)
