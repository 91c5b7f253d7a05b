"""ServiceNow encoded queries (sysparm_query): parse once, then filter and sort rows.

    q = parse("stateIN1,2^ORpriority=1^short_descriptionLIKEvpn^ORDERBYDESCsys_updated_on")
    rows = q.apply(rows, get=lambda row, field: row.get(field, ""))

Grammar, as the platform reads it:
  query     := group ("^NQ" group)*          groups are OR'ed ("new query")
  group     := term ("^" term)*              terms are AND'ed ...
  term      := "OR" condition                ... except an OR term, which joins the one before it
             | "ORDERBY" field | "ORDERBYDESC" field | "EQ" | condition
  condition := field operator value

Operators: = != > >= < <= LIKE NOTLIKE STARTSWITH ENDSWITH IN NOT IN ISEMPTY
ISNOTEMPTY BETWEEN (a@b) ANYTHING SAMEAS NSAMEAS. Values may be
javascript:gs.dateGenerate('YYYY-MM-DD','HH:MM:SS') and a few other gs.* date
helpers (daysAgo, daysAgoStart, hoursAgo, minutesAgo, beginningOfToday, endOfToday, nowDateTime).

Like the platform with its default settings, a term this parser cannot read (an
unknown operator) is dropped rather than rejected, so a typo widens the result
instead of failing; `Query.ignored` lists what was dropped. Text matching by LIKE,
STARTSWITH and ENDSWITH ignores case; = and IN compare exactly. Ordering and the
comparison operators compare numbers as numbers when both sides are numbers and
otherwise as text, which orders the platform's "YYYY-MM-DD HH:MM:SS" dates correctly.
Which fields exist is the caller's business: `get(row, field)` returns "" for an
unknown field, as the platform treats it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Getter = Callable[[Any, str], str]

# Longest first, so ">=" is not read as ">" followed by "=".
_OPERATORS = (
    "ISNOTEMPTY", "ISEMPTY", "STARTSWITH", "ENDSWITH", "NOTLIKE", "NOT IN", "ANYTHING", "BETWEEN",
    "NSAMEAS", "SAMEAS", "LIKE", "IN", "!=", ">=", "<=", "=", ">", "<",
)
_NO_VALUE = {"ISEMPTY", "ISNOTEMPTY", "ANYTHING"}
_FIELD = re.compile(r"[a-z_][a-z0-9_.]*")  # platform field names are lower case
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_CARET = "\x00"


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str
    value: str = ""

    def matches(self, row: Any, get: Getter) -> bool:
        actual = get(row, self.field) or ""
        op, want = self.operator, self.value
        if op == "=":
            return actual == want
        if op == "!=":
            return actual != want
        if op in (">", ">=", "<", "<="):
            if actual == "":
                return False  # the platform never matches empty values on comparisons
            c = _compare(actual, want)
            return {">": c > 0, ">=": c >= 0, "<": c < 0, "<=": c <= 0}[op]
        if op == "LIKE":
            return want.lower() in actual.lower()
        if op == "NOTLIKE":
            return want.lower() not in actual.lower()
        if op == "STARTSWITH":
            return actual.lower().startswith(want.lower())
        if op == "ENDSWITH":
            return actual.lower().endswith(want.lower())
        if op == "IN":
            return actual in _split_list(want)
        if op == "NOT IN":
            return actual not in _split_list(want)
        if op == "ISEMPTY":
            return actual == ""
        if op == "ISNOTEMPTY":
            return actual != ""
        if op == "ANYTHING":
            return True
        if op == "BETWEEN":
            low, _, high = want.partition("@")
            return actual != "" and _compare(actual, low) >= 0 and _compare(actual, high) <= 0
        if op == "SAMEAS":
            return actual == (get(row, want) or "")
        if op == "NSAMEAS":
            return actual != (get(row, want) or "")
        raise AssertionError(f"unhandled operator {op}")  # parse() only makes the ones above


@dataclass(frozen=True)
class Query:
    groups: tuple[tuple[tuple[Condition, ...], ...], ...] = ()  # groups -> AND terms -> OR'ed conditions
    order: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    ignored: tuple[str, ...] = field(default=(), compare=False)

    def matches(self, row: Any, get: Getter) -> bool:
        if not self.groups:
            return True
        return any(all(any(c.matches(row, get) for c in term) for term in group) for group in self.groups)

    def apply(self, rows: Iterable[Any], get: Getter) -> list[Any]:
        """The rows that match, in the query's order (stable: ties keep input order)."""
        out = [r for r in rows if self.matches(r, get)]
        for name, desc in reversed(self.order):
            # sort() calls the key before the loop moves on: ``name`` need not be bound early.
            out.sort(key=lambda r: _sort_key(get(r, name) or ""), reverse=desc)
        return out

    def split_floor(self) -> tuple[Condition, Query] | None:
        """``(floor, rest)`` when this query is ``rest`` AND ``field >= value`` (or ``>``) ordered
        by that field ascending first, as a paging client's seek query is; else None.

        Filtering and stable sorting commute, so the answer is the rows of ``rest`` in
        order from the first one past the floor, wherever the field's values sort as
        they compare (checked by the caller): a bisection instead of a full pass.
        """
        if len(self.groups) != 1 or not self.order or self.order[0][1]:
            return None
        field_name = self.order[0][0]
        floors = [i for i, term in enumerate(self.groups[0])
                  if len(term) == 1 and term[0].field == field_name and term[0].operator in (">=", ">")
                  and term[0].value != ""]
        if not floors:
            return None
        at = floors[-1]
        rest = self.groups[0][:at] + self.groups[0][at + 1:]
        return self.groups[0][at][0], Query((rest,) if rest else (), self.order)


def parse(encoded: str, now: datetime | None = None) -> Query:
    """Parse an encoded query. `now` fixes what the gs.* relative dates mean (default: now, UTC)."""
    now = now or datetime.now(UTC)
    groups: list[tuple[tuple[Condition, ...], ...]] = []
    order: list[tuple[str, bool]] = []
    ignored: list[str] = []
    escaped = (encoded or "").replace("^^", _CARET)  # "^^" is a literal caret in a value
    for group_text in escaped.split("^NQ") if escaped else []:
        terms: list[list[Condition]] = []
        for raw in group_text.split("^"):
            raw = raw.replace(_CARET, "^")
            text = raw.strip()
            if not text or text == "EQ":
                continue
            if text.startswith("ORDERBY"):
                desc = text.startswith("ORDERBYDESC")
                name = text[len("ORDERBYDESC" if desc else "ORDERBY"):]
                if _FIELD.fullmatch(name):
                    order.append((name, desc))
                else:
                    ignored.append(raw)
                continue
            is_or = text.startswith("OR") and bool(terms)
            cond = _condition(text[2:] if is_or else text, now)
            if cond is None:
                ignored.append(raw)
            elif is_or:
                terms[-1].append(cond)
            else:
                terms.append([cond])
        if terms:
            groups.append(tuple(tuple(t) for t in terms))
    return Query(tuple(groups), tuple(order), tuple(ignored))


def _condition(text: str, now: datetime) -> Condition | None:
    m = _FIELD.match(text)
    if not m:
        return None
    name, rest = m.group(0), text[m.end():]
    for op in _OPERATORS:
        if rest.startswith(op):
            value = rest[len(op):]
            if op in _NO_VALUE:
                return Condition(name, op)
            if op == "BETWEEN":
                low, _, high = value.partition("@")
                return Condition(name, op, f"{_resolve(low, now)}@{_resolve(high, now)}")
            return Condition(name, op, _resolve(value, now))
    return None


_GS = re.compile(r"^javascript\s*:\s*gs\.(\w+)\(([^)]*)\)\s*;?\s*$")


def _resolve(value: str, now: datetime) -> str:
    """Turn javascript:gs.* date helpers into the platform's date-time text."""
    m = _GS.match(value.strip())
    if not m:
        return value
    fn, args = m.group(1), [a.strip().strip("'\"") for a in m.group(2).split(",") if a.strip()]
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        if fn == "dateGenerate":
            day = args[0]
            clock = args[1] if len(args) > 1 else "00:00:00"
            clock = {"start": "00:00:00", "end": "23:59:59"}.get(clock, clock)
            return datetime.strptime(f"{day} {clock}", _DATE_FORMAT).strftime(_DATE_FORMAT)
        n = int(args[0]) if args else 0
        when = {
            "daysAgo": lambda: now - timedelta(days=n),
            "daysAgoStart": lambda: midnight - timedelta(days=n),
            "daysAgoEnd": lambda: midnight - timedelta(days=n - 1, seconds=1),
            "hoursAgo": lambda: now - timedelta(hours=n),
            "minutesAgo": lambda: now - timedelta(minutes=n),
            "beginningOfToday": lambda: midnight,
            "endOfToday": lambda: midnight + timedelta(days=1, seconds=-1),
            "nowDateTime": lambda: now,
        }[fn]()
    except (KeyError, ValueError, IndexError):
        return value  # not a helper we know: compare the text as written
    return when.strftime(_DATE_FORMAT)


def _split_list(value: str) -> Sequence[str]:
    return [v.strip() for v in value.split(",")]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare(a: str, b: str) -> int:
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    return (a > b) - (a < b)


def sorts_as_text(value: str) -> bool:
    """Whether ``value`` orders (``_sort_key``) exactly as it compares (``_compare``) against text."""
    return _number(value) is None and value == value.lower()


def _sort_key(value: str) -> tuple:
    n = _number(value)
    return (0, n, "") if n is not None else (1, 0.0, value.lower())
