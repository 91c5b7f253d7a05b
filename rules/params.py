"""Typed reading of one rule's TOML table; every mistake becomes a ConfigError.

The ``read_*`` functions check one value (ValueError when it is wrong); rule kinds
build their ``Param``s from them, or use the ready ones below."""

from __future__ import annotations

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


def read_string(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError
    return v


def read_text(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError
    return v


def read_bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError
    return v


def read_count(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError
    return v


# Word distances ("within", "unless_within", "negation_window") are counted with
# regex repeats, which Python caps near 4 billion; 1000 words is "anywhere" in a ticket.
MAX_WORDS = 1000


def read_word_count(v: Any) -> int:
    if read_count(v) > MAX_WORDS:
        raise ValueError
    return v


def read_strings(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        return (v,)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError
    return tuple(v)


def read_names(v: Any) -> tuple[str, ...]:
    out = read_strings(v)
    if not out or not all(x.strip() for x in out):
        raise ValueError
    return out


def read_fields(v: Any) -> tuple[str, ...]:
    out = read_names(v)
    if any(f not in TEXT_FIELDS for f in out):
        raise ValueError
    return out


def read_severity(v: Any) -> str:
    if v not in SEVERITIES:
        raise ValueError
    return v


def read_regex(v: Any) -> str:
    """A pattern's text; the regex kind compiles it, with the engine it is for (rules.patterns)."""
    if not isinstance(v, str) or not v:
        raise ValueError
    return v


STRING = Param(read_string, "a string")
TEXT = Param(read_text, "a non-empty string")
BOOL = Param(read_bool, "true or false")
COUNT = Param(read_count, "a whole number >= 0")
WORDS_EXPECTED = f"a whole number of words from 0 to {MAX_WORDS}"
STRINGS = Param(read_strings, "a string or a list of strings")
NAMES = Param(read_names, "a non-empty list of non-empty strings")
FIELDS = Param(read_fields, "a list drawn from " + ", ".join(f'"{f}"' for f in TEXT_FIELDS), default=TEXT_FIELDS)
SEVERITY = Param(read_severity, "one of " + ", ".join(f'"{s}"' for s in SEVERITIES))
REGEX = Param(read_regex, "a regular expression (RE2 syntax)", required=True)
RULE_REF = Param(read_text, "the id of another rule", required=True)
RULE_REFS = Param(read_names, "a non-empty list of rule ids", required=True)

# Keys every rule accepts, whatever its kind.
COMMON: dict[str, Param] = {
    "kind": Param(read_text, "a rule kind", required=True),
    "enabled": Param(read_bool, "true or false", default=True),
    "severity": Param(read_severity, SEVERITY.expected, default="off"),
    "message": Param(read_string, "a string", default=""),
    "description": Param(read_string, "a string", default=""),
    "sources": Param(read_strings, "a list of source names", default=()),
    "containers": Param(read_strings, "a list of table names or Jira project keys", default=()),
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
