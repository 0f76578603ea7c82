"""HTTP calls of the catalogues: one attempt classified by status, and retries of temporary failures.

Classification (STYLE.md §3), by the project's one table (``common.http.classify_status``):

- timeout, transport error, a ``TEMPORARY`` status -> ``CatalogueTemporaryError``
  (``make_temporary_error``: carries ``Retry-After``);
- an ``AUTH`` status -> ``CatalogueError`` naming the settings that hold the credentials;
- any other status outside ``ok`` -> ``CatalogueError`` with the first 200 characters of the body.

Every attempt is rebuilt from ``params``/``json``/``data``, so a retried POST sends its whole body again
(the original ingester's ``GetBodyRetry`` did not rewind it). URLs are shown without their query string
(``redact_url``). Callers that read answers their own way (``catalogue.annotations`` streams ranged GETs,
``providers.stac.requests_io`` goes through pystac-client's ``requests`` session, ``providers.dhus`` through
sentinelsat) classify with ``common.http.classify_status`` and raise with ``make_temporary_error``; the
``requests`` sessions get the same answer bounds from ``catalogue.http_requests``.

Bounds of one answer: each read by ``timeout_s`` (GEOCUBE_INGESTER_HTTP_TIMEOUT_S), the whole answer,
headers included, by ``deadline_s`` (GEOCUBE_INGESTER_CATALOGUE_DEADLINE_S, a ``Watchdog`` shuts the
socket) and its size by ``max_bytes`` (GEOCUBE_INGESTER_CATALOGUE_MAX_RESPONSE_MB): ``read_whole``, which
the download side uses too for its small answers (token endpoints, a product's description).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

import httpx

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from common.http import HttpOutcome, classify_status, is_temporary_status, parse_retry_after
from common.redaction import redact, redact_url

log = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = [
    "MAX_RETRY_WAIT_S",
    "AnswerDeadlineError",
    "AnswerTooLargeError",
    "Watchdog",
    "answer_limits",
    "decode_json_object",
    "make_temporary_error",
    "open_client",
    "read_whole",
    "redact_url",
    "retry_temporary",
    "send",
    "send_json",
    "transport_text",
]

# A Retry-After longer than this is not waited for here: the error goes up, the task retries later.
MAX_RETRY_WAIT_S = 60.0


def make_temporary_error(message: str, headers: Mapping[str, str]) -> CatalogueTemporaryError:
    """A ``CatalogueTemporaryError`` carrying the answer's ``Retry-After`` (seconds or HTTP date), if any."""
    return CatalogueTemporaryError(message, retry_after_s=parse_retry_after(headers.get("Retry-After")))


@contextmanager
def open_client(
    client: httpx.Client | None, *, timeout_s: float, headers: Mapping[str, str] | None = None
) -> Iterator[httpx.Client]:
    """``client`` if one is given (left open: its owner closes it), else a new client closed on exit."""
    if client is not None:
        yield client
        return
    with httpx.Client(timeout=timeout_s, headers=headers) as new_client:
        yield new_client


def retry_temporary(
    attempt: Callable[[], T], *, max_retries: int, backoff_s: float, max_wait_s: float = MAX_RETRY_WAIT_S
) -> T:
    """``attempt()``, tried again after a ``CatalogueTemporaryError`` up to ``max_retries`` times.

    The wait doubles from ``backoff_s``; a longer ``retry_after_s`` wins. A wait above ``max_wait_s`` is
    not slept here: the error goes up and the task's own retry policy takes over.
    """
    retry = 0
    while True:
        try:
            return attempt()
        except CatalogueTemporaryError as exc:
            if retry >= max_retries:
                raise
            delay = backoff_s * 2**retry
            if exc.retry_after_s is not None:
                delay = max(delay, exc.retry_after_s)
            if delay > max_wait_s:
                raise
            retry += 1
            log.warning("%s; retry %d/%d in %.1f s", exc, retry, max_retries, delay)
            time.sleep(delay)


class Watchdog:
    """Shuts the sockets of a client's requests down at a deadline, so a blocked read ends at once.

    httpx bounds each read (``timeout``), not an answer: a server that sends its status line, its headers
    or its body one byte now and then is never timed out. The sockets are seen through httpx's ``trace``
    request extension (``connection.connect_tcp.complete``); those of connections reused from the
    client's pool were seen when they were made, and are remembered per client. At the deadline every
    socket the client opened is shut down (an idle pooled one is simply reconnected next time); the
    blocked read fails, and ``fired`` tells the caller why.
    """

    _sockets: ClassVar[weakref.WeakKeyDictionary[httpx.Client, set[socket.socket]]] = (
        weakref.WeakKeyDictionary()
    )
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, client: httpx.Client, seconds: float) -> None:
        self.client = client
        self.fired = False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """The ``trace`` extension of the watched request."""
        if event not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sockets.setdefault(self.client, set()).add(sock)

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        self.fired = True
        with self._lock:
            sockets = list(self._sockets.get(self.client, ()))
            self._sockets.pop(self.client, None)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


def answer_limits(max_bytes: int | None, deadline_s: float | None) -> tuple[int, float]:
    """The size cap and whole-answer deadline of one answer: those given, else the settings'."""
    if max_bytes is not None and deadline_s is not None:
        return max_bytes, deadline_s
    from common.settings import load_settings

    settings = load_settings()
    return (
        max_bytes if max_bytes is not None else settings.catalogue_max_bytes,
        deadline_s if deadline_s is not None else settings.catalogue_deadline_s,
    )


class AnswerDeadlineError(httpx.TimeoutException):
    """A whole answer did not come within its deadline: its headers or its body trickled.

    Its text names the deadline and the setting that holds it (it holds no URL and no header).
    """


class AnswerTooLargeError(CatalogueError):
    """An answer past its size cap: permanent (the same request gets the same answer)."""


DEADLINE_SETTING = "GEOCUBE_INGESTER_CATALOGUE_DEADLINE_S"


def read_whole(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    timeout_s: float,
    max_bytes: int,
    deadline_s: float,
    deadline_setting: str = DEADLINE_SETTING,
    **request: Any,
) -> httpx.Response:
    """One request, its answer read whole, at most ``max_bytes`` (decoded) and within ``deadline_s``
    (headers included: a ``Watchdog`` shuts the socket); the status is not looked at.

    Raises:
        AnswerDeadlineError: the deadline passed (its text names ``deadline_setting``).
        AnswerTooLargeError: the answer is past the cap.
        httpx.HTTPError: as httpx raises them (a read timeout, a refused connection...).
    """
    auth = request.pop("auth", httpx.USE_CLIENT_DEFAULT)
    late = AnswerDeadlineError(
        f"did not answer whole within {deadline_s:g} s (its headers or body came too slowly; "
        f"{deadline_setting})"
    )
    watchdog = Watchdog(client, deadline_s)
    extensions = {"trace": watchdog.trace} | dict(request.pop("extensions", None) or {})
    built = client.build_request(method, url, timeout=timeout_s, extensions=extensions, **request)
    deadline = time.monotonic() + deadline_s
    chunks: list[bytes] = []
    try:
        with watchdog:
            streamed = client.send(built, auth=auth, stream=True)
            try:
                size = 0
                for chunk in streamed.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise AnswerTooLargeError(
                            f"answered more than {max_bytes / 1048576:g} MiB; not read further (GEOCUBE_"
                            "INGESTER_CATALOGUE_MAX_RESPONSE_MB raises the cap; or narrow the search)"
                        )
                    if time.monotonic() > deadline:
                        raise late
                    chunks.append(chunk)
            finally:
                streamed.close()
    except httpx.HTTPError:
        if watchdog.fired:  # the deadline cut the answer: what failed after is its effect
            raise late from None
        raise
    headers = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() != "content-encoding"]
    return httpx.Response(streamed.status_code, headers=headers, content=b"".join(chunks), request=built)


def transport_text(exc: httpx.HTTPError) -> str:
    """What to tell of a failed request: a deadline's own text, else only the kind of error (httpx's
    texts may repeat the URL with its query string), and the setting that bounds a read."""
    if isinstance(exc, AnswerDeadlineError):
        return str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return f"{type(exc).__name__} (each read: GEOCUBE_INGESTER_HTTP_TIMEOUT_S)"
    return type(exc).__name__


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    catalogue: str,
    timeout_s: float,
    ok: Collection[int] = (200,),
    credentials_hint: str = "",
    max_bytes: int | None = None,
    deadline_s: float | None = None,
    **request: Any,
) -> httpx.Response:
    """One request, classified (see the module docstring), its answer read whole within bounds.

    Args:
        catalogue: the catalogue's name, first word of every message.
        ok: statuses that are a success.
        credentials_hint: where the credentials come from (env var names), told on 401/403.
        max_bytes: the answer's cap (default GEOCUBE_INGESTER_CATALOGUE_MAX_RESPONSE_MB): streamed, so a
            huge or endless body costs at most that much memory.
        deadline_s: the whole answer's time limit (default GEOCUBE_INGESTER_CATALOGUE_DEADLINE_S):
            ``timeout_s`` bounds each read, this bounds a body that trickles.
        request: ``params``, ``json``, ``data``, ``headers``, ``auth`` as httpx takes them.

    Raises:
        CatalogueTemporaryError: timeout, transport error, 408, 429 or 5xx, a body slower than the deadline.
        CatalogueError: any other status outside ``ok``, a body over the cap, a body that cannot be
            decoded (its Content-Encoding), a redirect loop.
    """
    shown = redact_url(url)
    cap, whole_s = answer_limits(max_bytes, deadline_s)
    failure = ""
    permanent = ""
    try:
        response = read_whole(
            client, method, url, timeout_s=timeout_s, max_bytes=cap, deadline_s=whole_s, **request
        )
    except AnswerDeadlineError as exc:
        failure = f"{catalogue}: {shown} {exc}"
    except AnswerTooLargeError as exc:
        permanent = f"{catalogue}: {shown} {exc}"
    except httpx.TimeoutException:
        failure = f"{catalogue}: {shown} timed out after {timeout_s:g} s (GEOCUBE_INGESTER_HTTP_TIMEOUT_S)"
    except httpx.TooManyRedirects:
        permanent = f"{catalogue}: {shown} redirects without end (more than {client.max_redirects} redirects)"
    except httpx.DecodingError as exc:
        permanent = f"{catalogue}: {shown} sent a body that cannot be decoded ({type(exc).__name__}: {exc})"
    except httpx.TransportError as exc:
        failure = f"{catalogue}: {shown}: {type(exc).__name__}: {exc}"
    # Raised outside the handler, unchained: httpx's error holds the request and its Authorization
    # header, which must not travel with the error (pickled into a task result, for one).
    if failure:
        raise CatalogueTemporaryError(failure)
    if permanent:
        raise CatalogueError(permanent)
    status = response.status_code
    if status in ok:
        return response
    snippet = redact(" ".join(response.text[:200].split()))
    if is_temporary_status(status):
        raise make_temporary_error(f"{catalogue}: {shown} answered {status}: {snippet}", response.headers)
    if classify_status(status) is HttpOutcome.AUTH and credentials_hint:
        raise CatalogueError(
            f"{catalogue}: {shown} refused the credentials ({status}); check {credentials_hint}"
        )
    raise CatalogueError(f"{catalogue}: {shown} answered {status}: {snippet}")


def send_json(
    client: httpx.Client, method: str, url: str, *, catalogue: str, timeout_s: float, **request: Any
) -> dict[str, Any]:
    """``send`` and decode a JSON object.

    Raises:
        CatalogueError: the body is not a JSON object (and as ``send``).
    """
    response = send(client, method, url, catalogue=catalogue, timeout_s=timeout_s, **request)
    return decode_json_object(response, catalogue=catalogue)


def decode_json_object(response: httpx.Response, *, catalogue: str) -> dict[str, Any]:
    """The JSON object of a response.

    Raises:
        CatalogueError: the body is not JSON, or not an object.
    """
    snippet = redact(" ".join(response.text[:200].split()))
    shown = redact_url(str(response.request.url))
    try:
        body = response.json()
    except RecursionError:
        raise CatalogueError(f"{catalogue}: {shown} answered JSON nested too deeply to read") from None
    except ValueError as exc:
        raise CatalogueError(
            f"{catalogue}: {shown} answered {response.status_code} with a body that is not JSON: {snippet}"
        ) from exc
    if not isinstance(body, Mapping):
        raise CatalogueError(f"{catalogue}: {shown} answered JSON that is not an object: {snippet}")
    return dict(body)
