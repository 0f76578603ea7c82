"""Replay vcrpy cassettes (recorded request/response pairs) through the replay server.

Each interaction becomes a ``Route`` answering the recorded method and path, and, when ``match_query``
is true, only a request whose decoded query parameters equal the recorded ones: a client that builds a
different query gets the server's 404, so a test proves the query as well as the parsing. The recorded
status, ``Content-Type`` and body are served; transfer headers (length, encoding) are not, since the
body is stored decoded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.support.replay import RecordedRequest, Route

# Response headers worth serving again; the others describe the recorded transfer.
_KEPT_HEADERS = ("www-authenticate", "retry-after")


def _first(value: Any) -> str:
    return str(value[0] if isinstance(value, list) else value)


def load_interactions(path: Path) -> list[dict[str, Any]]:
    """The interactions of a cassette file."""
    data = yaml.safe_load(path.read_text())
    return list(data["interactions"])


def recorded_query(interaction: dict[str, Any]) -> dict[str, list[str]]:
    """The decoded query parameters of an interaction's request."""
    return parse_qs(urlsplit(interaction["request"]["uri"]).query, keep_blank_values=True)


def cassette_routes(path: Path, *, match_query: bool = True) -> list[Route]:
    """One route per interaction of the cassette at ``path``, each served once per recording."""
    routes = []
    for interaction in load_interactions(path):
        request, response = interaction["request"], interaction["response"]
        headers = {k.lower(): _first(v) for k, v in (response.get("headers") or {}).items()}
        body = response["body"]["string"]
        query = recorded_query(interaction)

        def same_query(r: RecordedRequest, expected: dict[str, list[str]] = query) -> bool:
            return r.query == expected

        routes.append(
            Route(
                request["method"],
                urlsplit(request["uri"]).path,
                body=body if isinstance(body, bytes) else str(body).encode(),
                status=int(response["status"]["code"]),
                content_type=headers.get("content-type", "application/octet-stream"),
                headers={k: v for k, v in headers.items() if k in _KEPT_HEADERS},
                when=same_query if match_query else None,
            )
        )
    return routes
