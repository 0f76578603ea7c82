"""Checks the client makes before sending: nothing reaches the network (the address is closed)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from common.dataformat import DataFormat
from geocube_client import GeocubeClient, GeocubeInvalidArgumentError

KEY = "k-5f0c-do-not-print"


@pytest.fixture
def client() -> Iterator[GeocubeClient]:
    # Port 9 (discard) on 127.0.0.1: any call that did reach the network would fail with UNAVAILABLE.
    with GeocubeClient("127.0.0.1:9", api_key=SecretStr(KEY), insecure=True, timeout_s=1) as c:
        yield c


def index(client: GeocubeClient, **overrides: object) -> None:
    arguments: dict[str, object] = {
        "uri": "/data/S1A_VV.tif",
        "record_id": "r",
        "instance_id": "i",
        "bands": [1],
        "dformat": DataFormat.parse("uint16,0,1,65535"),
        "real_min_value": 0.0,
        "real_max_value": 1.0,
    }
    client.index_dataset(**(arguments | overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"exponent": 0.0}, "exponent: 0.0 must be > 0; pass exponent=1.0"),
        ({"exponent": math.nan}, "exponent: nan must be > 0"),
        ({"dformat": DataFormat("uint16", 0, 10, 10)}, "dformat: min_value=10.0 must be < max_value=10.0"),
        ({"real_min_value": 2.0}, "real_min_value=2.0 must be < real_max_value=1.0"),
        ({"uri": "file:///data/x.tif"}, "refuses file:// URIs; pass the absolute path '/data/x.tif'"),
        ({"bands": []}, "bands: \\[\\]; pass 1-based band indices"),
        ({"bands": [0]}, "bands: \\[0\\]; pass 1-based"),
        ({"record_id": ""}, "record_id: empty"),
    ],
)
def test_index_dataset_checks_before_sending(
    client: GeocubeClient, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(GeocubeInvalidArgumentError, match=message) as info:
        index(client, **overrides)
    assert info.value.code == "INVALID_ARGUMENT"


def test_create_variable_checks_before_sending(client: GeocubeClient) -> None:
    with pytest.raises(
        GeocubeInvalidArgumentError, match="resampling: 'UNDEFINED' is not one of NEAR"
    ) as info:
        client.create_variable(
            name="v", bands=[], dformat=DataFormat.parse("u1,0,0,255"), resampling="UNDEFINED"
        )
    assert "bands: []" in str(info.value)


def test_get_variable_needs_exactly_one_identifier(client: GeocubeClient) -> None:
    with pytest.raises(GeocubeInvalidArgumentError, match="exactly one of id=, name=, instance_id="):
        client.get_variable(id="a", name="b")


def test_repr_never_shows_the_key(client: GeocubeClient) -> None:
    assert KEY not in repr(client)
    assert "api_key=set" in repr(client)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"address": "nohostport"}, "is not host:port"),
        ({"address": "127.0.0.1:9", "timeout_s": 0}, "timeout_s: 0 must be > 0"),
        ({"address": "127.0.0.1:9", "unknown_retry_delays_s": (-1,)}, "must be finite delays >= 0"),
    ],
)
def test_constructor_arguments_are_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(GeocubeInvalidArgumentError, match=message):
        GeocubeClient(**kwargs)  # type: ignore[arg-type]
