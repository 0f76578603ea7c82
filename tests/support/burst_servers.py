"""A scripted local HTTP server for the burst providers' tests: per (method, path), the answers in order.

``routes[("POST", "/Bursts(x)/$value")] = [Answer(401), Answer(302, {"Location": ...}), Answer(200, body)]``:
each request takes the next answer, the last one repeats. ``requests`` records (method, path with its
query, headers) of every request, for the assertions.
"""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import unquote

from tests.support.http_server import QuietHandler, serve


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ScriptedServer:
    base: str = ""
    routes: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def asked(self, method: str, path: str) -> list[tuple[str, str, dict[str, str]]]:
        """The requests of ``method`` whose path (query left out) is ``path``."""
        return [r for r in self.requests if r[0] == method and r[1].split("?")[0] == path]


class _Handler(QuietHandler, http.server.BaseHTTPRequestHandler):  # base named for ruff N802 (do_GET)
    state: ScriptedServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self.read_body()
        self._serve("POST")

    def _serve(self, method: str) -> None:
        path = unquote(self.path)
        self.state.requests.append((method, path, dict(self.headers.items())))
        answers = self.state.routes.get((method, path.split("?")[0]))
        answer = (
            (answers.pop(0) if len(answers) > 1 else answers[0]) if answers else Answer(404, b"not found")
        )
        self.send_answer(answer.status, answer.body, answer.headers)


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    """Start a ScriptedServer on 127.0.0.1; stopped on exit, also when the test fails."""
    state = ScriptedServer()
    handler = type("Handler", (_Handler,), {"state": state})
    with serve(handler) as state.base:
        yield state
