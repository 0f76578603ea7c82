"""OAuth2/OIDC access tokens for download accounts: one token manager per account, whatever the provider.

One :class:`OidcTokens` per account and worker process (:func:`tokens_for`), shared by every download
of that process: a login is a *session* (CDSE allows 100 and bans abuse), so a token is refreshed with
its refresh token while that lasts, and a new login happens only when it has expired. Tokens never
reach a log line, an exception or a repr. The logins of the Keycloak realms we use:

- CDSE (realm ``CDSE``, client ``cdse-public``) and Creodias (realm ``Creodias-new``, client
  ``CLOUDFERRO_PUBLIC``): the password grant; Creodias adds ``totp=<code>`` when the account has
  two-factor authentication (CloudFerro's "EOData Catalogue API Manual on CREODIAS"): the code is
  computed here (:func:`totp_code`, RFC 6238) from the account's base32 secret;
- OneAtlas (realm ``IDP``, client ``IDP``): ``grant_type=api_key`` with ``apikey=<key>`` (the OneAtlas
  "Authentication" guide), no refresh token: a new login when the token is due.

A token is renewed 30 s before the server's expiry, or at 90 % of a life shorter than 300 s.

``headers(refresh)`` is the ``auth`` callback of ``providers.fetch.Fetcher``: ``refresh=True`` means the
server refused the last token (expired early, revoked): it is renewed whatever its clock says.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import hashlib
import hmac
import logging
import re
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from catalogue.http import AnswerTooLargeError, read_whole, transport_text
from common.http import HttpOutcome, classify_status, parse_retry_after
from common.redaction import register_secret
from providers.errors import DownloadError, DownloadTemporaryError
from providers.fetch import SMALL_ANSWER_MAX_BYTES, DownloadAuthError

log = logging.getLogger(__name__)

MARGIN_S = 30.0  # renew this long before the server's expiry: a transfer must not start on a dying token
MARGIN_SHARE = 0.1  # ... or this share of its life, when that is shorter (a 100 s token: at 90 s)
TOTP_STEP_S = 30  # RFC 6238 defaults, as Keycloak's and every authenticator app's
TOTP_DIGITS = 6

# How a download takes one of its account's slots shared by every worker (a Prefect global concurrency
# limit, set by the download task: the domain knows no Prefect); none outside a task.
SlotAcquirer = Callable[[str], contextlib.AbstractContextManager[object]]
slot_acquirer: contextvars.ContextVar[SlotAcquirer | None] = contextvars.ContextVar(
    "slot_acquirer", default=None
)


def account_limit_name(provider: str, username: str) -> str:
    """The name of an account's global concurrency limit: ``downloads-cdse-you-example-org``."""
    return re.sub(r"[^a-z0-9]+", "-", f"downloads-{provider}-{username}".lower()).strip("-")[:100]


@contextlib.contextmanager
def account_slot(name: str) -> Iterator[None]:
    """Hold one slot of the limit ``name`` across workers, when the orchestration gives a way to."""
    acquirer = slot_acquirer.get()
    if acquirer is None:
        yield
        return
    with acquirer(name):
        yield


def totp_code(secret: SecretStr, *, at_s: float, digits: int = TOTP_DIGITS, step_s: int = TOTP_STEP_S) -> str:
    """The RFC 6238 time-based one-time password (HMAC-SHA1) of a base32 ``secret`` at Unix time ``at_s``.

    Raises:
        ValueError: the secret is not base32 (the message never shows it).
    """
    text = "".join(secret.get_secret_value().split()).upper()
    try:
        key = base64.b32decode(text + "=" * (-len(text) % 8))
    except (ValueError, TypeError):  # binascii.Error is a ValueError
        raise ValueError("the TOTP secret is not base32 (letters A-Z and digits 2-7)") from None
    counter = struct.pack(">Q", int(at_s // step_s))
    mac = hmac.new(key, counter, hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


@dataclass(frozen=True, slots=True)
class Account:
    """Who logs in where. ``settings`` names the settings to fix in messages; ``connections`` is how
    many downloads the provider allows the account at once (CDSE: 4).

    ``grant_type`` is ``password`` (``username`` + ``password``) or ``api_key`` (``password`` is the API
    key, sent as ``apikey``; ``username`` only names the account in messages and limits).
    ``totp_secret``, when given, adds the ``totp`` code of the moment to a password grant.
    """

    token_url: str
    client_id: str
    username: str
    password: SecretStr
    settings: str = ""
    connections: int = 4
    grant_type: str = "password"
    totp_secret: SecretStr | None = None

    def __repr__(self) -> str:
        return f"Account(token_url={self.token_url!r}, client_id={self.client_id!r}, user={self.username!r})"


class OidcTokens:
    """Access tokens of one account: password grant, then refresh-token grants (module docstring)."""

    def __init__(
        self,
        account: Account,
        *,
        client: httpx.Client | None = None,
        timeout_s: float = 60.0,
        deadline_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = account
        self._wall_clock = wall_clock  # Unix time, for TOTP codes
        self._client = client
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s  # of the whole answer (GEOCUBE_INGESTER_DOWNLOAD_STALL_WINDOW_S)
        self._clock = clock
        self._lock = threading.Lock()
        self._access: SecretStr | None = None
        self._refresh: SecretStr | None = None
        self._access_until = 0.0
        self._refresh_until = 0.0
        self.logins = 0  # sessions opened: what the provider counts against the account
        self.refreshes = 0
        # The account's downloads at once in this process: the provider refuses (or bans) more.
        self.connections = threading.BoundedSemaphore(max(1, account.connections))

    def __repr__(self) -> str:
        return f"OidcTokens(user={self.account.username!r}, logins={self.logins}, refreshes={self.refreshes})"

    def headers(self, refresh: bool = False) -> Mapping[str, str]:
        """``Authorization: Bearer <access token>``, renewed when due or when ``refresh``."""
        return {"Authorization": f"Bearer {self.access_token(refresh).get_secret_value()}"}

    def access_token(self, refresh: bool = False) -> SecretStr:
        with self._lock:
            now = self._clock()
            if self._access is not None and not refresh and now < self._access_until:
                return self._access
            if self._refresh is not None and now < self._refresh_until:
                try:
                    self._grant(
                        {"grant_type": "refresh_token", "refresh_token": self._refresh.get_secret_value()}
                    )
                    self.refreshes += 1
                    return self._current()
                except DownloadAuthError:
                    log.info("%s: the refresh token was refused; logging in again", self.account.username)
            self._grant(self._login_form())
            self.logins += 1
            return self._current()

    def _login_form(self) -> dict[str, str]:
        account = self.account
        if account.grant_type == "api_key":
            return {"grant_type": "api_key", "apikey": account.password.get_secret_value()}
        form = {
            "grant_type": account.grant_type,
            "username": account.username,
            "password": account.password.get_secret_value(),
        }
        if account.totp_secret is not None:
            try:
                form["totp"] = totp_code(account.totp_secret, at_s=self._wall_clock())
            except ValueError as exc:
                fix = f"; check {account.settings}" if account.settings else ""
                raise DownloadAuthError(f"{account.username!r}: {exc}{fix}") from None
        return form

    def _current(self) -> SecretStr:
        assert self._access is not None
        return self._access

    def _grant(self, form: dict[str, str]) -> None:
        client = self._client or httpx.Client(timeout=self.timeout_s)
        where = self.account.token_url.split("?")[0]
        try:
            response = read_whole(
                client,
                "POST",
                self.account.token_url,
                timeout_s=self.timeout_s,
                max_bytes=SMALL_ANSWER_MAX_BYTES,
                deadline_s=self.deadline_s,
                deadline_setting="GEOCUBE_INGESTER_DOWNLOAD_STALL_WINDOW_S",
                data={"client_id": self.account.client_id, **form},
            )
        except httpx.HTTPError as exc:
            raise DownloadTemporaryError(f"token endpoint {where}: {transport_text(exc)}") from None
        except AnswerTooLargeError as exc:
            raise DownloadError(f"token endpoint {where} {exc}") from None
        finally:
            if self._client is None:
                client.close()
        outcome = classify_status(response.status_code)
        if outcome is HttpOutcome.TEMPORARY:
            raise DownloadTemporaryError(
                f"token endpoint {where} answered {response.status_code}",
                retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
            )
        if outcome is not HttpOutcome.OK:  # 400 invalid_grant, 401 invalid_client: never retried
            error = _error_code(response)
            fix = f"; check {self.account.settings}" if self.account.settings else ""
            refused = (
                "the API key"
                if form["grant_type"] == "api_key"
                else f"{form['grant_type']} for {self.account.username!r}"
            )
            raise DownloadAuthError(
                f"token endpoint {where} refused {refused} ({response.status_code} {error}){fix}"
            )
        try:
            body = response.json()
            access, expires_in = str(body["access_token"]), float(body.get("expires_in", 300))
            refresh = str(body.get("refresh_token") or "")
            refresh_s = float(body.get("refresh_expires_in", 0) or 0)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise DownloadAuthError(
                f"token endpoint {where}: not a token answer (no access_token or expires_in)"
            ) from None
        register_secret(access, refresh)  # masked wherever a library or a server's answer shows them
        now = self._clock()
        self._access, self._access_until = SecretStr(access), now + expires_in - _margin(expires_in)
        if refresh:
            self._refresh = SecretStr(refresh)
            self._refresh_until = now + refresh_s - _margin(refresh_s)
        log.debug("%s: new access token for %.0f s", self.account.username, expires_in)


def _margin(life_s: float) -> float:
    """How long before its expiry a token of ``life_s`` seconds is renewed."""
    return min(MARGIN_S, MARGIN_SHARE * life_s)


def _error_code(response: httpx.Response) -> str:
    """The OAuth2 ``error`` of a refusal (``invalid_grant``), never its description (it may echo input)."""
    try:
        return str(response.json().get("error", ""))[:40]
    except ValueError:
        return ""


_SHARED: dict[tuple[str, str, str], OidcTokens] = {}
_SHARED_LOCK = threading.Lock()


def tokens_for(account: Account, *, timeout_s: float = 60.0, deadline_s: float = 60.0) -> OidcTokens:
    """The process's token manager of ``account`` (one per token URL, client and user)."""
    key = (account.token_url, account.client_id, account.username)
    with _SHARED_LOCK:
        tokens = _SHARED.get(key)
        if tokens is None or tokens.account != account:
            tokens = _SHARED[key] = OidcTokens(account, timeout_s=timeout_s, deadline_s=deadline_s)
        return tokens
