"""Typed, located access to one parsed TOML file: every error names the file, the
dotted key path, the line, the bad value (never a secret) and what is valid."""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from csi_coach.errors import ConfigError
from csi_coach.tomlpos import find_line

_MISSING = object()

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
    """Typed access to one parsed file, raising ConfigError with file/key/line."""

    def __init__(self, file: Path, text: str) -> None:
        self.file = str(file)
        self.text = text

    def line(self, key: str) -> int | None:
        parts = [p for p in key.split(".") if p]
        while parts:  # a missing or inline key: fall back to its nearest parent
            n = find_line(self.text, parts)
            if n is not None:
                return n
            parts = parts[:-1]
        return None

    def fail(self, key: str, message: str, *, expected: str | None = None, got: object = _MISSING) -> ConfigError:
        return ConfigError(
            message,
            file=self.file,
            key=key or None,
            line=self.line(key) if key else None,
            expected=expected,
            got=None if got is _MISSING else got,
            has_got=got is not _MISSING,
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
                raise self.inline_secret(path, name.lower(), source)
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise self.fail(path, f"unknown key {name!r}{hint}", expected="one of: " + ", ".join(allowed))

    def table(self, parent: dict, key: str, name: str, *, required: bool = False) -> dict:
        path = self.join(key, name)
        if name not in parent:
            if required:
                raise self.fail(path, f"the table [{path}] is required", expected=f"a [{path}] table")
            return {}
        value = parent[name]
        if not isinstance(value, dict):
            raise self.fail(path, f"{name!r} must be a table", got=value, expected=f"a [{path}] table")
        return value

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
            raise self.fail(path, f"{name!r} must be a string", got=value, expected="a quoted string")
        if lower:
            value = value.strip().lower()
        if choices and value not in choices:
            raise self.fail(path, f"not a valid {name}", got=value, expected="one of: " + ", ".join(choices))
        if nonempty and not value.strip():
            raise self.fail(path, f"{name!r} must not be empty", got=value, expected="a non-empty string")
        return value

    def integer(self, t: dict, key: str, name: str, default: int, *, lo: int, hi: int) -> int:
        path = self.join(key, name)
        if name not in t:
            return default
        value = t[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"{name!r} must be a whole number", got=value, expected=f"an integer from {lo} to {hi}")
        if not lo <= value <= hi:
            raise self.fail(path, f"{name!r} is out of range", got=value, expected=f"an integer from {lo} to {hi}")
        return value

    def number(self, t: dict, key: str, name: str, default: float, *, lo: float, hi: float) -> float:
        path = self.join(key, name)
        if name not in t:
            return default
        value = t[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(path, f"{name!r} must be a number", got=value, expected=f"a number from {lo:g} to {hi:g}")
        if not lo <= value <= hi:
            raise self.fail(path, f"{name!r} is out of range", got=value, expected=f"a number from {lo:g} to {hi:g}")
        return float(value)

    def boolean(self, t: dict, key: str, name: str, default: bool) -> bool:
        path = self.join(key, name)
        if name not in t:
            return default
        value = t[name]
        if not isinstance(value, bool):
            raise self.fail(path, f"{name!r} must be true or false", got=value, expected="true or false (unquoted)")
        return value

    def strings(self, t: dict, key: str, name: str, default: tuple[str, ...], *,
                choices: tuple[str, ...] = (), lower: bool = False) -> tuple[str, ...]:
        path = self.join(key, name)
        if name not in t:
            return default
        value = t[name]
        if not isinstance(value, list):
            raise self.fail(path, f"{name!r} must be a list of strings", got=value, expected='a list such as ["a", "b"]')
        out: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"{path}.{i}", f"item {i} of {name!r} must be a non-empty string", got=item,
                                expected='a list of non-empty strings such as ["a", "b"]')
            item = item.strip().lower() if lower else item.strip()
            if choices and item not in choices:
                raise self.fail(f"{path}.{i}", f"not a valid item of {name!r}", got=item, expected="items from: " + ", ".join(choices))
            out.append(item)
        return tuple(out)

    def env_name(self, t: dict, key: str, name: str, source: str = "") -> str:
        path = self.join(key, name)
        value = t[name]
        # The value is never echoed: an admin who pasted the secret here must not see it in a log.
        looks_like_token = bool(re.search(r"[a-z]", value) and re.search(r"[A-Z]", value) and re.search(r"[0-9]", value)) \
            if isinstance(value, str) else False
        if not isinstance(value, str) or not ENV_NAME_RE.fullmatch(value) or len(value) > 64 or looks_like_token:
            raise self.fail(
                path,
                f"{name!r} must be the NAME of an environment variable that holds the secret, not the secret "
                "itself (the value is not shown, in case it is one). Put the secret in an environment "
                "variable and write its name here",
                expected=f'a variable name of letters, digits and underscores, e.g. "{env_example(source or "source", name)}"',
            )
        return value

    def url(self, t: dict, key: str, name: str = "url") -> str:
        path = self.join(key, name)
        value = self.string(t, key, name, nonempty=True, want="the base URL of the instance, e.g. https://example.service-now.com")
        try:
            parts = urlsplit(value.strip())
            host = parts.hostname
            _ = parts.port  # raises ValueError on a bad port
        except ValueError:
            raise self.fail(path, "not a valid URL", got=value, expected="an http:// or https:// base URL") from None
        if parts.username is not None or parts.password is not None:
            masked = f"{parts.scheme}://***@{host or ''}" + (f":{parts.port}" if parts.port else "")
            raise self.fail(
                path,
                f"credentials written in the URL are refused ({masked}; not shown). Put them in environment "
                f"variables and name those in [{key}.auth]",
                expected="a base URL without user:password@",
            )
        if parts.scheme not in ("http", "https") or not host:
            raise self.fail(path, "not a usable base URL", got=value, expected="an http:// or https:// URL with a host name")
        if parts.query or parts.fragment:
            raise self.fail(path, "the URL must not carry a query or fragment", got=value,
                            expected="the instance's base URL, e.g. https://example.service-now.com")
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
