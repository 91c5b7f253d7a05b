"""ServiceNow authentication: basic, OAuth (password / client credentials), API key.

Secrets are read from the environment variables the config names, once, when
the connector is built (a missing variable is a ConfigError naming it). They
live only inside these objects and the ``Authorization`` / ``x-sn-apikey``
header of each request; nothing here logs them.

OAuth facts relied on (ServiceNow "OAuth API request parameters"):
- ``POST /oauth_token.do``, form-encoded (JSON gives an unspecified error),
  with grant_type, client_id, client_secret (+ username, password for the
  password grant; refresh_token for a refresh).
- The answer: access_token, refresh_token (password grant only), token_type
  "Bearer", expires_in (seconds).
- The client-credentials grant exists since Washington DC and is off by
  default (system property glide.oauth.inbound.client.credential.grant_type.enabled
  and an "OAuth Application User" on the OAuth entity).
API key: ``x-sn-apikey`` header (REST API key with an inbound auth profile).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from csi_coach.config import ServiceNowSettings
from csi_coach.connectors.transport import DECODE_ERRORS, vendor_message
from csi_coach.errors import (
    AnswerTooLarge,
    AuthError,
    CertificateFailed,
    ConfigError,
    RedirectRefused,
    RemoteError,
    TransientError,
)

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth_token.do"
REFRESH_MARGIN = 60.0  # seconds before expiry at which a token is renewed
MIN_LIFETIME = 30.0  # never trust a shorter lifetime than this (clock skew, odd answers)


class SnAuth(AuthBase):
    """Adds credentials to each request. ``renew()`` is asked once after a 401."""

    method = ""
    hint = ""  # which environment variables to check, for error messages

    def renew(self) -> bool:
        """Try to get fresh credentials after a 401; True when a retry makes sense."""
        return False


class BasicSnAuth(SnAuth):
    method = "basic"

    def __init__(self, user: str, password: str, hint: str) -> None:
        self._basic = HTTPBasicAuth(user, password)
        self.hint = hint

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return self._basic(r)


class ApiKeySnAuth(SnAuth):
    method = "api_key"

    def __init__(self, key: str, hint: str) -> None:
        self._key = key
        self.hint = hint

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["x-sn-apikey"] = self._key
        return r


class OAuthSnAuth(SnAuth):
    """Bearer tokens from /oauth_token.do, renewed REFRESH_MARGIN s before expiry.

    Thread-safe: write workers share one token; only one of them fetches.
    The password grant's refresh_token is used to renew; if the instance
    refuses it, the grant is run again from the stored credentials.
    """

    def __init__(
        self,
        *,
        session: requests.Session,
        base_url: str,
        grant: str,  # "password" | "client_credentials"
        client_id: str,
        client_secret: str,
        username: str = "",
        password: str = "",
        hint: str = "",
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.method = f"oauth_{grant}"
        self._session = session
        self._url = base_url.rstrip("/") + TOKEN_PATH
        self._grant = grant
        self._client = (client_id, client_secret)
        self._user = (username, password)
        self.hint = hint
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._access = ""
        self._refresh = ""
        self._expires_at = float("-inf")
        self.fetches = 0  # token requests made (tests, benchmarks)

    # -- AuthBase ------------------------------------------------------------------

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token()}"
        return r

    def token(self) -> str:
        with self._lock:
            if not self._access or self._clock() >= self._expires_at - REFRESH_MARGIN:
                self._obtain()
            return self._access

    def renew(self) -> bool:
        with self._lock:
            self._obtain(force_grant=False)
        return True

    # -- token endpoint --------------------------------------------------------------

    def _obtain(self, *, force_grant: bool = False) -> None:
        if self._refresh and not force_grant:
            try:
                self._request({"grant_type": "refresh_token", "refresh_token": self._refresh})
                return
            except AuthError:
                log.info("OAuth refresh token refused by %s; requesting a new grant", self._url)
                self._refresh = ""
        form: dict[str, str] = {"grant_type": self._grant}
        if self._grant == "password":
            form["username"], form["password"] = self._user
        self._request(form)

    def _request(self, form: dict[str, str]) -> None:
        data = dict(form, client_id=self._client[0], client_secret=self._client[1])
        self.fetches += 1
        try:
            # Through the source's session: a redirect of this POST to another host is refused
            # there (RedirectRefused), so the form (secret, password) is never re-sent elsewhere.
            resp = self._session.post(self._url, data=data, timeout=self._timeout,
                                      headers={"Accept": "application/json"})
        except (RedirectRefused, CertificateFailed, AnswerTooLarge):
            raise  # not transient: the message says what to fix
        except RemoteError as exc:  # rate limited / ambiguous / transient from the transport
            raise TransientError(f"could not get an OAuth token from {self._url}: {exc.message}",
                                 url=self._url) from None
        except requests.RequestException as exc:
            raise TransientError(f"could not get an OAuth token from {self._url}: {type(exc).__name__}",
                                 url=self._url) from None
        if resp.status_code >= 500:
            raise TransientError(f"the OAuth token endpoint failed (HTTP {resp.status_code})",
                                 status=resp.status_code, url=self._url)
        if resp.status_code >= 400:
            said = vendor_message(resp)
            raise AuthError(
                f"ServiceNow refused the OAuth {form['grant_type']} grant"
                + (f" ({said})" if said else "")
                + (f". Check {self.hint}" if self.hint else ""),
                status=resp.status_code,
                url=self._url,
            )
        try:
            body: Any = resp.json()
        except DECODE_ERRORS:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthError("the OAuth token endpoint answered without an access_token", status=resp.status_code,
                            url=self._url)
        try:
            lifetime = float(body.get("expires_in", 1800))
        except (TypeError, ValueError):
            lifetime = 1800.0
        self._access = token
        refresh = body.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            self._refresh = refresh
        self._expires_at = self._clock() + max(lifetime, MIN_LIFETIME)
        log.debug("OAuth token obtained from %s (%s grant), valid %.0f s", self._url, form["grant_type"], lifetime)


def auth_from_settings(
    settings: ServiceNowSettings,
    session: requests.Session,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> SnAuth:
    """Read the secrets for ``settings.auth.method`` from the environment."""
    a = settings.auth
    key = f"sources.{settings.name}.auth"

    def secret(attr: str) -> str:
        return a.secret(attr, key=f"{key}.{attr}_env").reveal()

    def names(*attrs: str) -> str:
        return " and ".join(f"${getattr(a, attr + '_env')}" for attr in attrs)

    if a.method == "basic":
        return BasicSnAuth(secret("username"), secret("password"), hint=names("username", "password"))
    if a.method == "api_key":
        return ApiKeySnAuth(secret("api_key"), hint=names("api_key"))
    if a.method in ("oauth_password", "oauth_client_credentials"):
        grant = "password" if a.method == "oauth_password" else "client_credentials"
        user = password = ""
        hint_attrs: tuple[str, ...] = ("client_id", "client_secret")
        if grant == "password":
            user, password = secret("username"), secret("password")
            hint_attrs += ("username", "password")
        return OAuthSnAuth(
            session=session,
            base_url=settings.url,
            grant=grant,
            client_id=secret("client_id"),
            client_secret=secret("client_secret"),
            username=user,
            password=password,
            hint=names(*hint_attrs),
            timeout=settings.timeout_seconds,
            clock=clock,
        )
    raise ConfigError(
        "unknown ServiceNow auth method",
        key=f"{key}.method",
        got=a.method,
        has_got=True,
        expected='"basic", "oauth_password", "oauth_client_credentials" or "api_key"',
    )
