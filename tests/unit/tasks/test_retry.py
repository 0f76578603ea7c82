"""The retry policy: only temporary errors are retried."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from common.errors import PermanentError, TemporaryError
from geocube_client.errors import GeocubeNotFoundError, GeocubeTemporaryError
from providers.errors import DownloadTemporaryError, ProductNotFoundError
from tasks.retry import retry_if_temporary


@dataclass
class FakeState:
    exc: BaseException

    def result(self, raise_on_failure: bool = True) -> BaseException:
        assert raise_on_failure is False
        return self.exc


def wrapped(inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise PermanentError("outer") from exc
    except PermanentError as outer:
        return outer


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (TemporaryError("x"), True),
        (DownloadTemporaryError("503"), True),
        (GeocubeTemporaryError("UNAVAILABLE", code="UNAVAILABLE", rpc="IndexDatasets"), True),
        (wrapped(DownloadTemporaryError("reset")), True),
        (PermanentError("bad payload"), False),
        (ProductNotFoundError("404"), False),
        (GeocubeNotFoundError("no record", code="NOT_FOUND", rpc="IndexDatasets"), False),
        (ValueError("bug"), False),
    ],
)
def test_only_temporary_errors_are_retried(exc: BaseException, retried: bool) -> None:
    assert retry_if_temporary(None, None, FakeState(exc)) is retried
