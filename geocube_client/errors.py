"""Errors of the Geocube client, classified where the gRPC status is known (STYLE.md §3)::

    IngestError                              (common.errors)
    ├── TemporaryError
    │   └── GeocubeTemporaryError            UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
    │       │                                and UNKNOWN once the client's own retries are spent
    │       └── GeocubeUnreachableError      "Connection refused": nothing listens (check GEOCUBE_SERVER)
    ├── PermanentError
    │   ├── GeocubeError                     any other status; .code is the gRPC status name
    │   │   ├── GeocubeTlsMismatchError          the TLS handshake failed: a plaintext server, or untrusted
    │   │   ├── GeocubeNotFoundError             NOT_FOUND
    │   │   ├── GeocubeAlreadyExistsError        ALREADY_EXISTS; .resource_name from ResourceInfo
    │   │   ├── GeocubeAuthError                 UNAUTHENTICATED, PERMISSION_DENIED
    │   │   ├── GeocubeInvalidArgumentError      INVALID_ARGUMENT, and the client's own checks
    │   │   └── GeocubeFailedPreconditionError   FAILED_PRECONDITION (e.g. a record still has datasets)
    │   ├── LocalGeocubeBindError            the local server cannot listen on host:port
    │   └── StubGenerationError              python -m geocube_client.generate failed (developer tool)
    └── LocalGeocubeStatusError              raised inside the local server only; becomes a gRPC status

A ``grpc.RpcError`` becomes one of these in one place: ``GeocubeClient._invoke`` decodes it with
``read_rpc_failure`` and classifies it with ``error_from_failure`` (or ``unknown_exhausted_error``).
To catch every Geocube failure, catch ``(GeocubeError, GeocubeTemporaryError)``.

Why UNKNOWN is retried: a real Geocube (v1.0.3) reports internal errors, such as its database being down
or restarting, as UNKNOWN without "(this error may be temporary)" (shared/docs/geocube-api.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2, status_pb2

from common.errors import IngestError, PermanentError, TemporaryError

STATUS_DETAILS_KEY = "grpc-status-details-bin"
TEMPORARY_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"})
API_KEY_ENV = "GEOCUBE_APIKEY"


class GeocubeError(PermanentError):
    """The Geocube refused a call for a reason that retrying will not fix."""

    default_code = "UNKNOWN"

    def __init__(self, message: str, *, code: str | None = None, rpc: str = "") -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.rpc = rpc


class GeocubeNotFoundError(GeocubeError):
    """An id, name or URI the call refers to does not exist on the Geocube."""

    default_code = "NOT_FOUND"


class GeocubeAlreadyExistsError(GeocubeError):
    """The object exists already; ``resource_name`` is what the server named in its ResourceInfo."""

    default_code = "ALREADY_EXISTS"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        rpc: str = "",
        resource_name: str = "",
        resource_type: str = "",
    ) -> None:
        super().__init__(message, code=code, rpc=rpc)
        self.resource_name = resource_name
        self.resource_type = resource_type


class GeocubeAuthError(GeocubeError):
    """The Geocube rejected the API key, or none was sent."""

    default_code = "UNAUTHENTICATED"


class GeocubeInvalidArgumentError(GeocubeError):
    """A request field is invalid; the message names the field and the fix."""

    default_code = "INVALID_ARGUMENT"


class GeocubeFailedPreconditionError(GeocubeError):
    """The Geocube's state forbids the call (e.g. deleting a record that still has datasets)."""

    default_code = "FAILED_PRECONDITION"


class GeocubeTlsMismatchError(GeocubeError):
    """TLS and the server disagree: a plaintext server, a TLS server for a plaintext client, or a
    certificate the client does not trust. Retrying cannot help; the message names the setting."""

    default_code = "UNAVAILABLE"


class LocalGeocubeBindError(PermanentError):
    """The local server could not listen on the address asked for (port taken, bad host)."""


class StubGenerationError(PermanentError):
    """protoc failed, or its output no longer has the line the generator rewrites."""


class GeocubeTemporaryError(TemporaryError):
    """The Geocube could not answer now; the same call may succeed later."""

    def __init__(
        self, message: str, *, code: str = "UNAVAILABLE", rpc: str = "", retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.code = code
        self.rpc = rpc


class GeocubeUnreachableError(GeocubeTemporaryError):
    """Nothing accepts connections at the address. Temporary (a Geocube may be restarting), but the
    message says to check the address first rather than to retry later."""


class LocalGeocubeStatusError(IngestError):
    """Raised by the local server's storage; the servicer turns it into the gRPC status it names.

    ``resource_name``/``resource_type`` go into a ``google.rpc.ResourceInfo`` detail, as the real server does.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        resource_name: str = "",
        resource_type: str = "",
        owner: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.resource_name = resource_name
        self.resource_type = resource_type
        self.owner = owner


@dataclass(frozen=True)
class RpcFailure:
    """What a failed call said: status name, server message and the ResourceInfo detail, if any."""

    code: str
    details: str
    resource_name: str = ""
    resource_type: str = ""
    owner: str = ""


def read_rpc_failure(exc: grpc.RpcError) -> RpcFailure:
    """Decode the status code, message and ``google.rpc.ResourceInfo`` of a failed call."""
    if not isinstance(exc, grpc.Call):  # every RpcError grpcio raises for a call is also a grpc.Call
        return RpcFailure("UNKNOWN", str(exc))
    code = exc.code().name if isinstance(exc.code(), grpc.StatusCode) else "UNKNOWN"
    details = exc.details() or ""
    trailing = exc.trailing_metadata()
    resource_name = resource_type = owner = ""
    for key, value in trailing or ():
        if key != STATUS_DETAILS_KEY or not isinstance(value, bytes):
            continue
        status = status_pb2.Status.FromString(value)
        for any_detail in status.details:
            if any_detail.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
                info = error_details_pb2.ResourceInfo()
                any_detail.Unpack(info)
                resource_name, resource_type, owner = info.resource_name, info.resource_type, info.owner
                break
    return RpcFailure(code, details, resource_name, resource_type, owner)


# grpcio's texts for a failed TLS handshake and for a refused connection (grpcio 1.6x-1.8x).
_TLS_FAILURES = ("Tls handshake failed", "Ssl handshake failed", "SSL_ERROR_SSL", "WRONG_VERSION_NUMBER")
_PLAINTEXT_TO_TLS = ("Socket closed", "Connection reset", "Trying to connect an http1.x server")
_REFUSED = ("Connection refused", "Failed to connect to remote host", "DNS resolution failed")


def _connection_error(
    details: str, *, rpc: str, address: str, insecure: bool | None
) -> GeocubeError | GeocubeTemporaryError | None:
    """An UNAVAILABLE that says the connection itself is wrong, with the setting to fix; else None."""
    where = f"Geocube {rpc} at {address}"
    if any(marker in details for marker in _TLS_FAILURES):
        if "CERTIFICATE_VERIFY_FAILED" in details or "certificate verify failed" in details.lower():
            fix = (
                "the server's TLS certificate is not trusted: give its CA with "
                "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH (a PEM file)"
            )
        else:
            fix = (
                "the server does not speak TLS: it is a plaintext (h2c) gRPC server; "
                "set GEOCUBE_INSECURE=true (or GeocubeClient(insecure=True))"
            )
        return GeocubeTlsMismatchError(f"{where}: TLS handshake failed ({details}); {fix}", rpc=rpc)
    if insecure and any(marker in details for marker in _PLAINTEXT_TO_TLS):
        return GeocubeTlsMismatchError(
            f"{where}: the connection was closed during the first plaintext call ({details}); the server "
            "probably expects TLS: unset GEOCUBE_INSECURE (or set it to false)",
            rpc=rpc,
        )
    if any(marker in details for marker in _REFUSED):
        return GeocubeUnreachableError(
            f"{where}: nothing accepts connections there ({details}); check GEOCUBE_SERVER (host:port of the "
            "Geocube gRPC API) and that the Geocube is running",
            code="UNAVAILABLE",
            rpc=rpc,
        )
    return None


def error_from_failure(
    failure: RpcFailure,
    *,
    rpc: str,
    address: str,
    secret: str | None = None,
    insecure: bool | None = None,
) -> GeocubeError | GeocubeTemporaryError:
    """Classify a failed call. ``secret`` (the API key) is scrubbed from the server's text, as a backstop.

    ``insecure`` says whether the client spoke plaintext, to tell a TLS server from a broken one.
    """
    details = failure.details
    if secret:
        details = details.replace(secret, "***")
    where = f"Geocube {rpc} at {address}"
    code = failure.code
    if code == "UNAVAILABLE":
        connection = _connection_error(details, rpc=rpc, address=address, insecure=insecure)
        if connection is not None:
            return connection
    if code in TEMPORARY_CODES:
        return GeocubeTemporaryError(f"{where}: {code}: {details}; retry later", code=code, rpc=rpc)
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return GeocubeAuthError(
            f"{where}: {code}: {details}. The server rejected the API key (or got none): set {API_KEY_ENV} "
            "(or the client's api_key) to a key the Geocube accepts",
            code=code,
            rpc=rpc,
        )
    message = f"{where}: {code}: {details}"
    if code == "ALREADY_EXISTS":
        return GeocubeAlreadyExistsError(
            message,
            rpc=rpc,
            resource_name=failure.resource_name,
            resource_type=failure.resource_type,
        )
    by_code: dict[str, type[GeocubeError]] = {
        "NOT_FOUND": GeocubeNotFoundError,
        "INVALID_ARGUMENT": GeocubeInvalidArgumentError,
        "FAILED_PRECONDITION": GeocubeFailedPreconditionError,
    }
    return by_code.get(code, GeocubeError)(message, code=code, rpc=rpc)


def unknown_exhausted_error(
    failure: RpcFailure, *, rpc: str, address: str, retries: int, secret: str | None = None
) -> GeocubeTemporaryError:
    """UNKNOWN after the client's bounded retries: temporary, saying how often it was retried."""
    details = failure.details.replace(secret, "***") if secret else failure.details
    return GeocubeTemporaryError(
        f"Geocube {rpc} at {address}: UNKNOWN: {details}; retried {retries} times on UNKNOWN with backoff. "
        "A real Geocube answers UNKNOWN while its database is down or restarting: retry later, and check "
        "the Geocube's logs if it persists",
        code="UNKNOWN",
        rpc=rpc,
    )
