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
| 500/502/504 answering a write       | AmbiguousWrite     | (the write may have been committed)  |
| other 5xx                           | TransientError     |                                      |
| connection error / timeout          | TransientError     | (AmbiguousWrite for a sent write)    |

Messages quote Jira's own ``errorMessages`` and ``errors`` and never the
request headers (``JIRAError.__str__`` prints them, so it is never used).

Vendor facts: Jira Cloud answers the removed ``/rest/api/{2,3}/search`` with
410 and "The requested API has been removed. Please migrate to the
/rest/api/3/search/jql API" (Atlassian changelog CHANGE-2046). A 429 may carry
``Retry-After`` (seconds) and ``X-RateLimit-Reset`` (ISO 8601, e.g.
``2026-11-25T10:03Z``), per Atlassian's "Rate limiting" page; the transport
waits on them (and its ``wait_from_headers`` parses them for this module too),
this module only reports what was left over. A 500 may come after Jira saved
the comment (a failing event listener or mail handler runs after the commit),
and a 502/504 from a proxy says nothing about the server behind it: for a
write all three are ambiguous, so the caller settles them by marker instead of
writing again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from csi_coach.connectors.transport import never_sent, vendor_message, wait_from_headers
from csi_coach.errors import (
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

# A write answered with one of these may still have been committed (see above).
AMBIGUOUS_WRITE_STATUS = frozenset({500, 502, 504})


@dataclass(frozen=True)
class Action:
    """What the connector was doing, for the error message."""

    text: str  # e.g. "add a comment to CSI-7"
    permission: str  # the Jira project permission it needs, e.g. "Add comments"
    write: bool = False


def jira_messages(resp: requests.Response | None) -> str:
    """Jira's ``errorMessages`` and ``errors`` (field: message) joined; else a short body.

    The shapes are the transport's ``vendor_message``; Jira adds a lone
    ``errorMessage`` string (Service Management endpoints).
    """
    said = vendor_message(resp)
    if said or resp is None:
        return said
    try:
        data = resp.json()
    except ValueError:
        return ""
    if isinstance(data, dict):
        for key in ("errorMessages", "errorMessage"):
            if isinstance(data.get(key), str) and data[key].strip():
                return data[key].strip()
    return ""


def retry_after_seconds(resp: requests.Response | None, *, now: datetime | None = None) -> float | None:
    """Seconds Jira asked to wait: what the transport computed on receipt, else the headers.

    ``Retry-After`` (seconds or HTTP date) wins, then ``X-RateLimit-Reset``
    (ISO 8601 as Atlassian documents it, a Unix time, or a small delta), read by
    the transport's ``wait_from_headers`` so both layers agree on every form.
    """
    if resp is None:
        return None
    computed = getattr(resp, "retry_after", None)  # set by ResilientAdapter when it gave up waiting
    if isinstance(computed, (int, float)):
        return float(computed)
    return wait_from_headers(resp.headers, status=resp.status_code, now=now.timestamp() if now else None)


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
        if action.write and status in AMBIGUOUS_WRITE_STATUS:
            return AmbiguousWrite(
                f"{head}; Jira answered HTTP {status} after the write was sent, so it may have been "
                f"saved{said_part}", status=status, url=url,
            )
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
    """True unless the failure provably happened before the request left (see ``never_sent``)."""
    if not isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)):
        return False
    return not never_sent(exc)


def _clean_url(url: Any) -> str | None:
    """The URL without its query (JQL can be long; it is logged separately)."""
    if not url:
        return None
    return str(url).split("?", 1)[0]
