"""The catalogue bounds on a ``requests`` session (sentinelsat's, pystac-client's): issue 12, item 3.

The hostile routes of ``test_http_limits`` (a 300 MB body, an endless chunked body, a body that trickles),
read through a session carrying ``catalogue.http_requests.BoundedAdapter``, and through the DHuS and STAC
searchers that mount it.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from pydantic import SecretStr

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.http_requests import ResponseTooLargeError, bound_session
from catalogue.models import Constellation, SceneQuery
from providers.dhus import DhusSearcher
from providers.stac.api import EARTH_SEARCH, StacApiSearcher
from tests.support.http_server import serve
from tests.unit.catalogue.test_http_limits import ROUTES, Hostile

MiB = 1024 * 1024


class HostileTree(Hostile):
    """The routes of ``Hostile`` under any path below them (a hub root, a STAC landing page), GET or POST."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        ROUTES["/" + self.path.split("?")[0].strip("/").split("/")[0]](self)

    do_POST = do_GET  # noqa: N815 (http.server's name)


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve(HostileTree) as url:
        yield url


@pytest.mark.parametrize("path", ["/huge", "/endless"])
def test_a_huge_or_endless_body_stops_at_the_cap_in_bounded_memory(base: str, path: str) -> None:
    with requests.Session() as session:
        bound_session(session, timeout_s=10, max_bytes=8 * MiB)
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLargeError, match=r"more than 8 MiB.*_MAX_RESPONSE_MB"):
                session.get(base + path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 40 * MiB  # the cap and one read's worth, not the 300 MB body


def test_a_normal_answer_reads_whole_and_a_streamed_one_is_left_to_its_reader(base: str) -> None:
    with requests.Session() as session:
        bound_session(session, timeout_s=10, max_bytes=MiB)
        assert session.get(base + "/fine").json() == {"value": [1, 2]}
        streamed = session.get(base + "/huge", stream=True)  # not read here: no cap, the caller reads
        assert len(next(streamed.iter_content(4096))) == 4096
        streamed.close()


def test_a_trickling_body_is_cut_at_the_deadline(base: str) -> None:
    with requests.Session() as session:
        adapter = bound_session(session, timeout_s=10, max_bytes=MiB)
        started = time.monotonic()
        with adapter.deadline(1.0) as watch, pytest.raises(requests.RequestException):
            session.get(base + "/trickle")  # 1 000 bytes over 50 s, each read within the timeout
        assert watch.fired
        assert time.monotonic() - started < 5
        # The connection the deadline cut is not reused broken: the next call reads normally.
        assert session.get(base + "/fine").json() == {"value": [1, 2]}


def test_a_request_without_a_timeout_gets_the_adapters(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    original = requests.adapters.HTTPAdapter.send

    def spy(
        self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, **kwargs: object
    ) -> object:
        seen.append(kwargs.get("timeout"))
        return original(self, request, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", spy)
    with requests.Session() as session:
        bound_session(session, timeout_s=7, max_bytes=MiB)
        session.get(base + "/fine")  # as sentinelsat calls it: no timeout= (it sets session.timeout)
    assert seen == [7]


QUERY = SceneQuery(
    aoi_wkt="POLYGON ((1.26 43.5, 1.35 43.5, 1.35 43.6, 1.26 43.6, 1.26 43.5))",
    start=datetime(2024, 1, 1, tzinfo=UTC),
    end=datetime(2024, 2, 1, tzinfo=UTC),
    constellation=Constellation.SENTINEL2,
)


def test_the_dhus_searcher_caps_and_times_its_answers(base: str) -> None:
    def searcher(path: str, **bounds: float) -> DhusSearcher:
        return DhusSearcher(
            api_url=base + path,
            user="u",
            password=SecretStr("pw-cap-1"),
            max_retries=0,
            **bounds,  # type: ignore[arg-type]
        )

    with pytest.raises(CatalogueError, match=r"dhus: .* more than 1 MiB.*_MAX_RESPONSE_MB"):
        searcher("/huge", max_bytes=MiB, deadline_s=60).search(QUERY)
    with pytest.raises(CatalogueTemporaryError, match=r"dhus: .*within 1 s.*_CATALOGUE_DEADLINE_S"):
        searcher("/trickle", max_bytes=MiB, deadline_s=1).search(QUERY)


def test_the_stac_searcher_caps_and_times_its_answers(base: str) -> None:
    def searcher(path: str, **bounds: float) -> StacApiSearcher:
        return StacApiSearcher(EARTH_SEARCH, url=base + path, max_retries=0, **bounds)  # type: ignore[arg-type]

    with pytest.raises(CatalogueError, match=r"more than 1 MiB.*_MAX_RESPONSE_MB"):
        searcher("/huge", max_bytes=MiB, deadline_s=60).search(QUERY)
    with pytest.raises(CatalogueTemporaryError, match=r"within 1 s.*_CATALOGUE_DEADLINE_S"):
        searcher("/trickle", max_bytes=MiB, deadline_s=1).search(QUERY)
