"""Classification of gRPC statuses (geocube-api.md: temporary codes; UNKNOWN retried by the client)."""

from __future__ import annotations

import pytest

from common.errors import PermanentError, TemporaryError, is_temporary
from geocube_client.errors import (
    GeocubeAlreadyExistsError,
    GeocubeAuthError,
    GeocubeError,
    GeocubeFailedPreconditionError,
    GeocubeInvalidArgumentError,
    GeocubeNotFoundError,
    GeocubeTemporaryError,
    RpcFailure,
    error_from_failure,
    unknown_exhausted_error,
)

KEY = "tok-3e1f-secret"


@pytest.mark.parametrize(
    ("code", "cls", "family"),
    [
        ("UNAVAILABLE", GeocubeTemporaryError, TemporaryError),
        ("DEADLINE_EXCEEDED", GeocubeTemporaryError, TemporaryError),
        ("RESOURCE_EXHAUSTED", GeocubeTemporaryError, TemporaryError),
        ("NOT_FOUND", GeocubeNotFoundError, PermanentError),
        ("ALREADY_EXISTS", GeocubeAlreadyExistsError, PermanentError),
        ("UNAUTHENTICATED", GeocubeAuthError, PermanentError),
        ("PERMISSION_DENIED", GeocubeAuthError, PermanentError),
        ("INVALID_ARGUMENT", GeocubeInvalidArgumentError, PermanentError),
        ("FAILED_PRECONDITION", GeocubeFailedPreconditionError, PermanentError),
        ("INTERNAL", GeocubeError, PermanentError),
        ("UNIMPLEMENTED", GeocubeError, PermanentError),
    ],
)
def test_each_code_lands_in_its_family(code: str, cls: type[Exception], family: type[Exception]) -> None:
    err = error_from_failure(RpcFailure(code, "boom"), rpc="IndexDatasets", address="127.0.0.1:1")
    assert type(err) is cls
    assert isinstance(err, family)
    assert is_temporary(err) is (family is TemporaryError)
    assert err.code == code
    assert err.rpc == "IndexDatasets"
    assert "Geocube IndexDatasets at 127.0.0.1:1" in str(err)


def test_already_exists_keeps_the_resource_info() -> None:
    err = error_from_failure(
        RpcFailure("ALREADY_EXISTS", "exists", resource_name="aoi-id", resource_type="AOI"),
        rpc="CreateAOI",
        address="h:1",
    )
    assert isinstance(err, GeocubeAlreadyExistsError)
    assert (err.resource_name, err.resource_type) == ("aoi-id", "AOI")


def test_auth_error_names_the_env_var_and_scrubs_the_key() -> None:
    err = error_from_failure(
        RpcFailure("UNAUTHENTICATED", f"invalid token {KEY}"), rpc="Version", address="h:1", secret=KEY
    )
    assert isinstance(err, GeocubeAuthError)
    assert "GEOCUBE_APIKEY" in str(err)
    assert KEY not in str(err)


def test_unknown_after_retries_is_temporary_and_says_so() -> None:
    err = unknown_exhausted_error(
        RpcFailure("UNKNOWN", "pq: the database system is shutting down"),
        rpc="CreateRecords",
        address="h:1",
        retries=2,
    )
    assert isinstance(err, GeocubeTemporaryError)
    assert "retried 2 times on UNKNOWN" in str(err)
    assert "shutting down" in str(err)
