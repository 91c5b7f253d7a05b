"""The JQL subset the Jira sandbox understands: parse once, then test issues and sort them.

    query = parse('project = CSI AND labels in (csi, kaizen) AND updated >= "2026-11-20 10:15" '
                  'ORDER BY updated ASC, key ASC', catalog, zone=ZoneInfo("Europe/Berlin"))
    hits = sorted((v for v in views if query.matches(v)), key=query.sort_key)

Clauses: project, issuetype (type), status, statusCategory, labels, component, assignee,
key (issuekey), updated/created (updatedDate/createdDate), summary/description/text,
comment (all the issue's comment bodies) and the "Value goal" custom field (cf[10050])
with ~ / !~ (words, or a "\\"phrase\\"" in inner quotes); operators = != < > <= >= ~ !~
IN, NOT IN, IS [NOT] EMPTY|NULL; AND, OR, NOT, parentheses; ORDER BY f [ASC|DESC], ...
Values: bare words, "quoted" or 'quoted' strings, and the functions now(), startOfDay(),
endOfDay() and currentUser(). Dates: "yyyy-MM-dd HH:mm", "yyyy/MM/dd HH:mm", the date-only
forms and periods like -1d, -4w 2d, read in the searching user's time zone as Jira does.

Like Jira: `!=` and NOT IN never match an empty field; an unknown field, a value that
does not exist (project, issuetype, status; on Data Center an issue key too), or an
operator a field does not support is a JqlError carrying Jira's own errorMessages wording; syntax errors name the line
and character.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol

OPERATORS_TEXT = ("The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', "
                  "'IS' and 'IS NOT'.")
DATE_FORMATS_TEXT = ("Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', "
                     "'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.")
RESERVED_WORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"}
_RESERVED_CHARS = set("@#$%^&*+=[]{}|;?`")  # '=' only ever appears inside an operator token


class JqlError(ValueError):
    """A query Jira would refuse with 400; .messages are its errorMessages."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class IssueView(Protocol):
    """What a clause reads from an issue (the server's compact index row)."""

    def value(self, field: str) -> Any: ...  # str | tuple[str, ...] | float (epoch) | None


@dataclass(frozen=True)
class Catalog:
    """Values that must exist for the validated fields, in their display spelling."""

    projects: tuple[str, ...]
    issue_types: tuple[str, ...]
    statuses: tuple[str, ...]
    status_categories: tuple[str, ...]
    current_user: str = ""
    # Data Center refuses a key literal that names no issue (400); Cloud's search/jql does not
    issue_exists: Callable[[str], bool] | None = None


# ---- fields --------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldSpec:
    name: str  # canonical name handed to IssueView.value
    kind: str  # "choice" | "multi" | "date" | "key" | "text" | "user"
    validate: str = ""  # Catalog attribute whose values must exist
    sortable: bool = True


_FIELDS = {
    "project": FieldSpec("project", "choice", "projects"),
    "issuetype": FieldSpec("issuetype", "choice", "issue_types"),
    "type": FieldSpec("issuetype", "choice", "issue_types"),
    "status": FieldSpec("status", "choice", "statuses"),
    "statuscategory": FieldSpec("statusCategory", "choice", "status_categories"),
    "labels": FieldSpec("labels", "multi"),
    "component": FieldSpec("component", "multi"),
    "assignee": FieldSpec("assignee", "user"),
    "key": FieldSpec("key", "key"),
    "issuekey": FieldSpec("key", "key"),
    "id": FieldSpec("key", "key"),
    "updated": FieldSpec("updated", "date"),
    "updateddate": FieldSpec("updated", "date"),
    "created": FieldSpec("created", "date"),
    "createddate": FieldSpec("created", "date"),
    "summary": FieldSpec("summary", "text"),
    "description": FieldSpec("description", "text", sortable=False),
    "text": FieldSpec("text", "text", sortable=False),
    "comment": FieldSpec("comment", "text", sortable=False),  # the bodies of all the issue's comments
    "value goal": FieldSpec("customfield_10050", "text", sortable=False),
    "cf[10050]": FieldSpec("customfield_10050", "text", sortable=False),
}

_OPS_BY_KIND = {
    "choice": {"=", "!=", "in", "not in", "is", "is not"},
    "multi": {"=", "!=", "in", "not in", "is", "is not"},
    "user": {"=", "!=", "in", "not in", "is", "is not"},
    "key": {"=", "!=", "in", "not in", "<", ">", "<=", ">="},
    "date": {"=", "!=", "<", ">", "<=", ">=", "in", "not in", "is", "is not"},
    "text": {"~", "!~", "is", "is not"},
}


# ---- tokens --------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str  # "word" | "string" | "op" | "(" | ")" | "," | "end"
    text: str
    pos: int  # 1-based character

    @property
    def keyword(self) -> str:
        return self.text.lower() if self.kind == "word" else ""


_WORD_CHAR = re.compile(r"[^\s()=!<>~,\"']")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            tokens.append(Token(ch, ch, i + 1))
            i += 1
        elif ch in "\"'":
            j, out = i + 1, []
            while j < n and text[j] != ch:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                out.append(text[j])
                j += 1
            if j >= n:
                raise _syntax(f"The quoted string '{text[i + 1:]}' has not been completed.", i + 1)
            tokens.append(Token("string", "".join(out), i + 1))
            i = j + 1
        elif text.startswith(("!=", "<=", ">=", "!~"), i):
            tokens.append(Token("op", text[i:i + 2], i + 1))
            i += 2
        elif ch in "=<>~":
            tokens.append(Token("op", ch, i + 1))
            i += 1
        else:
            j = i
            while j < n and _WORD_CHAR.match(text[j]):
                if text[j] in _RESERVED_CHARS and not (text[j] in "[]" and text[i:i + 3].lower() == "cf["):
                    raise _syntax(f"The character '{text[j]}' is a reserved JQL character. You must enclose it "
                                  f"in a string or use the escape '\\u{ord(text[j]):04x}' instead.", j + 1)
                j += 1
            if j == i:  # a lone '!'
                raise _syntax(f"The character '{ch}' is a reserved JQL character. You must enclose it in a "
                              f"string or use the escape '\\u{ord(ch):04x}' instead.", i + 1)
            tokens.append(Token("word", text[i:j], i + 1))
            i = j
    tokens.append(Token("end", "", n + 1))
    return tokens


def _syntax(message: str, pos: int | None = None) -> JqlError:
    where = f" (line 1, character {pos})" if pos is not None else ""
    return JqlError([f"Error in the JQL Query: {message}{where}"])


# ---- the parsed query ----------------------------------------------------------------

Predicate = Callable[[IssueView], bool]


@dataclass(frozen=True)
class SortField:
    field: str
    descending: bool


@dataclass(frozen=True)
class Floor:
    """A top-level ``AND <date field> >= <absolute date>`` (or ``>``) on the query's first,
    ascending sort field, as a paging client restarts with; ``ref`` is the epoch it reads."""

    field: str
    operator: str  # ">=" | ">"
    ref: float


class Query:
    def __init__(self, predicate: Predicate | None, order: tuple[SortField, ...], text: str,
                 volatile: bool = False, floor: Floor | None = None, rest: Query | None = None) -> None:
        self._predicate = predicate
        self.order = order or (SortField("key", True),)  # Jira's order when none is given
        self.text = text
        self.volatile = volatile  # True when it reads the clock (-1d, now(), startOfDay())
        # With a floor, the hits are those of ``rest`` (the query without it, same order) from the
        # first one at or past the floor: a server can keep ``rest`` ordered and bisect it.
        self.floor = floor
        self.rest = rest

    @property
    def bounded(self) -> bool:
        """False for a query with no restriction (Cloud's search/jql refuses those)."""
        return self._predicate is not None

    def matches(self, view: IssueView) -> bool:
        return self._predicate is None or self._predicate(view)

    def sort_key(self, view: IssueView) -> tuple:
        """A plain tuple that sorts in the query's order (descending parts are inverted), so
        sorting and cursor comparisons run on tuples, not Python-level comparators."""
        parts = []
        for spec in self.order:
            raw = view.value(spec.field)
            if spec.field == "key":
                raw = _key_order(raw)
            elif isinstance(raw, tuple):
                raw = ",".join(raw)
            if isinstance(raw, str):
                raw = raw.lower()
            empty = raw is None or raw == ""
            if spec.descending:  # Jira lists empty values last ascending, first descending
                parts.append((not empty, 0 if empty else _inverted(raw)))
            else:
                parts.append((empty, 0 if empty else raw))
        return tuple(parts)


def _inverted(value: Any) -> Any:
    """A value whose ascending order is the original's descending order."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return -value
    if isinstance(value, str):  # the trailing 1 puts "abc" before its prefix "ab"
        return tuple(-ord(ch) for ch in value) + (1,)
    if isinstance(value, tuple):
        return tuple(_inverted(v) for v in value) + (1,)
    return value


def _key_order(key: Any) -> tuple[str, int]:
    project, _, number = str(key or "").rpartition("-")
    return (project.upper(), int(number)) if number.isdigit() else (str(key).upper(), 0)


# ---- the parser ----------------------------------------------------------------------

def parse(text: str, catalog: Catalog, *, zone: tzinfo = UTC, now: datetime | None = None) -> Query:
    """Parse and validate a query; raises JqlError with Jira's messages."""
    parser = _Parser(tokenize(text), catalog, zone, now or datetime.now(UTC))
    predicate = None
    if parser.peek.kind != "end" and parser.peek.keyword != "order":
        predicate = parser.or_expr()
    order = parser.order_by()
    if parser.peek.kind != "end":
        tok = parser.peek
        raise _syntax(f"Expecting either 'OR' or 'AND' but got '{tok.text}'.", tok.pos)
    if parser.errors:
        raise JqlError(parser.errors)
    floor, rest = _split_floor(parser, order, text)
    return Query(predicate, order, text, volatile=parser.volatile, floor=floor, rest=rest)


@dataclass(frozen=True)
class _Conjunct:
    predicate: Predicate
    floor: Floor | None  # set when the conjunct is one plain date clause with >= or >
    start: int  # 0-based span of its text
    end: int


def _split_floor(parser: _Parser, order: tuple[SortField, ...], text: str) -> tuple[Floor | None, Query | None]:
    """The query's floor and the query without it (see ``Query.floor``), or (None, None)."""
    if parser.volatile or not order or order[0].descending:
        return None, None
    found = [(c, c.floor) for c in parser.top if c.floor is not None and c.floor.field == order[0].field]
    if not found:
        return None, None
    chosen, floor = found[-1]
    others = tuple(c.predicate for c in parser.top if c is not chosen)
    predicate = None if not others else others[0] if len(others) == 1 else (lambda v: all(p(v) for p in others))
    # The rest is cached by its text: the query's, with the floor clause cut out, in a namespace of its own.
    rest_text = f"\x00floor {floor.field}\x00{text[:chosen.start]}\x00{text[chosen.end:]}"
    return floor, Query(predicate, order, rest_text)


@dataclass(frozen=True)
class _Value:
    text: str
    quoted: bool
    function: str = ""  # lower-cased function name, or ""
    args: tuple[str, ...] = ()


class _Parser:
    def __init__(self, tokens: list[Token], catalog: Catalog, zone: tzinfo, now: datetime) -> None:
        self.tokens, self.i = tokens, 0
        self.catalog, self.zone, self.now = catalog, zone, now
        self.errors: list[str] = []
        self.volatile = False
        self.depth = 0  # inside NOT or parentheses
        self.top: list[_Conjunct] = []  # the AND'ed parts of the whole query, when it is an AND (or one part)
        self._floor: Floor | None = None  # set by the clause just read, when it can be a floor

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    # boolean structure

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.peek.keyword == "or":
            self.take()
            parts.append(self.and_expr())
        if self.depth == 0 and len(parts) > 1:
            self.top = []
        if len(parts) == 1:
            return parts[0]
        ps = tuple(parts)
        return lambda v: any(p(v) for p in ps)

    def and_expr(self) -> Predicate:
        conjuncts = [self.conjunct()]
        while self.peek.keyword == "and":
            self.take()
            conjuncts.append(self.conjunct())
        if self.depth == 0:
            self.top = conjuncts
        parts = [c.predicate for c in conjuncts]
        if len(parts) == 1:
            return parts[0]
        ps = tuple(parts)
        return lambda v: all(p(v) for p in ps)

    def conjunct(self) -> _Conjunct:
        tok = self.peek
        plain = tok.keyword != "not" and tok.kind != "("  # one clause, nothing nested
        self._floor = None
        predicate = self.not_expr()
        return _Conjunct(predicate, self._floor if plain else None, tok.pos - 1, self.peek.pos - 1)

    def not_expr(self) -> Predicate:
        tok = self.peek
        if tok.keyword == "not":
            self.take()
            self.depth += 1
            inner = self.not_expr()
            self.depth -= 1
            return lambda v: not inner(v)
        if tok.kind == "(":
            self.take()
            self.depth += 1
            inner = self.or_expr()
            self.depth -= 1
            if self.peek.kind != ")":
                if self.peek.kind == "end":
                    raise _syntax("Expecting ')' before the end of the query.")
                raise _syntax(f"Expecting ')' but got '{self.peek.text}'.", self.peek.pos)
            self.take()
            return inner
        return self.clause()

    # one clause

    def clause(self) -> Predicate:
        tok = self.take()
        if tok.kind == "end":
            raise _syntax("Expecting a field name before the end of the query.")
        if tok.kind not in ("word", "string") or (tok.kind == "word" and tok.keyword in RESERVED_WORDS):
            raise _syntax(f"Expecting a field name but got '{tok.text}'. You must surround '{tok.text}' in "
                          "quotation marks to use it as a field name.", tok.pos)
        spec = _FIELDS.get(tok.text.lower())
        if spec is None:
            self.errors.append(f"Field '{tok.text}' does not exist or you do not have permission to view it.")
            spec = FieldSpec(tok.text, "unknown")
        op = self.operator()
        if spec.kind != "unknown" and op not in _OPS_BY_KIND[spec.kind]:
            self.errors.append(f"The operator '{op.upper()}' is not supported by the '{tok.text}' field.")
        if op in ("is", "is not"):
            word = self.take()
            if word.keyword not in ("empty", "null"):
                raise _syntax(f"Expecting 'EMPTY' but got '{word.text}'.", word.pos)
            return self._emptiness(spec, op == "is")
        if op in ("in", "not in"):
            values = self.value_list()
        else:
            values = [self.value()]
        if spec.kind == "unknown":
            return lambda v: False
        return self._build(spec, tok.text, op, values)

    def operator(self) -> str:
        tok = self.take()
        if tok.kind == "op":
            return tok.text
        kw = tok.keyword
        if kw == "in":
            return "in"
        if kw == "not" and self.peek.keyword == "in":
            self.take()
            return "not in"
        if kw == "is":
            if self.peek.keyword == "not":
                self.take()
                return "is not"
            return "is"
        if tok.kind == "end":
            raise _syntax(f"Expecting operator before the end of the query. {OPERATORS_TEXT}")
        raise _syntax(f"Expecting operator but got '{tok.text}'. {OPERATORS_TEXT}", tok.pos)

    def value(self) -> _Value:
        tok = self.take()
        if tok.kind == "string":
            return _Value(tok.text, True)
        if tok.kind == "word" and tok.keyword not in RESERVED_WORDS:
            if self.peek.kind == "(":  # a function call
                self.take()
                args = []
                while self.peek.kind not in (")", "end"):
                    arg = self.take()
                    if arg.kind != ",":
                        args.append(arg.text)
                if self.take().kind != ")":
                    raise _syntax("Expecting ')' before the end of the query.")
                return _Value(tok.text, False, tok.text.lower(), tuple(args))
            return _Value(tok.text, False)
        if tok.kind == "end":
            raise _syntax("Expecting either a value, list or function before the end of the query.")
        raise _syntax(f"Expecting either a value, list or function but got '{tok.text}'. You must surround "
                      f"'{tok.text}' in quotation marks to use it as a value.", tok.pos)

    def value_list(self) -> list[_Value]:
        tok = self.take()
        if tok.kind != "(":
            if tok.kind == "end":
                raise _syntax("Expecting '(' before the end of the query.")
            raise _syntax(f"Expecting '(' but got '{tok.text}'.", tok.pos)
        values = [self.value()]
        while self.peek.kind == ",":
            self.take()
            values.append(self.value())
        closing = self.take()
        if closing.kind != ")":
            if closing.kind == "end":
                raise _syntax("Expecting ')' before the end of the query.")
            raise _syntax(f"Expecting ')' but got '{closing.text}'.", closing.pos)
        return values

    def order_by(self) -> tuple[SortField, ...]:
        if self.peek.keyword != "order":
            return ()
        self.take()
        by = self.take()
        if by.keyword != "by":
            raise _syntax(f"Expecting 'by' but got '{by.text}'.", by.pos)
        fields = []
        while True:
            tok = self.take()
            if tok.kind not in ("word", "string") or tok.keyword in RESERVED_WORDS:
                where = "before the end of the query." if tok.kind == "end" else f"but got '{tok.text}'."
                raise _syntax(f"Expecting a field name {where}", tok.pos if tok.kind != "end" else None)
            spec = _FIELDS.get(tok.text.lower())
            if spec is None:
                self.errors.append(f"Field '{tok.text}' does not exist or you do not have permission to view it.")
            elif not spec.sortable:
                self.errors.append(f"Field '{tok.text}' does not support sorting.")
            descending = False
            if self.peek.keyword in ("asc", "desc"):
                descending = self.take().keyword == "desc"
            if spec is not None:
                fields.append(SortField(spec.name, descending))
            if self.peek.kind != ",":
                return tuple(fields)
            self.take()

    # semantics

    def _emptiness(self, spec: FieldSpec, want_empty: bool) -> Predicate:
        name = spec.name
        return lambda v: _is_empty(v.value(name)) == want_empty

    def _build(self, spec: FieldSpec, label: str, op: str, values: list[_Value]) -> Predicate:
        name = spec.name
        if spec.kind == "date":
            moments = [self._moment(label, val) for val in values]
            known = [m for m in moments if m is not None]
            if len(known) < len(moments):
                return lambda v: False  # an unreadable date: _moment has recorded the error
            if op in (">=", ">"):
                self._floor = Floor(name, op, known[0])
            return _compare(name, op, known)
        if spec.kind == "text":
            patterns = text_patterns(values[0].text)
            negate = op == "!~"

            def text_match(v: IssueView) -> bool:
                hay = str(v.value(name) or "").lower()
                found = all(p.search(hay) for p in patterns)
                return found != negate

            return text_match
        if spec.kind == "key":
            keys = [val.text.upper() for val in values]
            exists = self.catalog.issue_exists
            if exists is not None and op not in ("<", ">", "<=", ">="):
                for val in values:
                    if not exists(val.text):
                        self.errors.append(f"An issue with key '{val.text}' does not exist for field '{label}'.")
            if op in ("<", ">", "<=", ">="):
                return _compare(name, op, [_key_order(keys[0])], transform=_key_order)
            return _membership(name, op, keys, upper=True)
        wanted = [self._resolve(spec, label, val) for val in values]
        return _membership(name, op, [w for w in wanted if w is not None], upper=False)

    def _resolve(self, spec: FieldSpec, label: str, val: _Value) -> str | None:
        if val.function:
            if val.function == "currentuser" and spec.kind == "user":
                return self.catalog.current_user.lower()
            self.errors.append(f"Unable to find JQL function '{val.text}({', '.join(val.args)})'.")
            return None
        if spec.validate:
            known = {v.lower(): v for v in getattr(self.catalog, spec.validate)}
            if val.text.lower() not in known:
                self.errors.append(f"The value '{val.text}' does not exist for the field '{label}'.")
                return None
        return val.text.lower()

    def _moment(self, label: str, val: _Value) -> float | None:
        if val.function or _PERIOD.match(val.text.strip()):
            self.volatile = True
        when = date_value(val, self.zone, self.now)
        if when is None:
            self.errors.append(f"Date value '{val.text}' for field '{label}' is invalid. {DATE_FORMATS_TEXT}")
            return None
        return when.timestamp()


def text_patterns(value: str) -> list[re.Pattern[str]]:
    """What a text search (~) asks for, as patterns over lower-cased text, all of which must match.

    Words match at a word start anywhere (Jira stems, so "coach" finds "coaching"); a
    phrase in inner double quotes (``summary ~ "\\"csi-coach\\""``) matches its words in
    that order with only non-word characters between, as Jira's analyzer splits
    "csi-coach" into two adjacent words.
    """
    patterns = []
    for i, part in enumerate(value.lower().split('"')):
        words = re.findall(r"\w+", part)
        if not words:
            continue
        if i % 2:  # inside a pair of quotes: a phrase
            patterns.append(re.compile(r"\b" + r"\W+".join(re.escape(w) for w in words)))
        else:
            patterns.extend(re.compile(r"\b" + re.escape(w)) for w in words)
    return patterns


def _is_empty(raw: Any) -> bool:
    return raw is None or raw == "" or raw == ()


def _as_set(raw: Any, upper: bool) -> set[str]:
    items = raw if isinstance(raw, tuple) else (() if _is_empty(raw) else (raw,))
    return {str(x).upper() if upper else str(x).lower() for x in items}


def _membership(name: str, op: str, wanted: list[str], *, upper: bool) -> Predicate:
    want = set(wanted)
    if op in ("=", "in") and not upper:
        def contains(v: IssueView) -> bool:
            raw = v.value(name)
            if isinstance(raw, str):  # the common single-valued case, without building a set
                return raw.lower() in want
            return bool(_as_set(raw, False) & want)

        return contains
    if op in ("=", "in"):
        return lambda v: bool(_as_set(v.value(name), upper) & want)
    # != and NOT IN: never true for an empty field (Jira's rule)
    return lambda v: (not _is_empty(v.value(name))) and not (_as_set(v.value(name), upper) & want)


def _compare(name: str, op: str, refs: list[Any], transform: Callable[[Any], Any] = lambda x: x) -> Predicate:
    ref = refs[0]
    tests = {
        "=": lambda x: x == ref, "!=": lambda x: x != ref, "<": lambda x: x < ref, ">": lambda x: x > ref,
        "<=": lambda x: x <= ref, ">=": lambda x: x >= ref,
        "in": lambda x: x in refs, "not in": lambda x: x not in refs,
    }
    test = tests[op]

    def compare(v: IssueView) -> bool:
        raw = v.value(name)
        return not _is_empty(raw) and test(transform(raw))

    return compare


# ---- date literals -------------------------------------------------------------------

_ABSOLUTE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$")
_PERIOD = re.compile(r"^([-+]?)\s*((?:\d+\s*[wdhm]\s*)+)$", re.IGNORECASE)
_PERIOD_PART = re.compile(r"(\d+)\s*([wdhm])", re.IGNORECASE)
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60}


def date_value(val: Any, zone: tzinfo, now: datetime) -> datetime | None:
    """A JQL date literal or date function as an aware datetime (None if invalid)."""
    text = val.text.strip() if hasattr(val, "text") else str(val).strip()
    function = getattr(val, "function", "")
    if function:
        local_now = now.astimezone(zone)
        start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
        if function == "now":
            return now
        if function == "startofday":
            return start
        if function == "endofday":
            return start + timedelta(days=1) - timedelta(milliseconds=1)
        return None
    m = _ABSOLUTE.match(text)
    if m:
        year, month, day, hour, minute = (int(g) if g else 0 for g in m.groups())
        try:
            return datetime(year, month, day, hour, minute, tzinfo=zone)
        except ValueError:
            return None
    m = _PERIOD.match(text)
    if m:
        seconds = sum(int(n) * _UNITS[u.lower()] for n, u in _PERIOD_PART.findall(m.group(2)))
        return now + timedelta(seconds=-seconds if m.group(1) == "-" else seconds)
    return None


# ---- search-after cursors (Cloud's nextPageToken) -----------------------------------

def position(query: Query, view: IssueView, tiebreak: int) -> tuple:
    """Where an issue sits in the query's order; tiebreak (the issue's index) makes it total."""
    return query.sort_key(view) + (tiebreak,)


def encode_position(pos: tuple) -> list:
    """A position as JSON (tuples become lists)."""
    return json_ready(pos)


def json_ready(value: Any) -> Any:
    return [json_ready(v) for v in value] if isinstance(value, (tuple, list)) else value


def decode_position(query: Query, items: Any) -> tuple:
    """The inverse of encode_position for the same query; ValueError if it does not fit."""
    if not isinstance(items, list) or len(items) != len(query.order) + 1 or not isinstance(items[-1], int):
        raise ValueError("cursor does not match the query")
    if not all(isinstance(part, list) and len(part) == 2 and isinstance(part[0], bool) for part in items[:-1]):
        raise ValueError("cursor does not match the query")
    return _tuplify(items)


def _tuplify(value: Any) -> Any:
    return tuple(_tuplify(v) for v in value) if isinstance(value, list) else value
