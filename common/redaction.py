"""A backstop against secrets in logs (STYLE.md §7): query strings, credentials in URLs, tokens.

Code never logs a secret on purpose; this filter catches what libraries log (httpx logs every request
URL, signed query strings included). ``install_redaction`` adds it to the loggers that may carry them.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

_PATTERNS = [
    # Query strings of http(s) URLs (signed URLs, ?token=, ?apikey=).
    (re.compile(r"(https?://[^\s?#\"']+)\?[^\s\"']*"), r"\1?<redacted>"),
    # user:password@host
    (re.compile(r"(https?://)[^\s/@\"']+:[^\s/@\"']+@"), r"\1<redacted>@"),
    # Authorization headers and bearer tokens.
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1<redacted>"),
    # key=value pairs of well-known secret names.
    (
        re.compile(
            r"(?i)\b(api[_-]?key|access_token|refresh_token|token|password|secret)(\s*[=:]\s*)[^\s&,;\"']+"
        ),
        r"\1\2<redacted>",
    ),
]

LOGGERS = (
    "httpx",
    "httpcore",
    "urllib3",
    "sentinelsat",
    "catalogue",
    "providers",
    "storage",
    "graphs",
    "geocube_client",
    "jobs",
    "tasks",
    "flows",
    "prefect",
)


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


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with :func:`redact` (arguments are formatted first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactingFilter()


def install_redaction() -> None:
    """Attach the filter to the loggers that may carry secrets (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
