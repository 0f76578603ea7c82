"""The catalogue bounds for a client that speaks HTTP through ``requests`` (sentinelsat's DHuS session).

``catalogue.http.send`` bounds an httpx answer three ways: each read (``GEOCUBE_INGESTER_HTTP_TIMEOUT_S``),
the whole answer (``GEOCUBE_INGESTER_CATALOGUE_DEADLINE_S``) and its size
(``GEOCUBE_INGESTER_CATALOGUE_MAX_RESPONSE_MB``). A library that owns a ``requests.Session`` gets the same
bounds from ``BoundedAdapter`` mounted on that session:

- a request sent without a timeout gets ``timeout_s`` (sentinelsat 1.2 sets ``session.timeout``, an
  attribute ``requests`` never reads, so its calls had none and a silent hub hung them for ever);
- an answer that is not streamed is read here, at most ``max_bytes``;
- ``adapter.deadline(seconds)`` shuts down, at the deadline, every socket the adapter opened, so a read
  blocked on headers or a body sent a byte at a time ends at once; ``fired`` tells the caller why.

The sockets are seen as their connections connect (a ``urllib3`` connection class of our own, told by a
thread-local which adapter is sending), and remembered per adapter, so a pooled connection reused later is
shut down too.
"""

from __future__ import annotations

import socket
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from catalogue.errors import CatalogueError

__all__ = ["BoundedAdapter", "ResponseTooLargeError", "bound_session"]

_sending = threading.local()  # .adapter: the BoundedAdapter sending in this thread


def _remember(sock: object) -> None:
    adapter = getattr(_sending, "adapter", None)
    if adapter is not None and isinstance(sock, socket.socket):
        adapter.watch_socket(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _remember(self.sock)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _remember(self.sock)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class ResponseTooLargeError(CatalogueError):
    """An answer past the adapter's ``max_bytes``: permanent (a retry gets the same answer)."""


class _Deadline:
    def __init__(self, adapter: BoundedAdapter, seconds: float) -> None:
        self.adapter = adapter
        self.fired = False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        self.adapter.shut_sockets()


class BoundedAdapter(HTTPAdapter):
    """``requests``' adapter with a default timeout, a size cap and a whole-call deadline (module doc)."""

    def __init__(self, *, timeout_s: float, max_bytes: int, **kwargs: Any) -> None:
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(_POOLS)
        return manager

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        **kwargs: Any,
    ) -> requests.Response:
        _sending.adapter = self
        try:
            response = super().send(request, stream=True, timeout=timeout or self.timeout_s, **kwargs)
        finally:
            _sending.adapter = None
        if not stream:
            self._read_capped(response)
        return response

    def _read_capped(self, response: requests.Response) -> None:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > self.max_bytes:
                    raise ResponseTooLargeError(
                        f"answered more than {self.max_bytes / 1048576:g} MiB; not read further "
                        "(GEOCUBE_INGESTER_CATALOGUE_MAX_RESPONSE_MB raises the cap; or narrow the search)"
                    )
                chunks.append(chunk)
        finally:
            response.close()
        response._content = b"".join(chunks)  # what requests itself sets when it reads a body
        response._content_consumed = True  # type: ignore[attr-defined]

    def watch_socket(self, sock: socket.socket) -> None:
        """Remember ``sock`` (just connected), to shut it down at a deadline."""
        with self._lock:
            self._sockets.add(sock)

    def shut_sockets(self) -> None:
        """Shut down every socket this adapter opened: a blocked read on one of them ends at once."""
        with self._lock:
            sockets = list(self._sockets)
            self._sockets.clear()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[_Deadline]:
        """Within the block, the adapter's sockets are shut down once ``seconds`` have passed."""
        watch = _Deadline(self, seconds)
        watch._timer.start()
        try:
            yield watch
        finally:
            watch._timer.cancel()


def bound_session(session: requests.Session, *, timeout_s: float, max_bytes: int) -> BoundedAdapter:
    """Mount a ``BoundedAdapter`` on ``session`` for http and https, and return it."""
    adapter = BoundedAdapter(timeout_s=timeout_s, max_bytes=max_bytes)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return adapter
