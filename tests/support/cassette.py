"""Replay vcrpy cassettes (recorded request/response pairs) through the replay server.

Each interaction becomes a ``Route`` answering the recorded method and path, served once per recording
(as many times as the cassette holds it). When ``match_query`` is true, a route answers only a request
whose decoded query parameters equal the recorded ones; when the recorded request has a body, only a
request whose JSON body equals it (apart from ``ignore_body_keys``). A client that builds a different
request gets the server's 404, so a test proves the request as well as the parsing.

The recorded status, ``Content-Type``, ``WWW-Authenticate``, ``Retry-After`` and body are served;
transfer headers (``Content-Encoding``, ``Content-Length``) are not, since vcrpy stores the body decoded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.support.replay import RecordedRequest, Route, json_body_is

# Response headers worth serving again; the others describe the recorded transfer.
_KEPT_HEADERS = ("www-authenticate", "retry-after")


def _first(value: Any) -> str:
    return str(value[0] if isinstance(value, list) else value)


def load_interactions(path: Path) -> list[dict[str, Any]]:
    """The interactions of a cassette file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return list(data["interactions"])


def recorded_query(interaction: dict[str, Any]) -> dict[str, list[str]]:
    """The decoded query parameters of an interaction's request."""
    return parse_qs(urlsplit(interaction["request"]["uri"]).query, keep_blank_values=True)


def recorded_json_body(interaction: dict[str, Any]) -> Any:
    """The JSON body of an interaction's request (None when it has none)."""
    body = interaction["request"].get("body")
    return json.loads(body) if body else None


def _matches_recorded(
    interaction: dict[str, Any], *, match_query: bool, ignore_body_keys: Collection[str]
) -> Callable[[RecordedRequest], bool]:
    """A predicate: the request has the recorded query (if ``match_query``) and JSON body (if any)."""
    query = recorded_query(interaction)
    body = recorded_json_body(interaction)
    same_body = json_body_is(body, ignore=ignore_body_keys)

    def matches(request: RecordedRequest) -> bool:
        return (not match_query or request.query == query) and (body is None or same_body(request))

    return matches


def routes_from_cassette(
    path: Path, *, match_query: bool = True, ignore_body_keys: Collection[str] = ()
) -> list[Route]:
    """One route per interaction of the cassette at ``path`` (see the module docstring)."""
    routes = []
    for interaction in load_interactions(path):
        request, response = interaction["request"], interaction["response"]
        headers = {k.lower(): _first(v) for k, v in (response.get("headers") or {}).items()}
        body = response["body"]["string"]
        routes.append(
            Route(
                request["method"],
                urlsplit(request["uri"]).path,
                body=body if isinstance(body, bytes) else str(body).encode(),
                status=int(response["status"]["code"]),
                content_type=headers.get("content-type", "application/octet-stream"),
                headers={k: v for k, v in headers.items() if k in _KEPT_HEADERS},
                when=_matches_recorded(
                    interaction, match_query=match_query, ignore_body_keys=ignore_body_keys
                ),
                times=1,
            )
        )
    return routes
