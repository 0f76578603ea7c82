"""pystac-client's I/O for the STAC API catalogues, with the project's error classes and retries.

pystac-client (0.9) sends every request through ``StacApiIO.request`` (landing page, search, ``next``
links with their ``method`` and ``body``); ``RetryingStacApiIO`` replaces that one method, so an answer
is classified where its status is known (STYLE.md §3) instead of pystac-client's ``APIError``, and a
temporary failure is retried, POST body included, with the catalogues' policy (``catalogue.http``).
The session carries the catalogues' answer bounds (``catalogue.http_requests.BoundedAdapter``): a read
timeout on every request, a size cap on every answer, and a deadline on the whole answer, so headers or a
body sent a byte at a time end in a temporary error naming GEOCUBE_INGESTER_CATALOGUE_DEADLINE_S.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import requests  # pystac-client's own HTTP client
from pystac_client.stac_api_io import StacApiIO

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.http import answer_limits, make_temporary_error, retry_temporary
from catalogue.http_requests import ResponseTooLargeError, bound_session
from common.http import is_temporary_status
from common.redaction import redact_url


class RetryingStacApiIO(StacApiIO):
    """pystac-client's I/O with each answer classified and temporary failures retried.

    ``CatalogueTemporaryError`` for a timeout, a connection failure, 408, 429 (with ``Retry-After``)
    and 5xx; ``CatalogueError`` for any other status outside 2xx. A retried POST re-sends its body.
    """

    def __init__(
        self,
        *,
        catalogue: str,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        deadline_s: float | None = None,
        max_bytes: int | None = None,
    ) -> None:
        super().__init__(headers={"Accept": "application/geo+json, application/json"}, max_retries=None)
        self.catalogue = catalogue
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_bytes, self.deadline_s = answer_limits(max_bytes, deadline_s)
        self.adapter = bound_session(self.session, timeout_s=timeout_s, max_bytes=self.max_bytes)

    def request(
        self,
        href: str,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> str:
        return retry_temporary(
            lambda: self._request_once(href, (method or "GET").upper(), headers, parameters),
            max_retries=self.max_retries,
            backoff_s=self.backoff_s,
        )

    def _request_once(
        self, href: str, method: str, headers: dict[str, str] | None, parameters: dict[str, Any] | None
    ) -> str:
        if method in ("POST", "PUT", "PATCH"):
            prepared = requests.Request(method, href, headers=headers, json=parameters)
        else:
            prepared = requests.Request(method, href, headers=headers, params=deepcopy(parameters) or {})
        shown = f"{self.catalogue}: {method} {redact_url(href)}"
        failure: BaseException | None = None
        with self.adapter.deadline(self.deadline_s) as watch:
            try:
                request = self.session.prepare_request(prepared)
                # Proxies and CA bundle from the environment, as pystac-client's own request does.
                settings = self.session.merge_environment_settings(request.url or href, {}, None, True, None)
                response = self.session.send(request, timeout=self.timeout_s, **settings)
            except (requests.RequestException, ResponseTooLargeError) as exc:
                failure = exc
        # Raised unchained: requests' errors hold the request, and its text repeats the query string.
        if watch.fired:  # the deadline cut the answer: what failed after is its effect
            raise CatalogueTemporaryError(
                f"{shown} did not answer whole within {self.deadline_s:g} s (its headers or body came too "
                "slowly; GEOCUBE_INGESTER_CATALOGUE_DEADLINE_S)"
            )
        if isinstance(failure, ResponseTooLargeError):
            raise CatalogueError(f"{shown} {failure}")
        if isinstance(failure, requests.Timeout):
            raise CatalogueTemporaryError(
                f"{shown} timed out after {self.timeout_s:g} s (GEOCUBE_INGESTER_HTTP_TIMEOUT_S)"
            )
        if isinstance(failure, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
            raise CatalogueTemporaryError(f"{shown}: {type(failure).__name__}, no answer")
        if failure is not None:
            raise CatalogueError(f"{shown}: {type(failure).__name__}")
        status = response.status_code
        if 200 <= status < 300:
            return response.content.decode("utf-8")
        snippet = " ".join(response.text[:200].split())
        if is_temporary_status(status):
            raise make_temporary_error(f"{shown} answered {status}: {snippet}", response.headers)
        raise CatalogueError(f"{shown} answered {status}: {snippet}")
