"""The Geocube client's wire: one gRPC channel, the API key as call metadata, and one failure policy.

Every call goes through :meth:`Transport.invoke`: it adds the ``authorization: Bearer <key>`` metadata,
applies the timeout, retries UNKNOWN a bounded number of times (a real Geocube answers UNKNOWN while its
database restarts), and turns any ``grpc.RpcError`` into ``geocube_client.errors`` in one place. The API
key is kept as a ``SecretStr``: it appears in no log line, exception or repr.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import grpc
from pydantic import SecretStr

from geocube_client.errors import (
    GeocubeInvalidArgumentError,
    error_from_failure,
    read_rpc_failure,
    unknown_exhausted_error,
)
from geocube_client.pb import geocube_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Transport:
    """A channel to one Geocube server and the rules every call follows (see the module docstring)."""

    def __init__(
        self,
        address: str,
        *,
        api_key: str | SecretStr | None,
        insecure: bool,
        timeout_s: float,
        root_certificates: bytes | None,
        unknown_retry_delays_s: Sequence[float],
    ) -> None:
        if not address or ":" not in address:
            raise GeocubeInvalidArgumentError(f"address: {address!r} is not host:port (e.g. 127.0.0.1:8080)")
        if not timeout_s > 0:
            raise GeocubeInvalidArgumentError(f"timeout_s: {timeout_s} must be > 0 (seconds per call)")
        if any(not (d >= 0 and math.isfinite(d)) for d in unknown_retry_delays_s):
            raise GeocubeInvalidArgumentError(
                f"unknown_retry_delays_s: {tuple(unknown_retry_delays_s)} must be finite delays >= 0 s"
            )
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        self._api_key: SecretStr | None = SecretStr(key) if key else None
        self.address = address
        self.insecure = insecure
        self.timeout_s = timeout_s
        self.unknown_retry_delays_s = tuple(unknown_retry_delays_s)
        if insecure:
            self._channel = grpc.insecure_channel(address)
        else:
            self._channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates))
        # Both services share the channel: a Geocube serves geocube.Admin on the same port.
        self._stubs: dict[str, Any] = {
            "Geocube": pb_grpc.GeocubeStub(self._channel),
            "Admin": pb_grpc.AdminStub(self._channel),
        }

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    def close(self) -> None:
        self._channel.close()

    def _secret(self) -> str | None:
        return self._api_key.get_secret_value() if self._api_key else None

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        key = self._secret()
        return (("authorization", f"Bearer {key}"),) if key else ()

    def invoke(self, rpc: str, call: Callable[[], T]) -> T:
        """Run ``call``, retrying UNKNOWN, and map any failure to the error tree."""
        retries = len(self.unknown_retry_delays_s)
        for attempt in range(retries + 1):
            try:
                return call()
            except grpc.RpcError as exc:
                failure = read_rpc_failure(exc)
                if failure.code != "UNKNOWN":
                    raise error_from_failure(
                        failure, rpc=rpc, address=self.address, secret=self._secret(), insecure=self.insecure
                    ) from exc
                if attempt == retries:
                    raise unknown_exhausted_error(
                        failure, rpc=rpc, address=self.address, retries=retries, secret=self._secret()
                    ) from exc
                delay_s = self.unknown_retry_delays_s[attempt]
                secret = self._secret()
                details = failure.details.replace(secret, "***") if secret else failure.details
                logger.warning(
                    "Geocube %s at %s answered UNKNOWN (attempt %d of %d: %s); retrying in %.2f s",
                    rpc, self.address, attempt + 1, retries + 1, details, delay_s,
                )  # fmt: skip
                time.sleep(delay_s)
        raise AssertionError("unreachable")  # pragma: no cover

    def unary(self, rpc: str, request: object, *, service: str = "Geocube") -> Any:
        method = getattr(self._stubs[service], rpc)
        return self.invoke(rpc, lambda: method(request, timeout=self.timeout_s, metadata=self._metadata()))

    def stream(self, rpc: str, request: object) -> list[Any]:
        method = getattr(self._stubs["Geocube"], rpc)
        return self.invoke(
            rpc, lambda: list(method(request, timeout=self.timeout_s, metadata=self._metadata()))
        )
