"""Who is calling the ServiceNow sandbox, and how often.

Three ways in, as on an instance: HTTP basic (user + password), a Bearer token from
POST /oauth_token.do (grant_type password, client_credentials or refresh_token,
form-encoded; client credentials in the form or as basic auth), and an API key in
the x-sn-apikey header. Tokens expire after `token_ttl` seconds.

RateLimiter is the platform's inbound REST rate limit: a number of requests per user
per clock hour; every answer carries X-RateLimit-Limit / -Reset / -Rule, and past the
limit the answer is 429 with Retry-After (seconds to the top of the hour).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from csi_coach.sandbox.http import Request


@dataclass(frozen=True)
class Credentials:
    username: str = "csi-coach"
    password: str = "sandbox-snow-password"
    client_id: str = "csi-coach-client"
    client_secret: str = "sandbox-snow-client-secret"
    api_key: str = "sandbox-snow-api-key"


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def basic_credentials(req: Request) -> tuple[str, str] | None:
    header = req.header("Authorization")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, sep, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class Authenticator:
    """Checks credentials and issues OAuth tokens. Thread-safe."""

    def __init__(self, creds: Credentials | None = None, token_ttl: int = 1800,
                 clock: Callable[[], float] = time.time) -> None:
        self.creds = creds or Credentials()
        self.token_ttl = token_ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._access: dict[str, tuple[str, float]] = {}  # token -> (user, expires at)
        self._refresh: dict[str, str] = {}  # refresh token -> user

    def principal(self, req: Request) -> str | None:
        """The user a request acts as, or None if it carries no valid credentials."""
        c = self.creds
        key = req.header("x-sn-apikey")
        if key:
            return c.username if _same(key, c.api_key) else None
        header = req.header("Authorization")
        if header.lower().startswith("bearer "):
            with self._lock:
                found = self._access.get(header[7:].strip())
            if found is None or found[1] <= self.clock():
                return None
            return found[0]
        pair = basic_credentials(req)
        if pair and _same(pair[0], c.username) and _same(pair[1], c.password):
            return c.username
        return None

    def token(self, req: Request) -> tuple[int, dict]:
        """POST /oauth_token.do: (status, body)."""
        c = self.creds
        form = req.form()
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        pair = basic_credentials(req)
        if pair and not client_id:
            client_id, client_secret = pair
        if not (_same(client_id, c.client_id) and _same(client_secret, c.client_secret)):
            return 401, {"error_description": "access_denied", "error": "server_error"}
        grant = form.get("grant_type", "")
        if grant == "password":
            if not (_same(form.get("username", ""), c.username) and _same(form.get("password", ""), c.password)):
                return 401, {"error_description": "access_denied", "error": "server_error"}
            user = c.username
        elif grant == "client_credentials":
            user = c.username  # the OAuth application runs as its integration user
        elif grant == "refresh_token":
            with self._lock:
                user = self._refresh.get(form.get("refresh_token", ""), "")
            if not user:
                return 401, {"error_description": "access_denied", "error": "server_error"}
        else:
            return 400, {"error_description": f"unsupported grant_type {grant!r}", "error": "unsupported_grant_type"}
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._lock:
            self._access[access] = (user, self.clock() + self.token_ttl)
            if grant != "client_credentials":
                self._refresh[refresh] = user
        body = {"access_token": access, "scope": "useraccount", "token_type": "Bearer", "expires_in": self.token_ttl}
        if grant != "client_credentials":
            body["refresh_token"] = refresh
        return 200, body


class RateLimiter:
    """Requests per user per clock hour. Thread-safe."""

    RULE_ID = "d3c4b7e2a9f14c0e8b6a5f1e2d3c4b5a"  # the sys_id of the (imaginary) rate limit rule

    def __init__(self, per_hour: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self.per_hour = per_hour
        self.clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, user: str) -> tuple[bool, list[tuple[str, str]]]:
        """Count one request; (allowed, headers to add)."""
        now = self.clock()
        hour = int(now // 3600)
        reset = (hour + 1) * 3600
        with self._lock:
            n = self._counts.get((user, hour), 0) + 1
            self._counts[(user, hour)] = n
            for key in [k for k in self._counts if k[1] < hour]:
                del self._counts[key]
        headers = [("X-RateLimit-Limit", str(self.per_hour)), ("X-RateLimit-Reset", str(reset)),
                   ("X-RateLimit-Rule", self.RULE_ID)]
        if n > self.per_hour:
            headers.append(("Retry-After", str(max(1, int(reset - now)))))
            return False, headers
        return True, headers
