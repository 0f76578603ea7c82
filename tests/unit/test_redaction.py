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
