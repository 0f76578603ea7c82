"""A backstop against secrets in logs (STYLE.md §7): by value, and by shape.

Code never logs a secret on purpose; this catches what libraries log (httpx logs every request URL,
signed query strings included) and what a server echoes back. By value: the settings' secrets and the
tokens obtained at run time are registered (:func:`register_secret`) and masked wherever they appear. By
shape: query strings, ``user:password@`` in URLs, secret path segments, JSON/dict entries and
``key=value`` pairs whose key names a secret (quoted values masked whole), ``Authorization`` headers of
any scheme, Bearer/Basic credentials, JWTs, and ``--password value`` options. ``install_redaction``
applies it to every log record of the process.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# A key that names a secret: it ends with the secret's word (api key, token, password, secret,
# credential), possibly followed by _key/_value/_id/_access_key, or any name ending in _key/-key
# (AWS_SECRET_ACCESS_KEY, CDSE_S3_KEY...). A name that only contains the word (an AOI "SecretSweep",
# "token_url") is not one.
_KEY = (
    r"[\w.-]*(?:api[_-]?key|apikey|token|password|passwd|pwd|secret|credentials?)"
    r"(?:[_-]?(?:key|value|id|access[_-]key|string))?(?![\w])|[\w.-]*[_-]key(?![\w])"
)
_PATTERNS = [
    # Query strings of URLs of any scheme (signed http/s3/gs URLs, ?token=, ?apikey=).
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s?#\"']+)\?[^\s\"']*", re.IGNORECASE), r"\1?<redacted>"),
    # user:password@host
    (re.compile(r"\b([a-z][a-z0-9+.-]*://)[^\s/@\"']+:[^\s/@\"']+@", re.IGNORECASE), r"\1<redacted>@"),
    # A secret as a URL path segment: .../token/<value>/..., .../apikey/<value>
    (
        re.compile(
            r"(?i)(/(?:api[_-]?key|apikey|token|tokens|access[_-]token|key|secret|password|auth|sig)/)"
            r"[^/\s?#\"']+"
        ),
        r"\1<redacted>",
    ),
    # JSON and dict reprs: "password": "value", 'api_key': 'value', "token": 12345
    (
        re.compile(
            rf"(?i)([\"'](?:{_KEY})[\"']\s*:\s*)(?:\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s,}}\]]+)"
        ),
        r"\1'<redacted>'",
    ),
    # Authorization headers of any scheme (Basic, Bearer, Digest, a bare token), in text or reprs.
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
            r"(?:(basic|bearer|digest|token|negotiate|apikey)\s+)?[^\s\"',;}]+"
        ),
        r"\1\2 <redacted>",
    ),
    # Bearer and Basic credentials anywhere else.
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1<redacted>"),
    (re.compile(r"(?i)\b(basic\s+)[A-Za-z0-9+/=]{8,}"), r"\1<redacted>"),
    # JSON Web Tokens, wherever they are.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "<redacted>"),
    # key=value and key: value, the value quoted (spaces and all) or up to the next space: a password
    # with & ; , or a quote in it is masked whole.
    (
        re.compile(
            rf"(?i)(?<![\w.-])((?:{_KEY}))(\s*[=:]\s*)(?:\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|(?!<redacted>)[^\s]+)"
        ),
        r"\1\2<redacted>",
    ),
    # Command-line options followed by their value: --password value, -p is not guessed.
    (re.compile(rf"(?i)(--?(?:{_KEY}))(\s+)(?!-)(?!<redacted>)\S+"), r"\1\2<redacted>"),
]

# Secret values known to this process (the settings' secrets, tokens obtained at run time): masked
# wherever they appear, whatever the shape around them.
_MIN_SECRET_LEN = 4
_MAX_SECRETS = 512  # tokens renewed for weeks in a warm worker: the oldest are forgotten first
_secret_values: dict[str, None] = {}
_secret_pattern: re.Pattern[str] | None = None


def register_secret(*values: str | None) -> None:
    """Mask these values in every redacted text from now on (values shorter than 4 characters are not
    masked: they would mask ordinary words)."""
    global _secret_pattern
    added = [v for v in values if v and len(v) >= _MIN_SECRET_LEN and v not in _secret_values]
    if not added:
        return
    _secret_values.update(dict.fromkeys(added))
    while len(_secret_values) > _MAX_SECRETS:
        del _secret_values[next(iter(_secret_values))]
    ordered = sorted(_secret_values, key=len, reverse=True)
    _secret_pattern = re.compile("|".join(re.escape(v) for v in ordered))


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
    """``text`` with the registered secret values and every secret-looking shape masked."""
    if _secret_pattern is not None:
        text = _secret_pattern.sub("<redacted>", text)
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
