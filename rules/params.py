"""Typed reading of one rule's TOML table; every mistake becomes a ConfigError."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from csi_coach.model import TEXT_FIELDS
from csi_coach.rules.where import Origins

SEVERITIES = ("error", "warning", "info", "off")


@dataclass(frozen=True)
class Param:
    """One key a rule kind accepts: how to read it and what to say when it is wrong."""

    read: Callable[[Any], Any]  # raises ValueError when the value is wrong
    expected: str
    required: bool = False
    default: Any = None


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError
    return v


def _nonempty_str(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError
    return v


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError
    return v


def _nonneg_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError
    return v


# Word distances ("within", "unless_within", "negation_window") are counted with
# regex repeats, which Python caps near 4 billion; 1000 words is "anywhere" in a ticket.
MAX_WORDS = 1000


def _word_count(v: Any) -> int:
    if _nonneg_int(v) > MAX_WORDS:
        raise ValueError
    return v


def _str_list(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        return (v,)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError
    return tuple(v)


def _nonempty_str_list(v: Any) -> tuple[str, ...]:
    out = _str_list(v)
    if not out or not all(x.strip() for x in out):
        raise ValueError
    return out


def _fields(v: Any) -> tuple[str, ...]:
    out = _nonempty_str_list(v)
    if any(f not in TEXT_FIELDS for f in out):
        raise ValueError
    return out


def _severity(v: Any) -> str:
    if v not in SEVERITIES:
        raise ValueError
    return v


def _regex(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise ValueError
    try:
        re.compile(v)
    except re.error as exc:
        raise ValueError(f"bad regular expression: {exc}") from None
    return v


STRING = Param(_str, "a string")
TEXT = Param(_nonempty_str, "a non-empty string")
BOOL = Param(_bool, "true or false")
COUNT = Param(_nonneg_int, "a whole number >= 0")
WORDS_EXPECTED = f"a whole number of words from 0 to {MAX_WORDS}"
STRINGS = Param(_str_list, "a string or a list of strings")
NAMES = Param(_nonempty_str_list, "a non-empty list of non-empty strings")
FIELDS = Param(_fields, "a list drawn from " + ", ".join(f'"{f}"' for f in TEXT_FIELDS), default=TEXT_FIELDS)
SEVERITY = Param(_severity, "one of " + ", ".join(f'"{s}"' for s in SEVERITIES))
REGEX = Param(_regex, "a Python regular expression", required=True)
RULE_REF = Param(_nonempty_str, "the id of another rule", required=True)
RULE_REFS = Param(_nonempty_str_list, "a non-empty list of rule ids", required=True)

# Keys every rule accepts, whatever its kind.
COMMON: dict[str, Param] = {
    "kind": Param(_nonempty_str, "a rule kind", required=True),
    "enabled": Param(_bool, "true or false", default=True),
    "severity": Param(_severity, SEVERITY.expected, default="off"),
    "message": Param(_str, "a string", default=""),
    "description": Param(_str, "a string", default=""),
    "sources": Param(_str_list, "a list of source names", default=()),
    "containers": Param(_str_list, "a list of table names or Jira project keys", default=()),
    "examples": Param(lambda v: v, "a table with keys flag and pass", default={}),
}


def read_params(
    table: dict[str, Any],
    accepted: dict[str, Param],
    key_prefix: str,
    origins: Origins,
    kind_name: str,
) -> dict[str, Any]:
    """Check every key of ``table`` against ``accepted`` (plus COMMON); return typed values."""
    allowed = {**COMMON, **accepted}
    out: dict[str, Any] = {}
    for key in table:
        if key not in allowed:
            origins.fail(
                f"{key_prefix}.{key}",
                f"unknown key {key!r} for a rule of kind {kind_name!r}",
                expected="one of " + ", ".join(sorted(allowed)),
                has_got=False,
            )
    for key, param in allowed.items():
        if key not in table:
            if param.required:
                origins.fail(
                    f"{key_prefix}.{key}",
                    f"missing key {key!r} for a rule of kind {kind_name!r}",
                    expected=param.expected,
                    has_got=False,
                )
            out[key] = param.default
            continue
        try:
            out[key] = param.read(table[key])
        except ValueError as exc:
            detail = f" ({exc})" if str(exc) else ""
            origins.fail(f"{key_prefix}.{key}", f"bad value for {key!r}{detail}", expected=param.expected, got=table[key])
    return out
