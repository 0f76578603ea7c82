"""A backstop against secrets in logs (STYLE.md §7): query strings, credentials in URLs, tokens.

Code never logs a secret on purpose; this catches what libraries log (httpx logs every request URL,
signed query strings included). ``install_redaction`` applies it to every log record of the process.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_PATTERNS = [
    # Query strings of URLs of any scheme (signed http/s3/gs URLs, ?token=, ?apikey=).
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s?#\"']+)\?[^\s\"']*", re.IGNORECASE), r"\1?<redacted>"),
    # user:password@host
    (re.compile(r"\b([a-z][a-z0-9+.-]*://)[^\s/@\"']+:[^\s/@\"']+@", re.IGNORECASE), r"\1<redacted>@"),
    # Authorization headers and bearer tokens.
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1<redacted>"),
    # key=value pairs whose key names a secret (also inside a longer name: --aws_secret_access_key=...).
    (
        re.compile(
            r"(?i)\b([\w-]*(?:api[_-]?key|token|password|passwd|secret)[\w-]*)(\s*[=:]\s*)[^\s&,;\"']+"
        ),
        r"\1\2<redacted>",
    ),
]


def redact_url(url: str) -> str:
    """``url`` without query string, fragment or user info: safe to log and to put in messages.

    Signed URLs carry their secret in the query string; ``user:password@`` carries it in the netloc.
    A local path (no scheme) keeps everything but a ``?...`` part.
    """
    parts = urlsplit(url)
    if not parts.scheme or len(parts.scheme) == 1:  # a local path (or a Windows drive letter)
        return url.split("?", 1)[0]
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}{parts.path}"


# Query parameters that carry a secret: tokens, keys, passwords, signatures (S3, GCS, Azure SAS "sig").
_SECRET_PARAM = re.compile(
    r"(?i)(token|key|password|passwd|secret|credential|auth|session|sig|signature|^x-amz-|^x-goog-)"
)


def strip_url_secrets(url: str) -> str:
    """``url`` without its user info and without the query parameters that carry a secret (the
    others stay): what may be stored and passed around. The secret comes back from the settings of
    whoever downloads (e.g. the worker's ``~/.netrc``), never from the link."""
    parts = urlsplit(url)
    if not parts.scheme or len(parts.scheme) == 1:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _SECRET_PARAM.search(k)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept), parts.fragment))


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redacted(record: logging.LogRecord) -> logging.LogRecord:
    message = record.getMessage()
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    return record


def install_redaction() -> None:
    """Redact every log record of the process, whatever its logger (idempotent).

    It wraps the log record factory: a filter on a logger would not see the records of its child
    loggers (``providers.cdse.search``, ``prefect.flow_runs``...), which propagate to handlers without it.
    """
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacting", False):
        return

    def redacting_factory(*args: object, **kwargs: object) -> logging.LogRecord:
        return _redacted(factory(*args, **kwargs))

    redacting_factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)
