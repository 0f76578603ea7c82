"""A Geocube-compatible local server: Python gRPC over SQLite, for tests, demos and offline runs.

It speaks our ``geocube.proto`` (services ``geocube.Geocube`` and ``geocube.Admin``, on one port as
upstream serves them) and reproduces the server behaviour an ingester depends on
(shared/docs/geocube-api.md): error codes, ``google.rpc.ResourceInfo`` details in the
``grpc-status-details-bin`` trailer, " (this error may be temporary)" on temporary codes, AOI identity by
exact coordinates, atomic record batches, indexing that opens the file (rasterio), GetCube, which reads
layers back in their variable's format as a real Geocube does (``server_cube``), and dataset deletion.

Auth: with ``api_key`` set, every call needs ``authorization: Bearer <key>``, else UNAUTHENTICATED
(``missing "Bearer " prefix`` / ``invalid token``); that one key is also the admin key, whereas a real
Geocube takes only its "admin" key for ``/geocube.Admin/`` calls (upstream cmd/server/auth.go). A real
Geocube reads its keys from a secret store (Google Secret Manager) and, without one, accepts any
``authorization``; here the key is given directly (the CLI reads it from an environment variable named
by ``--api-key-env``).

Run it::

    python -m geocube_client.server --host 127.0.0.1 --port 8080 --db geocube.sqlite [--api-key-env VAR]

It listens on 127.0.0.1 by default and stops gracefully on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import functools
import hmac
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from pydantic import SecretStr
from typing_extensions import override

from geocube_client import server_cube, server_index, server_store, server_variables
from geocube_client.errors import (
    STATUS_DETAILS_KEY,
    LocalGeocubeBindError,
    LocalGeocubeStatusError,
)
from geocube_client.pb import geocube_pb2 as pb
from geocube_client.pb import geocube_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)

LOCAL_VERSION = "1.0.3+local"  # the Geocube release whose behaviour this server follows
TEMPORARY_SUFFIX = " (this error may be temporary)"
_TEMPORARY_CODES = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}

F = TypeVar("F", bound=Callable[..., Any])


def abort_with_details(context: grpc.ServicerContext, err: LocalGeocubeStatusError) -> NoReturn:
    """Abort the call as the real server does: message, and a ResourceInfo in the status details."""
    message = err.message + (TEMPORARY_SUFFIX if err.code in _TEMPORARY_CODES else "")
    status = status_pb2.Status(code=err.code.value[0], message=message)
    if err.resource_name or err.resource_type:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.ResourceInfo(
                resource_type=err.resource_type, resource_name=err.resource_name, owner=err.owner
            )
        )
        status.details.append(detail)
    context.set_trailing_metadata(((STATUS_DETAILS_KEY, status.SerializeToString()),))
    context.abort(err.code, message)
    raise AssertionError("context.abort returned")  # pragma: no cover


def _with_statuses(method: F) -> F:
    """Turn a LocalGeocubeStatusError raised by the storage into the gRPC status it names."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except LocalGeocubeStatusError as err:
            abort_with_details(context, err)

    return wrapper  # type: ignore[return-value]


class LocalGeocubeServicer(pb_grpc.GeocubeServicer):
    """The RPCs of ``geocube.Geocube`` that an ingester uses, over a ``LocalDatabase``."""

    def __init__(self, db: server_store.LocalDatabase) -> None:
        self.db = db

    @override
    def Version(self, request: pb.GetVersionRequest, context: grpc.ServicerContext) -> pb.GetVersionResponse:
        return pb.GetVersionResponse(Version=LOCAL_VERSION)

    @override
    @_with_statuses
    def GetVariable(self, request: pb.GetVariableRequest, context: grpc.ServicerContext) -> Any:
        return pb.GetVariableResponse(variable=server_variables.get_variable(self.db, request))

    @override
    @_with_statuses
    def ListVariables(self, request: pb.ListVariablesRequest, context: grpc.ServicerContext) -> Any:
        variables = server_variables.list_variables(self.db, request)  # read before streaming: errors abort
        return iter([pb.ListVariablesResponseItem(variable=v) for v in variables])

    @override
    @_with_statuses
    def CreateVariable(self, request: pb.CreateVariableRequest, context: grpc.ServicerContext) -> Any:
        return pb.CreateVariableResponse(id=server_variables.create_variable(self.db, request.variable))

    @override
    @_with_statuses
    def InstantiateVariable(
        self, request: pb.InstantiateVariableRequest, context: grpc.ServicerContext
    ) -> Any:
        instance = server_variables.instantiate_variable(
            self.db, request.variable_id, request.instance_name, request.instance_metadata
        )
        return pb.InstantiateVariableResponse(instance=instance)

    @override
    @_with_statuses
    def CreateAOI(self, request: pb.CreateAOIRequest, context: grpc.ServicerContext) -> Any:
        return pb.CreateAOIResponse(id=server_store.create_aoi(self.db, request.aoi))

    @override
    @_with_statuses
    def CreateRecords(self, request: pb.CreateRecordsRequest, context: grpc.ServicerContext) -> Any:
        return pb.CreateRecordsResponse(ids=server_store.create_records(self.db, request.records))

    @override
    @_with_statuses
    def ListRecords(self, request: pb.ListRecordsRequest, context: grpc.ServicerContext) -> Any:
        records = server_store.list_records(self.db, request)
        return iter([pb.ListRecordsResponseItem(record=r) for r in records])

    @override
    @_with_statuses
    def AddRecordsTags(self, request: pb.AddRecordsTagsRequest, context: grpc.ServicerContext) -> Any:
        return pb.AddRecordsTagsResponse(nb=server_store.add_records_tags(self.db, request.ids, request.tags))

    @override
    @_with_statuses
    def DeleteRecords(self, request: pb.DeleteRecordsRequest, context: grpc.ServicerContext) -> Any:
        return pb.DeleteRecordsResponse(nb=server_store.delete_records(self.db, request.ids, request.no_fail))

    @override
    @_with_statuses
    def IndexDatasets(self, request: pb.IndexDatasetsRequest, context: grpc.ServicerContext) -> Any:
        server_index.index_datasets(self.db, request.container)
        return pb.IndexDatasetsResponse()

    @override
    @_with_statuses
    def GetCube(self, request: pb.GetCubeRequest, context: grpc.ServicerContext) -> Any:
        return iter(server_cube.get_cube(self.db, request))  # made before streaming: errors abort

    @override
    @_with_statuses
    def GetContainers(self, request: pb.GetContainersRequest, context: grpc.ServicerContext) -> Any:
        return pb.GetContainersResponse(containers=server_index.get_containers(self.db, list(request.uris)))


class LocalAdminServicer(pb_grpc.AdminServicer):
    """``geocube.Admin``, served on the same port as ``geocube.Geocube``, as a real Geocube does."""

    def __init__(self, db: server_store.LocalDatabase) -> None:
        self.db = db

    @override
    @_with_statuses
    def DeleteDatasets(self, request: pb.DeleteDatasetsRequest, context: grpc.ServicerContext) -> Any:
        lines = server_index.delete_datasets(
            self.db, list(request.records_id), list(request.instances_id), simulate=request.simulate
        )
        return pb.DeleteDatasetsResponse(results=lines)


class ApiKeyInterceptor(grpc.ServerInterceptor):
    """Check ``authorization: Bearer <key>`` on every call, as the Geocube's gRPC interceptors do."""

    def __init__(self, api_key: SecretStr) -> None:
        self._expected = api_key.get_secret_value().encode()

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        metadata = dict(handler_call_details.invocation_metadata or ())
        value = metadata.get("authorization", "")
        if not isinstance(value, str) or not value.startswith("Bearer "):
            reason = 'missing "Bearer " prefix'
        elif not hmac.compare_digest(value.removeprefix("Bearer ").encode(), self._expected):
            reason = "invalid token"
        else:
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None

        def deny(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)

        make = (
            grpc.unary_stream_rpc_method_handler
            if handler.response_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        return make(
            deny,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class LocalGeocube:
    """A running local server: ``address`` is ``host:port``; ``stop()`` (or leave the ``with`` block)."""

    def __init__(
        self,
        server: grpc.Server,
        executor: futures.ThreadPoolExecutor,
        db: server_store.LocalDatabase,
        host: str,
        port: int,
    ) -> None:
        self._server = server
        self._executor = executor
        self._db = db
        self.host = host
        self.port = port
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.db_path = db.db_path

    def __repr__(self) -> str:
        return f"LocalGeocube(address={self.address!r}, db_path={self.db_path!r})"

    def stop(self, grace_s: float | None = 1.0) -> None:
        """Stop accepting calls, let running ones finish for ``grace_s`` seconds, then close the database."""
        self._server.stop(grace_s).wait()
        self._executor.shutdown(wait=True)
        self._db.close()

    def __enter__(self) -> LocalGeocube:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_local_server(
    *,
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | SecretStr | None = None,
    max_workers: int = 8,
    tls_cert_pem: bytes | None = None,
    tls_key_pem: bytes | None = None,
) -> LocalGeocube:
    """Start a local Geocube on ``host:port`` (port 0: any free port) over the SQLite ``db_path``.

    ``db_path`` may be ``":memory:"``. With ``tls_cert_pem`` and ``tls_key_pem`` it serves TLS,
    otherwise plaintext (connect with ``GeocubeClient(..., insecure=True)``).

    Raises:
        LocalGeocubeBindError: the address cannot be listened on.
    """
    key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    interceptors = [ApiKeyInterceptor(SecretStr(key))] if key else []
    db = server_store.LocalDatabase(db_path)
    # No SO_REUSEPORT: a second server on a port in use must fail, not share the port silently.
    executor = futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="local-geocube")
    server = grpc.server(
        executor,
        interceptors=interceptors,
        options=[("grpc.so_reuseport", 0)],
    )
    pb_grpc.add_GeocubeServicer_to_server(LocalGeocubeServicer(db), server)
    pb_grpc.add_AdminServicer_to_server(LocalAdminServicer(db), server)
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        if tls_cert_pem is not None and tls_key_pem is not None:
            bound = server.add_secure_port(target, grpc.ssl_server_credentials([(tls_key_pem, tls_cert_pem)]))
        else:
            bound = server.add_insecure_port(target)
    except RuntimeError as exc:
        executor.shutdown()
        db.close()
        raise LocalGeocubeBindError(
            f"local Geocube: cannot listen on {target}: {exc}; pick another port (0: any free port)"
        ) from exc
    if bound == 0:
        executor.shutdown()
        db.close()
        raise LocalGeocubeBindError(
            f"local Geocube: cannot listen on {target}; pick another port (0: any free port)"
        )
    server.start()
    geocube = LocalGeocube(server, executor, db, host, bound)
    logger.info(
        "local Geocube listening on %s (db %s, api key %s)",
        geocube.address,
        db.db_path,
        "on" if key else "off",
    )
    return geocube


def main(argv: list[str] | None = None) -> int:
    """CLI: run a local Geocube until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m geocube_client.server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0: any free port; default: 8080)")
    parser.add_argument(
        "--db", default="geocube.sqlite", help="SQLite file, or :memory: (default: geocube.sqlite)"
    )
    parser.add_argument(
        "--api-key-env", metavar="VAR", help="require the API key held in environment variable VAR"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            logger.error(
                "--api-key-env %s: the environment variable is unset or empty; export it", args.api_key_env
            )
            return 2
    try:
        geocube = start_local_server(db_path=args.db, host=args.host, port=args.port, api_key=api_key)
    except LocalGeocubeBindError as exc:
        logger.error("%s", exc)
        return 1

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        logger.info("local Geocube: got %s, stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while not stopping.wait(0.5):
        pass
    geocube.stop(grace_s=5.0)
    logger.info("local Geocube stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
