"""Catalogue answers of the wrong shape end in a typed error naming the field, never a traceback (issue 12).

Every field of a real recorded product (CDSE OData S1 and S2, ASF jsonlite, an Earth Search STAC item;
PROVENANCE.md) is replaced in turn by values of every JSON type (null, numbers, NaN and 1e308, booleans,
strings, lists, objects); each parser must either read the result or raise the ingester's own error.
The searchers are then fed hostile pages: non-object items, absurd or negative counts, a STAC ``next``
link pointing back to its own page.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from catalogue.errors import CatalogueError
from catalogue.models import Constellation
from catalogue.shapes import AnswerShapeError
from common.errors import IngestError
from providers.asf import parse_result
from providers.cdse.products import parse_product
from providers.cdse.search import CdseODataSearcher
from providers.stac.api import EARTH_SEARCH, StacApiSearcher
from providers.stac.items import item_to_scene
from tests.support.replay import ReplayServer, Route
from tests.unit.providers.cdse_support import S1_PAGES, S2_TOP2, s1_query
from tests.unit.providers.stac_support import L1C_LIMIT1, landing_page

VALUES: list[Any] = [
    None,
    0,
    -1,
    1e308,
    float("nan"),
    True,
    "",
    "x",
    "2024-13-45T99:99:99Z",
    [],
    [1],
    {},
    {"a": 1},
]


def paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj[:3]):
            yield from paths(value, (*prefix, index))


def replaced(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    out = copy.deepcopy(obj)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


def first(fixtures: Path, name: str, key: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((fixtures / name).read_text())[key][0]
    return loaded


PARSERS: dict[str, tuple[str, str, Callable[[Any], object]]] = {
    "cdse-s2": (S2_TOP2, "value", lambda p: parse_product(p, Constellation.SENTINEL2)),
    "cdse-s1": (S1_PAGES[0], "value", lambda p: parse_product(p, Constellation.SENTINEL1)),
    "asf": ("asf/Fairbanks_SLC_jsonlite.json", "results", lambda r: parse_result(r)),
    "stac": (L1C_LIMIT1, "features", lambda i: item_to_scene(i, Constellation.SENTINEL2, catalogue="stac")),
}


def crashes_of(product: dict[str, Any], parse: Callable[[Any], object]) -> tuple[int, int, list[str]]:
    """(cases, crashes, examples) of every field of ``product`` in every wrong shape."""
    cases = crashes = 0
    examples: list[str] = []
    for path in list(paths(product)):
        for value in VALUES:
            cases += 1
            try:
                parse(replaced(product, path, value))
            except IngestError:
                pass
            except Exception as exc:  # noqa: BLE001 (what the test counts)
                crashes += 1
                examples.append(f"{'.'.join(map(str, path))} = {value!r}: {type(exc).__name__}: {exc}")
    return cases, crashes, examples


@pytest.mark.slow  # about 9 000 cases in all
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # shapely on NaN coords
@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_every_field_of_a_real_answer_in_every_wrong_shape(shared_fixtures: Path, parser: str) -> None:
    fixture, key, parse = PARSERS[parser]
    cases, crashes, examples = crashes_of(first(shared_fixtures, fixture, key), parse)
    assert cases > 400
    assert crashes == 0, f"{crashes} of {cases} cases crashed, e.g.\n" + "\n".join(examples[:10])


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_every_field_of_a_oneatlas_feature_in_every_wrong_shape() -> None:
    import shapely

    from providers.oneatlas.search import parse_feature
    from tests.support.oneatlas_api import download_link, feature

    aoi_wkt = "POLYGON ((1.2 43.5, 1.5 43.5, 1.5 43.7, 1.2 43.7, 1.2 43.5))"
    documented = feature(
        "b1b3a8c1", "DS_PHR1B_201704182144259", aoi_wkt, download=download_link("https://x/d")
    )
    aoi = shapely.from_wkt(aoi_wkt)
    cases, crashes, examples = crashes_of(documented, lambda f: parse_feature(f, aoi, Constellation.PHR))
    assert cases > 300
    assert crashes == 0, f"{crashes} of {cases} cases crashed, e.g.\n" + "\n".join(examples[:10])


def test_a_wrong_shape_is_named_by_its_field(shared_fixtures: Path) -> None:
    product = first(shared_fixtures, S2_TOP2, "value")
    with pytest.raises(
        AnswerShapeError, match=r"product S2A_MSIL1C_20200808T010311.*\.Checksum\[0\]: expected an"
    ):
        parse_product(replaced(product, ("Checksum", 0), "x"), Constellation.SENTINEL2)
    with pytest.raises(AnswerShapeError, match=r"\.ContentDate: expected an object, got int -1"):
        parse_product(replaced(product, ("ContentDate",), -1), Constellation.SENTINEL2)
    with pytest.raises(AnswerShapeError, match="a product is int, not an object"):
        parse_product(7, Constellation.SENTINEL2)  # type: ignore[arg-type]


def cdse_page(fixtures: Path, **changes: Any) -> bytes:
    page = json.loads((fixtures / S1_PAGES[0]).read_text())
    page.pop("@odata.nextLink", None)
    return json.dumps(page | changes).encode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"@odata.count": -1}, r"@odata.count = -1, not a product count"),
        ({"@odata.count": 10**12}, r"@odata.count = 1000000000000, not a product count"),
        ({"value": [1, 2]}, r"value\[0\] = int, not a product object"),
        ({"value": 5}, "without a 'value' list"),
    ],
)
def test_hostile_cdse_pages(shared_fixtures: Path, changes: dict[str, Any], message: str) -> None:
    routes = [Route("GET", "/odata/v1/Products", body=cdse_page(shared_fixtures, **changes))]
    with ReplayServer(routes) as server:
        searcher = CdseODataSearcher(base_url=server.url("/odata/v1"), backoff_s=0)
        with pytest.raises(CatalogueError, match=message):
            searcher.search(s1_query())
    assert len(server.requests) == 1  # refused at once: no paging through a count that is not one


def stac_routes(fixtures: Path, base: str, page: dict[str, Any]) -> list[Route]:
    return [
        Route("GET", "/v1", body=landing_page(f"{base}/v1", "earth-search-aws")),
        Route("POST", "/v1/search", body=json.dumps(page).encode()),
    ]


def test_a_stac_next_link_to_its_own_page_stops(shared_fixtures: Path) -> None:
    page = json.loads((shared_fixtures / L1C_LIMIT1).read_text())
    with ReplayServer([]) as server:
        base = server.url("")
        page["links"] = [
            {"rel": "next", "href": f"{base}/v1/search", "method": "POST", "body": {"next": "same"}}
        ]
        server.routes.extend(stac_routes(shared_fixtures, base, page))
        searcher = StacApiSearcher(EARTH_SEARCH, url=server.url("/v1"), backoff_s=0)
        with pytest.raises(CatalogueError, match="next link repeats a page already read"):
            searcher.search(stac_query())
    assert len(server.requests) <= 4  # the landing page, the first page, its repeat: then it stops


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"features": [3]}, r"features\[0\]: expected an object"),
        ({"numberMatched": -5, "context": None}, "announced -5 matching items, not a count"),
    ],
)
def test_hostile_stac_pages(shared_fixtures: Path, changes: dict[str, Any], message: str) -> None:
    page = json.loads((shared_fixtures / L1C_LIMIT1).read_text()) | changes
    page["links"] = []
    with ReplayServer([]) as server:
        server.routes.extend(stac_routes(shared_fixtures, server.url(""), page))
        searcher = StacApiSearcher(EARTH_SEARCH, url=server.url("/v1"), backoff_s=0)
        with pytest.raises(CatalogueError, match=message):
            searcher.search(stac_query())


def stac_query() -> Any:
    from datetime import UTC, datetime

    from catalogue.models import SceneQuery

    return SceneQuery(
        aoi_wkt="POLYGON ((-105.2 40.1, -105.0 40.1, -105.0 40.2, -105.2 40.2, -105.2 40.1))",
        start=datetime(2020, 1, 1, tzinfo=UTC),
        end=datetime(2026, 1, 1, tzinfo=UTC),
        constellation=Constellation.SENTINEL2,
    )


# Creodias answers as CDSE's OData does (the same parser), and its downloader reads its own lookups; DHuS
# answers go through sentinelsat's OpenSearch reader inside the searcher's error classification (as
# ``DhusSearcher.search`` calls it), then ours; a DHuS OData entity is what its downloader reads.
CREODIAS_PAGE = "creodias/odata/products_s1_grd_expand_attributes_count_top10.json"
DHUS_SEARCH = "dhus/test_s2_cloudcover.cassette.yaml"
DHUS_ODATA = "dhus/test_get_product_odata_short.cassette.yaml"


def creodias_lookup(product: Any) -> object:
    from providers.creodias import _product_id_and_metadata
    from providers.fetch import Expected

    _, metadata = _product_id_and_metadata(product, "creodias test")
    return Expected.of(metadata)


def dhus_entry(fixtures: Path) -> dict[str, Any]:
    from tests.support.cassette import load_interactions

    feed = json.loads(load_interactions(fixtures / DHUS_SEARCH)[0]["response"]["body"]["string"])["feed"]
    entry: dict[str, Any] = feed["entry"][0]
    return entry


def dhus_search_parse() -> Callable[[Any], object]:
    import requests
    from pydantic import SecretStr
    from sentinelsat.sentinel import _parse_opensearch_response

    from catalogue.http_requests import bound_session
    from providers.dhus import DhusSearcher
    from providers.dhus import parse_product as parse_dhus

    searcher = DhusSearcher(api_url="https://dhus.example.org/dhus/", user="u", password=SecretStr("p-1"))
    adapter = bound_session(requests.Session(), timeout_s=1, max_bytes=1 << 20)

    def parse(entry: Any) -> object:
        products = searcher._call(adapter, lambda: dict(_parse_opensearch_response([entry])))
        return [parse_dhus(u, p, Constellation.SENTINEL2, catalogue="dhus") for u, p in products.items()]

    return parse


def dhus_entity(fixtures: Path) -> dict[str, Any]:
    from tests.support.cassette import load_interactions

    for interaction in load_interactions(fixtures / DHUS_ODATA):
        if (
            "$format=json" in interaction["request"]["uri"]
            and interaction["response"]["status"]["code"] == 200
        ):
            entity: dict[str, Any] = json.loads(interaction["response"]["body"]["string"])["d"]
            return entity
    raise AssertionError(f"{DHUS_ODATA} holds no OData entity")


@pytest.mark.slow  # about 3 500 cases in all
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # shapely on NaN coords
@pytest.mark.parametrize("answer", ["creodias-search", "creodias-lookup", "dhus-search", "dhus-odata"])
def test_every_field_of_a_creodias_or_dhus_answer_in_every_wrong_shape(
    shared_fixtures: Path, answer: str
) -> None:
    from providers.dhus_download import describe_entity

    product, parse, least = {
        "creodias-search": (
            first(shared_fixtures, CREODIAS_PAGE, "value"),
            lambda p: parse_product(p, Constellation.SENTINEL1),
            300,
        ),
        "creodias-lookup": (first(shared_fixtures, CREODIAS_PAGE, "value"), creodias_lookup, 300),
        "dhus-search": (dhus_entry(shared_fixtures), dhus_search_parse(), 300),
        "dhus-odata": (dhus_entity(shared_fixtures), describe_entity, 150),
    }[answer]
    cases, crashes, examples = crashes_of(product, parse)  # type: ignore[arg-type]
    assert cases > least
    assert crashes == 0, f"{crashes} of {cases} cases crashed, e.g.\n" + "\n".join(examples[:10])
