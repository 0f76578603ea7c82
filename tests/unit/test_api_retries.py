"""A Prefect API that does not answer for a while does not fail a tile (``flows.api_retries``)."""

from __future__ import annotations

import httpx
import pytest
from prefect.exceptions import PrefectHTTPStatusError

from flows import api_retries
from flows.api_retries import api_unavailable, with_api_retries


def prefect_error(code: int) -> PrefectHTTPStatusError:
    request = httpx.Request("POST", "http://ephemeral-prefect/api/flow_runs/")
    response = httpx.Response(code, request=request, text="busy")
    return PrefectHTTPStatusError.from_httpx_error(
        httpx.HTTPStatusError("busy", request=request, response=response)
    )


def test_what_counts_as_the_api_not_answering(monkeypatch: pytest.MonkeyPatch) -> None:
    assert api_unavailable(prefect_error(503)) and api_unavailable(prefect_error(429))
    assert not api_unavailable(prefect_error(404)) and not api_unavailable(prefect_error(422))
    try:
        try:
            raise prefect_error(503)
        except PrefectHTTPStatusError as exc:
            raise RuntimeError("the child could not start") from exc
    except RuntimeError as wrapped:
        assert api_unavailable(wrapped), "found through the cause"
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    to_api = httpx.ConnectError("refused", request=httpx.Request("GET", "http://127.0.0.1:4200/api/x"))
    to_provider = httpx.ConnectError("refused", request=httpx.Request("GET", "https://catalogue.example/x"))
    assert api_unavailable(to_api)
    assert not api_unavailable(to_provider), "a provider's error is the provider's, classified elsewhere"
    assert not api_unavailable(ValueError("no band found"))


def test_a_call_is_made_again_while_the_api_is_busy_and_a_real_failure_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api_retries, "API_RETRY_DELAYS_S", (0.0, 0.0))
    calls: list[int] = []

    def busy_twice() -> str:
        calls.append(1)
        if len(calls) <= 2:
            raise prefect_error(503)
        return "done"

    assert with_api_retries("A/t", busy_twice) == "done" and len(calls) == 3
    calls.clear()

    def always_busy() -> str:
        calls.append(1)
        raise prefect_error(503)

    with pytest.raises(PrefectHTTPStatusError):
        with_api_retries("A/t", always_busy)
    assert len(calls) == 3, "the delays' count of retries, then the error"
    calls.clear()

    def broken() -> str:
        calls.append(1)
        raise ValueError("no band found")

    with pytest.raises(ValueError):
        with_api_retries("A/t", broken)
    assert len(calls) == 1
