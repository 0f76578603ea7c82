"""Auth, retries, temporary errors, TLS and the server CLI, over real sockets on 127.0.0.1."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from pydantic import SecretStr

from geocube_client import GeocubeAuthError, GeocubeClient, GeocubeTemporaryError
from geocube_client.errors import (
    GeocubeTlsMismatchError,
    GeocubeUnreachableError,
    LocalGeocubeBindError,
    LocalGeocubeStatusError,
)
from geocube_client.pb import geocube_pb2 as pb
from geocube_client.pb import geocube_pb2_grpc as pb_grpc
from geocube_client.server import LOCAL_VERSION, abort_with_details, start_local_server

pytestmark = pytest.mark.integration

KEY = "gc-test-key-7d41c0"
FAST = {"insecure": True, "timeout_s": 5, "unknown_retry_delays_s": (0.01, 0.02)}


class FlakyGeocube(pb_grpc.GeocubeServicer):
    """Answers ``failures`` calls with ``code`` (UNKNOWN by default), then succeeds; counts the calls."""

    def __init__(
        self, failures: int, code: grpc.StatusCode = grpc.StatusCode.UNKNOWN, delay_s: float = 0
    ) -> None:
        self.failures, self.code, self.delay_s = failures, code, delay_s
        self.calls = 0
        self._lock = threading.Lock()

    def _attempt(self, context: grpc.ServicerContext) -> None:
        with self._lock:
            self.calls += 1
            failing = self.calls <= self.failures
        time.sleep(self.delay_s)
        if failing:
            abort_with_details(
                context, LocalGeocubeStatusError(self.code, "pq: the database system is starting up")
            )

    def Version(self, request: Any, context: grpc.ServicerContext) -> pb.GetVersionResponse:  # noqa: N802
        self._attempt(context)
        return pb.GetVersionResponse(Version="flaky")

    def ListRecords(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:  # noqa: N802
        # One item, then the failure: a retried stream must not return the first item twice.
        yield pb.ListRecordsResponseItem(record=pb.Record(id="r1", time={"seconds": 1}))
        self._attempt(context)
        yield pb.ListRecordsResponseItem(record=pb.Record(id="r2", time={"seconds": 2}))


@contextmanager
def serve(servicer: pb_grpc.GeocubeServicer) -> Iterator[str]:
    server = grpc.server(ThreadPoolExecutor(2))
    pb_grpc.add_GeocubeServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None).wait()


# ------------------------------------------------------------------ auth


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("guarded") / "geocube.sqlite"
    with start_local_server(db_path=db, api_key=SecretStr(KEY)) as server:
        yield server.address


def test_good_key_is_accepted(guarded: str) -> None:
    with GeocubeClient(guarded, api_key=KEY, **FAST) as client:  # type: ignore[arg-type]
        assert client.version() == LOCAL_VERSION
        assert client.list_records(name="nothing-*") == []  # streams carry the header too


@pytest.mark.parametrize(
    ("api_key", "server_says"), [("wrong-key", "invalid token"), (None, 'missing "Bearer " prefix')]
)
def test_bad_or_missing_key_is_an_auth_error_without_the_key(
    guarded: str, api_key: str | None, server_says: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with GeocubeClient(guarded, api_key=api_key, **FAST) as client:  # type: ignore[arg-type]
        for call in (client.version, lambda: client.list_records(limit=1)):
            with pytest.raises(GeocubeAuthError) as info:
                call()
            message = str(info.value)
            assert info.value.code == "UNAUTHENTICATED"
            assert server_says in message and "set GEOCUBE_APIKEY" in message
            assert KEY not in message and (api_key is None or api_key not in message)
    assert KEY not in caplog.text and "wrong-key" not in caplog.text


def test_header_is_lower_case_authorization_bearer(guarded: str) -> None:
    with grpc.insecure_channel(guarded) as channel:
        stub = pb_grpc.GeocubeStub(channel)
        assert stub.Version(pb.GetVersionRequest(), metadata=[("authorization", f"Bearer {KEY}")]).Version
        with pytest.raises(grpc.RpcError) as info:
            stub.Version(pb.GetVersionRequest(), metadata=[("authorization", KEY)])
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]


# ------------------------------------------------------------------ UNKNOWN retries, temporary codes


def test_unknown_is_retried_then_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    servicer = FlakyGeocube(failures=2)
    with serve(servicer) as address, GeocubeClient(address, **FAST) as client:  # type: ignore[arg-type]
        assert client.version() == "flaky"
    assert servicer.calls == 3
    assert caplog.text.count("answered UNKNOWN") == 2


def test_unknown_retries_are_bounded_then_temporary() -> None:
    servicer = FlakyGeocube(failures=10)
    with serve(servicer) as address, GeocubeClient(address, **FAST) as client:  # type: ignore[arg-type]
        with pytest.raises(GeocubeTemporaryError, match="retried 2 times on UNKNOWN") as info:
            client.version()
    assert servicer.calls == 3
    assert info.value.code == "UNKNOWN"
    assert "database system is starting up" in str(info.value)


def test_a_retried_stream_is_not_duplicated() -> None:
    servicer = FlakyGeocube(failures=1)
    with serve(servicer) as address, GeocubeClient(address, **FAST) as client:  # type: ignore[arg-type]
        assert [r.id for r in client.list_records()] == ["r1", "r2"]
    assert servicer.calls == 2


def test_unavailable_is_temporary_and_not_retried_by_the_client() -> None:
    servicer = FlakyGeocube(failures=1, code=grpc.StatusCode.UNAVAILABLE)
    with serve(servicer) as address, GeocubeClient(address, **FAST) as client:  # type: ignore[arg-type]
        with pytest.raises(GeocubeTemporaryError) as info:
            client.version()
    assert servicer.calls == 1  # retrying UNAVAILABLE is the task's job (TemporaryError)
    assert info.value.code == "UNAVAILABLE"
    assert "(this error may be temporary)" in str(info.value)


def test_deadline_exceeded_is_temporary() -> None:
    servicer = FlakyGeocube(failures=0, delay_s=0.5)
    with serve(servicer) as address:
        with GeocubeClient(address, insecure=True, timeout_s=0.1) as client:
            with pytest.raises(GeocubeTemporaryError) as info:
                client.version()
    assert info.value.code == "DEADLINE_EXCEEDED"


def test_no_server_says_to_check_the_address(tmp_path: Path) -> None:
    with start_local_server(db_path=tmp_path / "g.sqlite") as server:
        address = server.address
    with GeocubeClient(address, **FAST) as client:  # type: ignore[arg-type]
        with pytest.raises(GeocubeUnreachableError) as info:
            client.version()
    assert info.value.code == "UNAVAILABLE"
    assert "check GEOCUBE_SERVER" in str(info.value)
    assert "retry later" not in str(info.value)
    assert isinstance(info.value, GeocubeTemporaryError)  # a Geocube may be restarting


def test_tls_against_a_plaintext_server_says_geocube_insecure(tmp_path: Path) -> None:
    with start_local_server(db_path=":memory:") as server:
        with GeocubeClient(server.address, timeout_s=5) as client:
            with pytest.raises(GeocubeTlsMismatchError) as info:
                client.version()
    message = str(info.value)
    assert "GEOCUBE_INSECURE=true" in message and "retry later" not in message
    assert not isinstance(info.value, GeocubeTemporaryError)


def test_a_port_in_use_is_a_bind_error(tmp_path: Path) -> None:
    with start_local_server(db_path=":memory:") as server:
        with pytest.raises(LocalGeocubeBindError, match=f"cannot listen on 127.0.0.1:{server.port}"):
            start_local_server(db_path=":memory:", port=server.port)


def test_data_survive_a_restart_on_the_same_file(tmp_path: Path) -> None:
    db = tmp_path / "geocube.sqlite"
    square = "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))"
    with start_local_server(db_path=db) as server, GeocubeClient(server.address, **FAST) as client:  # type: ignore[arg-type]
        first = client.create_aoi(square)
    with start_local_server(db_path=db) as server, GeocubeClient(server.address, **FAST) as client:  # type: ignore[arg-type]
        assert client.create_aoi(square) == first


# ------------------------------------------------------------------ TLS


def self_signed_certificate() -> tuple[bytes, bytes]:
    """A certificate for IP 127.0.0.1 and its key, both PEM."""
    x509 = pytest.importorskip(
        "cryptography.x509", reason="cryptography (a Prefect dependency) makes the cert"
    )
    import ipaddress

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def test_tls_with_given_roots(tmp_path: Path) -> None:
    cert, key = self_signed_certificate()
    with start_local_server(db_path=":memory:", tls_cert_pem=cert, tls_key_pem=key, api_key=KEY) as server:
        with GeocubeClient(server.address, api_key=KEY, root_certificates=cert, timeout_s=5) as client:
            assert client.version() == LOCAL_VERSION
        with GeocubeClient(server.address, api_key=KEY, insecure=True, timeout_s=2) as plaintext:
            with pytest.raises(GeocubeTlsMismatchError) as info:
                plaintext.version()
        assert "unset GEOCUBE_INSECURE" in str(info.value)
        with GeocubeClient(server.address, api_key=KEY, timeout_s=5) as untrusted:
            with pytest.raises(GeocubeTlsMismatchError) as info:
                untrusted.version()
        assert "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH" in str(info.value)


# ------------------------------------------------------------------ CLI


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "TEST_GEOCUBE_KEY": KEY}
    command = [sys.executable, "-m", "geocube_client.server", "--port", "0",
               "--db", str(tmp_path / "g.sqlite"), "--api-key-env", "TEST_GEOCUBE_KEY"]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        seen = ""
        match = None
        while match is None:  # the first lines could be gRPC's own; EOF ends the loop
            line = proc.stderr.readline()
            assert line, f"the server exited before listening: {seen}"
            seen += line
            match = re.search(r"listening on (127\.0\.0\.1:\d+)", line)
        with GeocubeClient(match.group(1), api_key=KEY, **FAST) as client:  # type: ignore[arg-type]
            assert client.version() == LOCAL_VERSION
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        rest = proc.stderr.read()
        assert "stopped" in rest
        assert KEY not in seen + rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_cli_refuses_an_unset_key_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "UNSET_GEOCUBE_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "geocube_client.server", "--port", "0", "--db", ":memory:",
         "--api-key-env", "UNSET_GEOCUBE_KEY"],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "UNSET_GEOCUBE_KEY" in result.stderr and "unset or empty" in result.stderr
