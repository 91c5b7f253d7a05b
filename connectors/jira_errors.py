"""Jira failures converted into the project's error tree, in one place.

| Jira answer                         | raised             | message adds                         |
| ----------------------------------- | ------------------ | ------------------------------------ |
| 400                                 | BadRequest         | Jira's errorMessages/errors (JQL)    |
| 401                                 | AuthError          | which env variables hold the secret  |
| 403 + X-Authentication-Denied-Reason| AuthError          | the reason (e.g. CAPTCHA_CHALLENGE)  |
| 403                                 | PermissionDenied   | the project permission needed        |
| 404                                 | NotFound           | "or the account cannot browse it"    |
| 410                                 | Gone               | the ``flavor`` setting to change     |
| 429                                 | RateLimited        | retry_after from Retry-After/Reset   |
| 5xx                                 | TransientError     |                                      |
| connection error / timeout          | TransientError     | (AmbiguousWrite for a sent write)    |

Messages quote Jira's own ``errorMessages`` and ``errors`` and never the
request headers (``JIRAError.__str__`` prints them, so it is never used).

Vendor facts: Jira Cloud answers the removed ``/rest/api/{2,3}/search`` with
410 and "The requested API has been removed. Please migrate to the
/rest/api/3/search/jql API" (Atlassian changelog CHANGE-2046). A 429 may carry
``Retry-After`` (seconds) and ``X-RateLimit-Reset`` (ISO 8601, e.g.
``2026-11-25T10:03Z``), per Atlassian's "Rate limiting" page; the transport
waits on them, this module only reports what was left over.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import requests

from errors import (
    AmbiguousWrite,
    AuthError,
    BadRequest,
    CoachError,
    Gone,
    NotFound,
    PermissionDenied,
    RateLimited,
    RemoteError,
    TransientError,
)


@dataclass(frozen=True)
class Action:
    """What the connector was doing, for the error message."""

    text: str  # e.g. "add a comment to CSI-7"
    permission: str  # the Jira project permission it needs, e.g. "Add comments"
    write: bool = False


def jira_messages(resp: requests.Response | None) -> str:
    """Jira's ``errorMessages`` and ``errors`` (field: message) joined; else a short body."""
    if resp is None:
        return ""
    try:
        data = resp.json()
    except ValueError:
        text = (resp.text or "").strip()
        return text[:300] if text and not text.lstrip().startswith("<") else ""
    if not isinstance(data, dict):
        return ""
    parts: list[str] = []
    messages = data.get("errorMessages")
    if isinstance(messages, list):
        parts.extend(str(m) for m in messages if m)
    elif isinstance(messages, str) and messages:
        parts.append(messages)
    field_errors = data.get("errors")
    if isinstance(field_errors, dict):
        parts.extend(f"{k}: {v}" for k, v in field_errors.items())
    for key in ("message", "errorMessage"):
        if not parts and isinstance(data.get(key), str):
            parts.append(data[key])
    return "; ".join(parts)


def retry_after_seconds(resp: requests.Response | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``X-RateLimit-Reset``.

    Atlassian documents X-RateLimit-Reset as an ISO 8601 timestamp
    (``yyyy-MM-ddTHH:mmZ``); a Unix epoch is accepted too.
    """
    if resp is None:
        return None
    now = now or datetime.now(timezone.utc)
    value = resp.headers.get("Retry-After")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
                return max(0.0, (when - now).total_seconds())
            except (TypeError, ValueError):
                pass
    reset = resp.headers.get("X-RateLimit-Reset")
    if reset:
        reset = reset.strip()
        try:
            epoch = float(reset)
            return max(0.0, epoch - now.timestamp())
        except ValueError:
            pass
        try:
            when = datetime.fromisoformat(reset.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            return max(0.0, (when - now).total_seconds())
        except ValueError:
            pass
    return None


def from_response(
    resp: requests.Response,
    action: Action,
    *,
    source: str,
    auth_hint: str = "",
) -> RemoteError:
    """The error for a failed Jira response (status >= 400)."""
    status = resp.status_code
    url = _clean_url(resp.url)
    said = jira_messages(resp)
    said_part = f": {said}" if said else ""
    head = f"Jira source {source!r} could not {action.text}"
    if status == 400:
        return BadRequest(f"{head}; Jira refused the request{said_part}", status=status, url=url)
    if status == 401:
        hint = f" Check {auth_hint}." if auth_hint else ""
        return AuthError(f"{head}; the credentials were rejected{said_part}.{hint}", status=status, url=url)
    if status == 403:
        denied = resp.headers.get("X-Authentication-Denied-Reason")
        if denied:
            return AuthError(
                f"{head}; login denied ({denied}). Log in once in a browser as the bot's account to clear it.",
                status=status, url=url,
            )
        return PermissionDenied(
            f"{head}; the bot's account lacks the '{action.permission}' project permission{said_part}",
            status=status, url=url,
        )
    if status == 404:
        return NotFound(
            f"{head}; it does not exist or the account lacks 'Browse projects' on it{said_part}",
            status=status, url=url,
        )
    if status == 410:
        return Gone(
            f"{head}; this Jira removed the endpoint{said_part}. Set flavor = \"cloud\" (or \"auto\") "
            f"in [sources.{source}]: Jira Cloud only serves /rest/api/2/search/jql",
            status=status, url=url,
        )
    if status == 429:
        wait = retry_after_seconds(resp)
        when = f"; Jira asks to wait {wait:.0f} s" if wait is not None else ""
        return RateLimited(f"{head}; rate limited{when}{said_part}", retry_after=wait, status=status, url=url)
    if status >= 500:
        return TransientError(f"{head}; Jira failed (HTTP {status}){said_part}", status=status, url=url)
    return RemoteError(f"{head}{said_part or f'; unexpected HTTP {status}'}", status=status, url=url)


def from_exception(exc: BaseException, action: Action, *, source: str, url: str | None = None) -> CoachError:
    """The error for a transport failure (no usable response)."""
    if isinstance(exc, CoachError):  # already converted by the transport
        return exc
    head = f"Jira source {source!r} could not {action.text}"
    kind = type(exc).__name__
    if action.write and _maybe_sent(exc):
        return AmbiguousWrite(f"{head}; the connection failed after the request was sent ({kind})", url=url)
    return TransientError(f"{head}; connection failed ({kind})", url=url)


def _maybe_sent(exc: BaseException) -> bool:
    """True unless the failure provably happened before the request left."""
    if isinstance(exc, (requests.ConnectTimeout,)):
        return False
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc)
        return not any(s in text for s in ("NewConnectionError", "ConnectionRefused", "NameResolution"))
    return isinstance(exc, (requests.Timeout, requests.exceptions.ChunkedEncodingError))


def _clean_url(url: Any) -> str | None:
    """The URL without its query (JQL can be long; it is logged separately)."""
    if not url:
        return None
    return str(url).split("?", 1)[0]
