"""providers.errors.raise_for_download_status: common.http's table as the download errors, in one place."""

from __future__ import annotations

import httpx
import pytest

from common.errors import PermanentError, ProductUnavailableError, TemporaryError
from providers.errors import (
    DownloadAuthError,
    DownloadError,
    DownloadTemporaryError,
    ProductNotFoundError,
    download_status_error,
    raise_for_download_status,
)

SHOWN = "S2A_X: https://example.org/odata/v1/Products answered {status}"


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, content=body)


@pytest.mark.parametrize("status", [200, 202, 206])
def test_a_2xx_passes(status: int) -> None:
    raise_for_download_status(answer(status), SHOWN)
    assert download_status_error(answer(status), SHOWN) is None


@pytest.mark.parametrize(
    ("status", "kind", "family"),
    [
        (408, DownloadTemporaryError, TemporaryError),
        (429, DownloadTemporaryError, TemporaryError),
        (503, DownloadTemporaryError, TemporaryError),
        (404, ProductNotFoundError, ProductUnavailableError),
        (410, ProductNotFoundError, ProductUnavailableError),
        (401, DownloadAuthError, PermanentError),
        (403, DownloadAuthError, PermanentError),
        (400, DownloadError, PermanentError),
        (501, DownloadError, PermanentError),
    ],
)
def test_each_outcome_is_its_typed_error(status: int, kind: type[Exception], family: type[Exception]) -> None:
    shown = SHOWN.format(status=status)
    with pytest.raises(kind) as info:
        raise_for_download_status(answer(status), shown)
    assert type(info.value) is kind and isinstance(info.value, family)
    assert str(info.value).startswith(shown)


def test_retry_after_is_carried() -> None:
    with pytest.raises(DownloadTemporaryError) as info:
        raise_for_download_status(answer(429, headers={"Retry-After": "17"}), SHOWN)
    assert info.value.retry_after_s == 17.0


def test_a_refusal_names_the_settings_given() -> None:
    with pytest.raises(DownloadAuthError, match=r"^x: check GEOCUBE_INGESTER_DHUS_USER$"):
        raise_for_download_status(answer(401), SHOWN, refused="x: check GEOCUBE_INGESTER_DHUS_USER")
    with pytest.raises(DownloadAuthError, match="credentials refused; check the account settings"):
        raise_for_download_status(answer(403), SHOWN)


def test_a_catalogue_answering_404_is_misconfigured_not_a_missing_product() -> None:
    with pytest.raises(DownloadError) as info:
        raise_for_download_status(answer(404), SHOWN, catalogue=True)
    assert type(info.value) is DownloadError


def test_a_permanent_error_shows_the_start_of_a_read_body_only() -> None:
    with pytest.raises(DownloadError, match=r"answered 400: 'bad \$filter"):
        raise_for_download_status(answer(400, b"bad $filter" + b"x" * 500), SHOWN.format(status=400))
    streamed = httpx.Response(400, stream=httpx.ByteStream(b"not read"))
    error = download_status_error(streamed, "shown")
    assert isinstance(error, DownloadError) and str(error) == "shown"
