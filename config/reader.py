"""Typed, located access to one parsed TOML file: every error names the file, the
dotted key path, the line, the bad value (never a secret) and what is valid.

The reader collects errors rather than stopping at the first: a check that fails notes
its error in ``errors`` and hands back a safe default (the key's default, or an empty
table), so the loader reads on and the admin sees every mistake in one run. What cannot
go on without a value (a required key, a source's type) raises, and ``attempt`` notes
that error and moves on to the next section. ``raise_errors`` ends the reading.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from csi_coach.errors import ConfigError, combine
from csi_coach.tomlpos import find_line

_MISSING = object()
T = TypeVar("T")

ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENV_KEYS = ("username_env", "password_env", "token_env", "client_id_env", "client_secret_env", "api_key_env")

# Keys that would hold a credential itself. The file may only *name* the variable.
INLINE_SECRET_KEYS = frozenset(
    {
        "password", "passwd", "pass", "pwd", "token", "api_token", "apitoken", "api_key",
        "apikey", "client_secret", "secret", "pat", "access_token", "refresh_token",
        "bearer", "private_key", "credential", "credentials",
    }
)


def env_example(source: str, key: str) -> str:
    stem = key[: -len("_env")] if key.endswith("_env") else key
    return "CSI_" + re.sub(r"[^A-Z0-9]+", "_", f"{source}_{stem}".upper()).strip("_")


class TomlReader:
    """Typed access to one parsed file; its ConfigErrors (file/key/line) are collected."""

    def __init__(self, file: Path, text: str) -> None:
        self.file = str(file)
        self.text = text
        self.errors: list[ConfigError] = []

    def note(self, error: ConfigError) -> None:
        """Remember an error and read on (the caller goes on with a safe value)."""
        self.errors.append(error)

    def attempt(self, read: Callable[[], T], fallback: T) -> T:
        """``read()``, or, when it raises ConfigError, note it and return ``fallback``: one
        section that cannot be read does not hide the errors of the others."""
        try:
            return read()
        except ConfigError as exc:
            self.note(exc)
            return fallback

    def raise_errors(self) -> None:
        """Raise what was noted: the error itself when one (its text as ever), else all of them."""
        error = combine(self.errors)
        if error is not None:
            raise error

    def line(self, key: str) -> int | None:
        parts = [p for p in key.split(".") if p]
        while parts:  # a missing or inline key: fall back to its nearest parent
            n = find_line(self.text, parts)
            if n is not None:
                return n
            parts = parts[:-1]
        return None

    def fail(self, key: str, message: str, *, expected: str | None = None, got: object = _MISSING,
             suggestion: str | None = None) -> ConfigError:
        return ConfigError(
            message,
            file=self.file,
            key=key or None,
            line=self.line(key) if key else None,
            expected=expected,
            got=None if got is _MISSING else got,
            has_got=got is not _MISSING,
            suggestion=suggestion,
        )

    @staticmethod
    def join(key: str, name: str) -> str:
        return f"{key}.{name}" if key else name

    def inline_secret(self, path: str, name: str, source: str = "") -> ConfigError:
        env_key = {"pass": "password", "passwd": "password", "pwd": "password", "api_token": "token",
                   "apitoken": "token", "pat": "token", "apikey": "api_key", "secret": "client_secret"}.get(name, name)
        env_key = env_key + "_env" if env_key + "_env" in ENV_KEYS else "token_env"
        return self.fail(
            path,
            f"a secret written in the config file is refused ({name!r}; its value is not shown). "
            f"Put the secret in an environment variable and name that variable instead, e.g. "
            f'{env_key} = "{env_example(source or "source", env_key)}"',
            expected="the name of an environment variable, never the secret itself",
        )

    def keys(self, table: dict, key: str, allowed: tuple[str, ...], *, source: str = "") -> None:
        for name in table:
            path = self.join(key, name)
            if name.lower() in INLINE_SECRET_KEYS:
                self.note(self.inline_secret(path, name.lower(), source))
            elif name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                self.note(self.fail(path, f"unknown key {name!r}", expected="one of: " + ", ".join(allowed),
                                    suggestion=close[0] if close else None))

    def table(self, parent: dict, key: str, name: str, *, required: bool = False) -> dict:
        path = self.join(key, name)
        if name not in parent:
            if required:
                raise self.fail(path, f"the table [{path}] is required", expected=f"a [{path}] table")
            return {}
        value = parent[name]
        if not isinstance(value, dict):
            error = self.fail(path, f"{name!r} must be a table", got=value, expected=f"a [{path}] table")
            if required:
                raise error
            self.note(error)
            return {}
        return value

    def _bad(self, error: ConfigError, default: object) -> object:
        """A value that fails its check: noted, and the default read on with; raised when
        the key has no default (the caller cannot go on without it)."""
        if default is _MISSING:
            raise error
        self.note(error)
        return default

    def string(self, t: dict, key: str, name: str, default: object = _MISSING, *,
               choices: tuple[str, ...] = (), nonempty: bool = False, lower: bool = False, want: str = "") -> str:
        path = self.join(key, name)
        if name not in t:
            if default is _MISSING:
                want = want or ("one of: " + ", ".join(choices) if choices else "a string")
                raise self.fail(path, f"{name!r} is required", expected=want)
            return default  # type: ignore[return-value]
        value = t[name]
        if not isinstance(value, str):
            return self._bad(self.fail(path, f"{name!r} must be a string", got=value, expected="a quoted string"),
                             default)  # type: ignore[return-value]
        if lower:
            value = value.strip().lower()
        if choices and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            return self._bad(self.fail(path, f"not a valid {name}", got=value, expected="one of: " + ", ".join(choices),
                                       suggestion=close[0] if close else None), default)  # type: ignore[return-value]
        if nonempty and not value.strip():
            return self._bad(self.fail(path, f"{name!r} must not be empty", got=value, expected="a non-empty string"),
                             default)  # type: ignore[return-value]
        return value

    def integer(self, t: dict, key: str, name: str, default: int, *, lo: int, hi: int) -> int:
        path = self.join(key, name)
        if name not in t:
            return default
        value = t[name]
        if isinstance(value, bool) or not isinstance(value, int):
            self.note(self.fail(path, f"{name!r} must be a whole number", got=value, expected=f"an integer from {lo} to {hi}"))
            return default
        if not lo <= value <= hi:
            self.note(self.fail(path, f"{name!r} is out of range", got=value, expected=f"an integer from {lo} to {hi}"))
            return default
        return value

    def number(self, t: dict, key: str, name: str, default: float, *, lo: float, hi: float) -> float:
        path = self.join(key, name)
        if name not in t:
            return default
        value = t[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.note(self.fail(path, f"{name!r} must be a number", got=value, expected=f"a number from {lo:g} to {hi:g}"))
            return default
        if not lo <= value <= hi:
            self.note(self.fail(path, f"{name!r} is out of range", got=value, expected=f"a number from {lo:g} to {hi:g}"))
            return default
        return float(value)

    def boolean(self, t: dict, key: str, name: str, default: bool) -> bool:
        path = self.join(key, name)
        if name not in t:
            return default
        value = t[name]
        if not isinstance(value, bool):
            self.note(self.fail(path, f"{name!r} must be true or false", got=value, expected="true or false (unquoted)"))
            return default
        return value

    def strings(self, t: dict, key: str, name: str, default: tuple[str, ...], *,
                choices: tuple[str, ...] = (), lower: bool = False) -> tuple[str, ...]:
        path = self.join(key, name)
        if name not in t:
            return default
        value = t[name]
        if not isinstance(value, list):
            self.note(self.fail(path, f"{name!r} must be a list of strings", got=value, expected='a list such as ["a", "b"]'))
            return default
        out: list[str] = []
        bad = False
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.note(self.fail(f"{path}.{i}", f"item {i} of {name!r} must be a non-empty string", got=item,
                                    expected='a list of non-empty strings such as ["a", "b"]'))
                bad = True
                continue
            item = item.strip().lower() if lower else item.strip()
            if choices and item not in choices:
                close = difflib.get_close_matches(item, choices, n=1)
                self.note(self.fail(f"{path}.{i}", f"not a valid item of {name!r}", got=item,
                                    expected="items from: " + ", ".join(choices), suggestion=close[0] if close else None))
                bad = True
                continue
            out.append(item)
        return default if bad else tuple(out)

    def env_name(self, t: dict, key: str, name: str, source: str = "") -> str:
        path = self.join(key, name)
        value = t[name]
        # The value is never echoed: an admin who pasted the secret here must not see it in a log.
        looks_like_token = bool(re.search(r"[a-z]", value) and re.search(r"[A-Z]", value) and re.search(r"[0-9]", value)) \
            if isinstance(value, str) else False
        if not isinstance(value, str) or not ENV_NAME_RE.fullmatch(value) or len(value) > 64 or looks_like_token:
            self.note(self.fail(
                path,
                f"{name!r} must be the NAME of an environment variable that holds the secret, not the secret "
                "itself (the value is not shown, in case it is one). Put the secret in an environment "
                "variable and write its name here",
                expected=f'a variable name of letters, digits and underscores, e.g. "{env_example(source or "source", name)}"',
            ))
            return ""
        return value

    def url(self, t: dict, key: str, name: str = "url") -> str:
        path = self.join(key, name)
        value = self.string(t, key, name, nonempty=True, want="the base URL of the instance, e.g. https://example.service-now.com")
        try:
            parts = urlsplit(value.strip())
            host = parts.hostname
            _ = parts.port  # raises ValueError on a bad port
        except ValueError:
            self.note(self.fail(path, "not a valid URL", got=value, expected="an http:// or https:// base URL"))
            return ""
        if parts.username is not None or parts.password is not None:
            masked = f"{parts.scheme}://***@{host or ''}" + (f":{parts.port}" if parts.port else "")
            self.note(self.fail(
                path,
                f"credentials written in the URL are refused ({masked}; not shown). Put them in environment "
                f"variables and name those in [{key}.auth]",
                expected="a base URL without user:password@",
            ))
            return ""
        if parts.scheme not in ("http", "https") or not host:
            self.note(self.fail(path, "not a usable base URL", got=value, expected="an http:// or https:// URL with a host name"))
            return ""
        if parts.query or parts.fragment:
            self.note(self.fail(path, "the URL must not carry a query or fragment", got=value,
                                expected="the instance's base URL, e.g. https://example.service-now.com"))
            return ""
        return value.strip().rstrip("/")


def _toml_error(file: Path, text: str, exc: tomllib.TOMLDecodeError) -> ConfigError:
    message = str(exc)
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    line = None
    if m:
        line = int(m.group(1))
        message = f"{message[: m.start()]} at column {m.group(2)}"
    elif re.search(r"\(at end of document\)\s*$", message):
        message = re.sub(r"\s*\(at end of document\)\s*$", " at the end of the file", message)
        line = max(1, len(text.splitlines()))
    return ConfigError(f"TOML syntax error: {message}", file=str(file), line=line,
                       expected="valid TOML: key = value lines under [table] headers")


def read_toml(path: Path) -> tuple[str, dict]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(path),
                          expected="a TOML config file (copy config.example.toml to start, or pass --config PATH)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror}", file=str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError("the file is not UTF-8 text", file=str(path), line=line, expected="a UTF-8 encoded TOML file") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(path, text, exc) from None
