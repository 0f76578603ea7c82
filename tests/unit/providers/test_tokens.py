"""The token manager's pieces that need no server: RFC 6238 codes, login forms, no secret shown."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from providers.fetch import DownloadAuthError
from providers.tokens import Account, OidcTokens, totp_code

# RFC 6238 appendix B: the SHA-1 seed is the ASCII "12345678901234567890".
RFC_SECRET = SecretStr(base64.b32encode(b"12345678901234567890").decode())


@pytest.mark.parametrize(
    ("at_s", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_totp_codes_are_those_of_rfc_6238(at_s: int, code: str) -> None:
    assert totp_code(RFC_SECRET, at_s=at_s, digits=8) == code
    assert totp_code(RFC_SECRET, at_s=at_s) == code[-6:]


def test_a_secret_in_lower_case_with_spaces_and_no_padding_is_read_as_authenticator_apps_show_it() -> None:
    text = RFC_SECRET.get_secret_value().lower().rstrip("=")
    shown = SecretStr(" ".join(text[i : i + 4] for i in range(0, len(text), 4)))
    assert totp_code(shown, at_s=59) == "287082"


def test_a_secret_that_is_not_base32_is_refused_without_showing_it() -> None:
    account = Account(
        "https://id.example/token",
        "CLOUDFERRO_PUBLIC",
        "u",
        SecretStr("pw"),
        settings="GEOCUBE_INGESTER_CREODIAS_TOTP_SECRET",
        totp_secret=SecretStr("not-base32!1"),
    )
    with pytest.raises(
        DownloadAuthError, match=r"not base32.*check GEOCUBE_INGESTER_CREODIAS_TOTP_SECRET"
    ) as info:
        OidcTokens(account).headers()
    assert "not-base32!1" not in str(info.value)


def test_accounts_and_token_managers_show_no_secret() -> None:
    account = Account(
        "https://id.example/token",
        "IDP",
        "APIKEY",
        SecretStr("the-api-key"),
        grant_type="api_key",
        totp_secret=RFC_SECRET,
    )
    for shown in (repr(account), str(account), repr(OidcTokens(account))):
        assert "the-api-key" not in shown and RFC_SECRET.get_secret_value() not in shown
