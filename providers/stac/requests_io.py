"""pystac-client's I/O for the STAC API catalogues, with the project's error classes and retries.

pystac-client (0.9) sends every request through ``StacApiIO.request`` (landing page, search, ``next``
links with their ``method`` and ``body``); ``RetryingStacApiIO`` replaces that one method, so an answer
is classified where its status is known (STYLE.md §3) instead of pystac-client's ``APIError``, and a
temporary failure is retried, POST body included, with the catalogues' policy (``catalogue.http``).
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import requests  # pystac-client's own HTTP client
from pystac_client.stac_api_io import StacApiIO

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.http import make_temporary_error, retry_temporary
from common.http import is_temporary_status
from common.redaction import redact_url


class RetryingStacApiIO(StacApiIO):
    """pystac-client's I/O with each answer classified and temporary failures retried.

    ``CatalogueTemporaryError`` for a timeout, a connection failure, 408, 429 (with ``Retry-After``)
    and 5xx; ``CatalogueError`` for any other status outside 2xx. A retried POST re-sends its body.
    """

    def __init__(
        self, *, catalogue: str, timeout_s: float = 60.0, max_retries: int = 3, backoff_s: float = 1.0
    ) -> None:
        super().__init__(headers={"Accept": "application/geo+json, application/json"}, max_retries=None)
        self.catalogue = catalogue
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s

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
        try:
            request = self.session.prepare_request(prepared)
            # Proxies and CA bundle from the environment, as pystac-client's own request does.
            settings = self.session.merge_environment_settings(request.url or href, {}, None, True, None)
            response = self.session.send(request, timeout=self.timeout_s, **settings)
        except requests.Timeout as exc:
            raise CatalogueTemporaryError(
                f"{shown} timed out after {self.timeout_s:g} s (GEOCUBE_INGESTER_HTTP_TIMEOUT_S)"
            ) from exc
        except requests.ConnectionError as exc:
            # requests' own text repeats the URL with its query string: only the kind is told.
            raise CatalogueTemporaryError(f"{shown}: {type(exc).__name__}, no answer") from exc
        except requests.RequestException as exc:
            raise CatalogueError(f"{shown}: {type(exc).__name__}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return response.content.decode("utf-8")
        snippet = " ".join(response.text[:200].split())
        if is_temporary_status(status):
            raise make_temporary_error(f"{shown} answered {status}: {snippet}", response.headers)
        raise CatalogueError(f"{shown} answered {status}: {snippet}")
