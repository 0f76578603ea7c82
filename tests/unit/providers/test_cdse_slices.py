"""CDSE listings longer than ``$skip`` reaches: the sensing window is cut into slices, read in order.

No recorded CDSE answer lists more than 10 000 products, so these tests serve a SYNTHETIC BUT
REAL-SHAPED double: every product is a product object of the recorded CDSE pages
(``cdse/odata/products_s1_20140405-20140414_expand_attributes_page*.json``, PROVENANCE.md "CDSE OData"),
copied with only ``Id``, ``Name`` and ``ContentDate`` changed; the envelope (``@odata.context``,
``@odata.count``, ``value``, ``@odata.nextLink`` with the ``$skip`` of the next page, count on first
pages only) is that of the recorded pages. The count of the whole window is faked large where a test
says so; slices get their true count.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from catalogue.models import SceneQuery
from providers.cdse import search as cdse
from providers.cdse.search import CdseODataSearcher, format_odata_datetime, parse_odata_datetime
from tests.support.replay import RecordedRequest, ReplayServer, Route
from tests.unit.providers.cdse_support import CDSE_HOST, PRODUCTS, S1_PAGES, s1_query

START, END = datetime(2014, 4, 5, tzinfo=UTC), datetime(2014, 4, 14, tzinfo=UTC)
_WINDOW_RE = re.compile(r"ContentDate/Start (gt|ge) (\S+) and ContentDate/Start lt (\S+)")


def synthetic_products(templates: list[dict[str, Any]], times: list[datetime]) -> list[dict[str, Any]]:
    """One product per sensing time: a recorded product with a new Id, Name and ContentDate."""
    products = []
    for i, when in enumerate(times):
        product = copy.deepcopy(templates[i % len(templates)])
        stem = product["Name"].removesuffix(".SAFE")
        product["Id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"synthetic/{i}"))
        product["Name"] = f"{stem}_SYNTH{i:05d}.SAFE"
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        product["ContentDate"] = {"Start": stamp, "End": stamp}
        products.append(product)
    return products


class SyntheticCatalogue:
    """Answers ``GET /odata/v1/Products`` over the products sensed in the ``$filter``'s window."""

    def __init__(self, products: list[dict[str, Any]], *, fake_counts: dict[str, int] | None = None) -> None:
        self.products = sorted(products, key=lambda p: p["ContentDate"]["Start"])
        self.fake_counts = fake_counts or {}  # "<op> <start> <end>" of a window -> count announced

    def respond(self, request: RecordedRequest) -> bytes:
        match = _WINDOW_RE.search(request.param("$filter") or "")
        assert match is not None, "every query names its sensing window"
        op, low, high = (
            match.group(1),
            parse_odata_datetime(match.group(2)),
            parse_odata_datetime(match.group(3)),
        )

        def in_window(product: dict[str, Any]) -> bool:
            sensed = parse_odata_datetime(product["ContentDate"]["Start"])
            return (low <= sensed if op == "ge" else low < sensed) and sensed < high

        inside = [p for p in self.products if in_window(p)]
        skip, top = int(request.param("$skip") or 0), int(request.param("$top") or 20)
        assert skip <= cdse.CDSE_MAX_SKIP, f"$skip={skip}: CDSE answers 422 past {cdse.CDSE_MAX_SKIP}"
        body: dict[str, Any] = {"@odata.context": "$metadata#Products(Attributes())"}
        if request.param("$count") == "true" and not skip:
            body["@odata.count"] = self.fake_counts.get(" ".join(match.groups()), len(inside))
        body["value"] = inside[skip : skip + top]
        if skip + top < len(inside):
            params = {k: v[0] for k, v in request.query.items()} | {"$skip": str(skip + top)}
            body["@odata.nextLink"] = f"{CDSE_HOST}{PRODUCTS}?{urlencode(params)}"
        return json.dumps(body).encode()


@pytest.fixture
def templates(shared_fixtures: Path) -> list[dict[str, Any]]:
    return [p for page in S1_PAGES for p in json.loads((shared_fixtures / page).read_text())["value"]]


def serve(catalogue: SyntheticCatalogue) -> ReplayServer:
    return ReplayServer([Route("GET", PRODUCTS, respond=catalogue.respond)], rewrite_hosts=[CDSE_HOST])


def searcher(server: ReplayServer) -> CdseODataSearcher:
    # The recorded products are auxiliary files (no orbit attributes), as in test_cdse.py.
    return CdseODataSearcher(
        base_url=server.url("/odata/v1"), page_size=10, backoff_s=0, required_attributes=("productType",)
    )


def windows_of(server: ReplayServer) -> Iterator[tuple[str, list[str | None]]]:
    """Each window asked, in order of first request, with the $skip of each of its requests."""
    seen: dict[str, list[str | None]] = {}
    for request in server.requests:
        match = _WINDOW_RE.search(request.param("$filter") or "")
        assert match is not None
        seen.setdefault(" ".join(match.groups()), []).append(request.param("$skip"))
    yield from seen.items()


def spread(count: int, start: datetime, end: datetime) -> list[datetime]:
    step = (end - start) / (count + 1)
    return [start + step * (i + 1) for i in range(count)]


@pytest.mark.integration
def test_a_count_past_the_skip_cap_cuts_the_window_and_loses_nothing(templates: list[dict[str, Any]]) -> None:
    products = synthetic_products(templates, spread(95, START, END))
    whole = f"gt {format_odata_datetime(START)} {format_odata_datetime(END)}"
    catalogue = SyntheticCatalogue(products, fake_counts={whole: 25_000})
    with serve(catalogue) as server:
        result = searcher(server).search(s1_query())
    # 25 000 rows, 10 010 reachable per window: three slices of three days.
    windows = list(windows_of(server))
    assert [w for w, _ in windows] == [
        whole,
        "gt 2014-04-05T00:00:00.000Z 2014-04-08T00:00:00.000Z",
        "ge 2014-04-08T00:00:00.000Z 2014-04-11T00:00:00.000Z",
        "ge 2014-04-11T00:00:00.000Z 2014-04-14T00:00:00.000Z",
    ]
    assert windows[0][1] == [None]  # the count of the whole window, then it was cut
    for (_, skips), products_in_slice in zip(windows[1:], (32, 31, 32), strict=True):
        pages = -(-products_in_slice // 10)
        assert skips == [None] + [str(10 * i) for i in range(1, pages)]  # every page of every slice
    assert [s.source_id for s in result.scenes] == [p["Name"].removesuffix(".SAFE") for p in products]
    assert len({s.metadata["uuid"] for s in result.scenes}) == 95
    assert (result.total, result.truncated) == (25_000, False)
    assert not server.unmatched


@pytest.mark.integration
@pytest.mark.slow  # about 1.4 s
def test_slices_are_cut_again_until_reachable_and_page_limit_spans_them(
    templates: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small cap makes the true counts too long: 100 products on day 1, 20 over the rest.
    monkeypatch.setattr(cdse, "CDSE_MAX_SKIP", 20)
    busy = spread(100, START, START + timedelta(days=1))
    products = synthetic_products(templates, busy + spread(20, START + timedelta(days=1), END))
    names = [p["Name"].removesuffix(".SAFE") for p in products]
    with serve(SyntheticCatalogue(products)) as server:
        everything = searcher(server).search(s1_query())
        assert [s.source_id for s in everything.scenes] == names
        assert max(len(skips) for _, skips in windows_of(server)) <= 3  # no window read past the cap
        server.requests.clear()
        rows = searcher(server).search(s1_query(page=3, limit=25))
        assert [s.source_id for s in rows.scenes] == names[75:100]
        assert (rows.truncated, rows.total) == (True, 120)
        server.requests.clear()
        last = searcher(server).search(s1_query(page=11, limit=11))
        assert [s.source_id for s in last.scenes] == names[121:] == []
        assert (last.truncated, last.total) == (False, 120)


@pytest.mark.integration
def test_a_product_listed_twice_is_kept_once(templates: list[dict[str, Any]]) -> None:
    products = synthetic_products(templates, spread(12, START, END))
    with serve(SyntheticCatalogue([*products, copy.deepcopy(products[4])])) as server:
        result = searcher(server).search(s1_query())
    assert [s.source_id for s in result.scenes] == [p["Name"].removesuffix(".SAFE") for p in products]


def test_the_query_window_keeps_the_original_exclusive_start() -> None:
    query = SceneQuery(**(s1_query().model_dump() | {"start": START}))
    assert f"ContentDate/Start gt {format_odata_datetime(START)}" in cdse.build_filter(query)
