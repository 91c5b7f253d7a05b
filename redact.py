"""Secrets out of everything the bot writes: one scrubber for the log, the report, the
state file and what the commands print.

A server or a proxy may echo the request in its error body (``Authorization: Bearer
...``, the OAuth form with ``client_secret=...``, ``x-sn-apikey: ...``), and the bot
copies an error's text into its log, ``--json`` line, report and state file. So each
of those passes its text through ``scrub``, which removes two things:

- known values: every credential the config names, registered when it is read
  (``config.settings``: the password, token, client secret or API key, in the forms a
  body can echo them: as is, URL-encoded, JSON-escaped, and ``user:secret`` in base64
  as Basic auth sends it). Identifiers (a user name, an OAuth client id) are not
  secrets and stay readable in messages.
- shapes: ``Authorization``-like text whatever its value, so a token the bot never saw
  (an OAuth access or refresh token) goes too: ``Bearer <token>``, ``Basic <base64>``,
  ``<name>: <value>`` and ``<name>=<value>`` for credential names (password,
  client_secret, access_token, api_key, x-sn-apikey ...), cookies, and the password in
  ``scheme://user:password@host``.

Each is replaced by ``[redacted]``. Values shorter than ``MIN_LENGTH`` are not
registered: scrubbing every "abc" from every message would make the log unreadable,
and no real credential is that short.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
MIN_LENGTH = 4

_lock = threading.Lock()
_values: set[str] = set()
_known: re.Pattern[str] | None = None


def register(value: str) -> None:
    """Scrub ``value`` (and the forms a server can echo it in) from now on."""
    if not isinstance(value, str) or len(value) < MIN_LENGTH:
        return
    forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    _add(forms)


def register_pair(user: str, secret: str) -> None:
    """A user and secret sent as Basic auth: their base64 form is a secret too."""
    if user and secret and len(secret) >= MIN_LENGTH:
        _add({base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")})


def _add(forms: Iterable[str]) -> None:
    global _known
    with _lock:
        before = len(_values)
        _values.update(f for f in forms if len(f) >= MIN_LENGTH)
        if len(_values) != before:
            # Longest first: a value that holds a shorter one is removed whole.
            alternatives = sorted(_values, key=len, reverse=True)
            _known = re.compile("|".join(re.escape(v) for v in alternatives))


def forget_all() -> None:
    """Forget every registered value (tests)."""
    global _known
    with _lock:
        _values.clear()
        _known = None


# --------------------------------------------------------------------- shapes

# Credential names, as headers, JSON keys, form fields or query parameters.
_NAMES = (r"(?:proxy-)?authorization|x-sn-apikey|x-api-key|api[_-]?key|api[_-]?token|access[_-]?token|refresh[_-]?token"
          r"|id[_-]?token|auth[_-]?token|session[_-]?token|client[_-]?secret|private[_-]?key|secret|password|passwd|pwd"
          r"|token")
# A name, a separator and its value: "password": "x", password=x, x-sn-apikey: x, and the
# same inside a JSON string (\"password\":\"x\"). Quoted values are taken whole, spaces too.
_QUOTE = r"(?:\\?[\"'])?"
_NAMED_RE = re.compile(
    r"(?<![A-Za-z0-9])(?P<name>" + _QUOTE + r"(?:" + _NAMES + r")" + _QUOTE + r"\s{0,4}[:=]\s{0,4})"
    r"(?P<value>\\\"(?:(?!\\\").){0,4000}\\\"|\"(?:[^\"\\\n]|\\.){0,4000}\"|'[^'\n]{0,4000}'"
    r"|(?:(?:bearer|basic|digest|negotiate|token)\s+)?(?!(?:bearer|basic|digest|negotiate|token)\s)"
    r"(?=[^\s,;&\"'<>(){}\[\]]{0,4000}[A-Za-z0-9])(?:[^\s,;&\"'<>(){}\[\]\\]|\\(?![\"'])){1,4000})",
    re.IGNORECASE,
)
# An auth scheme and its credentials, wherever they stand: "Bearer eyJ...", "Basic dXNl..."
_SCHEME_RE = re.compile(r"\b(?P<scheme>bearer|basic)\s+(?P<value>[A-Za-z0-9+/=._~-]{8,4000})", re.IGNORECASE)
_COOKIE_RE = re.compile(r"(?<![A-Za-z0-9-])(?P<name>(?:set-)?cookie\s{0,4}:\s{0,4})(?P<value>[^\r\n]{1,4000})", re.IGNORECASE)
_USERINFO_RE = re.compile(r"(?P<name>\b[a-z][a-z0-9+.-]{0,20}://[^\s/:@]{1,200}:)(?P<value>[^\s/@]{1,400})@", re.IGNORECASE)


def _named(m: re.Match[str]) -> str:
    value = m.group("value")
    if REDACTED in value:
        return m.group(0)
    quote_char = value[:2] if value.startswith('\\"') else value[0] if value[:1] in "\"'" else ""
    scheme = re.match(r"(?:bearer|basic|digest|negotiate|token)\s+", value, re.IGNORECASE) if not quote_char else None
    kept = scheme.group(0) if scheme else ""
    return m.group("name") + quote_char + kept + REDACTED + quote_char


def _scheme(m: re.Match[str]) -> str:
    value = m.group("value")
    # "Basic authentication", "Bearer tokens": words, not credentials. A token has a
    # digit, a capital after its first letter, or a symbol.
    if not re.search(r"[0-9A-Z+/=._~-]", value[1:]):
        return m.group(0)
    return m.group("scheme") + " " + REDACTED


def _userinfo(m: re.Match[str]) -> str:
    return m.group("name") + REDACTED + "@"


def scrub(text: str) -> str:
    """``text`` without any registered secret or credential-shaped value."""
    if not text:
        return text
    text = str(text)
    known = _known
    if known is not None:
        text = known.sub(REDACTED, text)
    text = _COOKIE_RE.sub(lambda m: m.group("name") + REDACTED, text)
    text = _NAMED_RE.sub(_named, text)
    text = _SCHEME_RE.sub(_scheme, text)
    return _USERINFO_RE.sub(_userinfo, text)


def scrub_data(data: Any) -> Any:
    """A copy of JSON-like ``data`` with every string (keys too) scrubbed."""
    if isinstance(data, str):
        return scrub(data)
    if isinstance(data, dict):
        return {scrub(k) if isinstance(k, str) else k: scrub_data(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [scrub_data(v) for v in data]
    return data
