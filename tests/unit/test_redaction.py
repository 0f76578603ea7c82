"""The log redaction backstop."""

from __future__ import annotations

import logging

import pytest

from common.redaction import install_redaction, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("HTTP Request: GET https://host/p.zip?X-Amz-Signature=abc123&token=t0k3n", "abc123"),
        ("fetching https://user:hunter2@example.org/file", "hunter2"),
        ("header Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
        ("login apikey=SECRET-KEY-1 user=bob", "SECRET-KEY-1"),
        ("password: pa55w0rd", "pa55w0rd"),
        ("python step.py --aws_secret_access_key=AWS-XYZ --dem=SRTM", "AWS-XYZ"),
    ],
)
def test_secrets_are_removed(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "<redacted>" in redact(text)


def test_plain_text_is_unchanged() -> None:
    text = "S2A_MSIL1C_20240105T105421: downloaded https://host/products/a.zip (10 bytes)"
    assert redact(text) == text


def test_installed_redaction_cleans_records_of_every_logger(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction()
    factory = logging.getLogRecordFactory()
    install_redaction()  # idempotent
    assert logging.getLogRecordFactory() is factory
    with caplog.at_level(logging.INFO):
        logging.getLogger("httpx").info("HTTP Request: %s %s", "GET", "https://h/x?sig=zzz-secret")
        logging.getLogger("providers.cdse.search").warning(
            "reading s3://key:pw-secret@bucket/p.zip?X-Amz-Signature=s3-secret"
        )
        logging.getLogger("jobs.process").info("Authorization: Bearer tok-secret")
    for secret in ("zzz-secret", "pw-secret", "s3-secret", "tok-secret"):
        assert secret not in caplog.text
    assert "https://h/x?<redacted>" in caplog.text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@host:8443/a/b.zip?sig=abc#x", "https://host:8443/a/b.zip"),
        ("s3://bucket/key.zip?versionId=1", "s3://bucket/key.zip"),
        ("/archive/{SCENE}.zip?x=1", "/archive/{SCENE}.zip"),
    ],
)
def test_redact_url_drops_query_and_credentials(url: str, shown: str) -> None:
    from common.redaction import redact_url

    assert redact_url(url) == shown


def test_strip_url_secrets_keeps_what_is_not_a_secret() -> None:
    from common.redaction import strip_url_secrets

    assert strip_url_secrets("https://u:p@h.example:8443/a.zip?sig=x&format=zip#f") == (
        "https://h.example:8443/a.zip?format=zip#f"
    )
    assert strip_url_secrets("https://h/a?apikey=1&access_token=2&page=3") == "https://h/a?page=3"
    assert strip_url_secrets("/data/archive/a.zip") == "/data/archive/a.zip"
    assert strip_url_secrets("https://h/a.zip") == "https://h/a.zip"


# Every line shape the outside probe (issue 12) and later reviews found leaking, each with its needle.
LEAKING_SHAPES = [
    ('{"password": "hunter2-json"}', "hunter2-json"),
    ("{'password': 'hunter2-repr'}", "hunter2-repr"),
    ('{"client_secret":"cs-9f8e7d","grant_type":"password"}', "cs-9f8e7d"),
    ("{'api_key': 'ak-123456'}", "ak-123456"),
    ('{"refresh_token": 987654321}', "987654321"),
    ('{"password": "with \\"escaped\\" quote"}', "escaped"),
    ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
    ("headers={'Authorization': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
    ("authorization=Digest-less-raw-token-77", "Digest-less-raw-token-77"),
    ("GET https://host/api/token/tk-path-secret/download", "tk-path-secret"),
    ("GET https://host/v1/apikey/ak-path-secret", "ak-path-secret"),
    ("gpt graph.xml --password pw-cli-secret --out x", "pw-cli-secret"),
    ("step --api-key ak-cli-secret", "ak-cli-secret"),
    ("password=ab&cd-amp-secret", "cd-amp-secret"),
    ("password=ab;cd-semicolon-secret", "cd-semicolon-secret"),
    ("password=ab,cd-comma-secret", "cd-comma-secret"),
    ("password=ab'cd-quote-secret", "cd-quote-secret"),
    ('password="two words secret"', "words secret"),
    ("GEOCUBE_INGESTER_CDSE_S3_KEY=s3-access-key-id", "s3-access-key-id"),
    ("AWS_SECRET_ACCESS_KEY: aws-secret-value", "aws-secret-value"),
    ("ONEATLAS_KEY=one-atlas-key", "one-atlas-key"),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl in text", "eyJzdWIiOiJ4In0"),
    ("HTTP Request: GET https://h/x?sig=zzz-secret", "zzz-secret"),
    ("s3://key:pw-secret@bucket/p.zip", "pw-secret"),
    ("Authorization: Bearer tok-secret-bearer", "tok-secret-bearer"),
]


@pytest.mark.parametrize(("text", "needle"), LEAKING_SHAPES)
def test_every_known_leaking_shape_is_masked(text: str, needle: str) -> None:
    assert needle not in redact(text), redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "S1A_IW_SLC__1SDV_20220101T053645_20220101T053712_041265_04E79F_62D6: 3 bursts",
        "product 2b17b5a2-8f3e-4c1a-9d2e-5f6a7b8c9d0e downloaded (1.2 GB, 98 MB/s)",
        "stored /data/geocube/DemoToulouse/tiles/T31TCJ/20240105/B04.tif",
        "tile 3/12 done in 4.2 s; previous 20240105, reference 20240101",
        "GetCube returned 4 layers (keys: B04, B08)",
    ],
)
def test_ordinary_lines_are_unchanged(text: str) -> None:
    assert redact(text) == text


def test_registered_secret_values_are_masked_whatever_their_shape() -> None:
    from common.redaction import register_secret

    register_secret("Zq8-registered-value", None, "", "abc")  # too short or empty: ignored
    assert redact("the server said: invalid credentials Zq8-registered-value!") == (
        "the server said: invalid credentials <redacted>!"
    )
    assert redact("abc and abcd") == "abc and abcd"


def test_loading_the_settings_registers_their_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from common.settings import load_settings

    monkeypatch.setenv("GEOCUBE_INGESTER_DHUS_PASSWORD", "dhus-Pw-from-env-71")
    load_settings()
    assert redact("hub answered 401 for dhus-Pw-from-env-71") == "hub answered 401 for <redacted>"


def test_tokens_obtained_at_run_time_are_registered() -> None:
    import httpx

    from providers.tokens import Account, OidcTokens

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "runtime-Access-Tok-42", "expires_in": 600})

    from pydantic import SecretStr

    account = Account(
        token_url="http://127.0.0.1:1/token", client_id="c", username="u", password=SecretStr("p")
    )
    tokens = OidcTokens(account, client=httpx.Client(transport=httpx.MockTransport(answer)))
    assert tokens.access_token().get_secret_value() == "runtime-Access-Tok-42"
    assert redact("echo: runtime-Access-Tok-42") == "echo: <redacted>"


@pytest.mark.parametrize(
    "text",
    [
        "SecretSweep: scenes: 3/3 done, 0 failed",
        "TopSecretValley: 12 tiles",
        "token_url=https://identity.example/token",
        "tokenizer: whitespace",
    ],
)
def test_names_that_only_contain_a_secret_word_are_not_masked(text: str) -> None:
    assert redact(text) == text


def test_a_download_error_page_echoing_the_credentials_is_redacted() -> None:
    import httpx

    from providers.errors import download_status_error

    echoed = httpx.Response(
        400, text="bad request: you sent Authorization: Basic dXNlcjpodW50ZXIy, token=abc123"
    )
    error = download_status_error(echoed, "p.zip: https://host/p.zip answered 400")
    assert error is not None
    assert "dXNlcjpodW50ZXIy" not in str(error) and "abc123" not in str(error)
    assert "answered 400" in str(error)
