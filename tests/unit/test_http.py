"""The HTTP pieces shared by the catalogues and the providers (common.http)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from catalogue.http import send
from catalogue.models import Constellation, Scene
from common.errors import IngestError, PermanentError, ProductUnavailableError, TemporaryError
from common.http import HttpOutcome, classify_status, is_temporary_status, parse_retry_after
from providers.url import UrlProvider


def test_retry_after_header() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after(format_datetime(datetime(2000, 1, 1, tzinfo=UTC), usegmt=True)) == 0.0
    later = parse_retry_after(format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True))
    assert later is not None and 100 < later <= 120


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, HttpOutcome.OK), (206, HttpOutcome.OK),
        (408, HttpOutcome.TEMPORARY), (425, HttpOutcome.TEMPORARY), (429, HttpOutcome.TEMPORARY),
        (500, HttpOutcome.TEMPORARY), (502, HttpOutcome.TEMPORARY), (503, HttpOutcome.TEMPORARY),
        (504, HttpOutcome.TEMPORARY), (507, HttpOutcome.TEMPORARY),
        (501, HttpOutcome.PERMANENT), (505, HttpOutcome.PERMANENT), (511, HttpOutcome.PERMANENT),
        (404, HttpOutcome.UNAVAILABLE), (410, HttpOutcome.UNAVAILABLE),
        (401, HttpOutcome.AUTH), (403, HttpOutcome.AUTH), (407, HttpOutcome.AUTH),
        (400, HttpOutcome.PERMANENT), (302, HttpOutcome.PERMANENT), (422, HttpOutcome.PERMANENT),
    ],
)  # fmt: skip
def test_one_table_for_every_http_caller(status: int, outcome: HttpOutcome) -> None:
    assert classify_status(status) is outcome
    assert is_temporary_status(status) is (outcome is HttpOutcome.TEMPORARY)


@pytest.mark.parametrize(("status", "family"), [(425, TemporaryError), (501, PermanentError), (404, None)])
def test_the_catalogues_and_the_downloads_agree(status: int, family: type[Exception] | None) -> None:
    """The two stacks that disagreed (408/429/5xx vs a list of seven) now read the same table."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="no")

    client = httpx.Client(transport=httpx.MockTransport(answer))
    with pytest.raises(IngestError) as search:
        send(client, "GET", "https://catalogue.test/search?token=x", catalogue="test", timeout_s=1)
    scene = Scene(source_id="S2A_X", date=datetime(2024, 1, 1, tzinfo=UTC), footprint_wkt="POINT (0 0)",
                  constellation=Constellation.SENTINEL2,
                  metadata={"download_link": "https://provider.test/S2A_X.zip"})  # fmt: skip
    with pytest.raises(IngestError) as download, tempfile.TemporaryDirectory() as tmp:
        UrlProvider(client=client).download(scene, Path(tmp))
    if family is None:  # not found: the next provider for a download, a misconfiguration for a search
        assert isinstance(download.value, ProductUnavailableError)
        assert isinstance(search.value, PermanentError)
    else:
        assert isinstance(search.value, family) and isinstance(download.value, family)
    assert "token=x" not in str(search.value)
