r"""kind = "regex": a regular expression in the scoped fields.

    [rule.percent-target]
    kind = "regex"
    pattern = '\d+(\.\d+)?\s?%'
    fields = ["goal"]
    ignore_case = true     # default
    negation = false       # true: skip matches inside a negation's scope
    max_evidence = 0       # stop after this many matches (0: all); 1 when only "holds" matters

A pattern you write runs on RE2, in time linear in the field; one RE2 cannot run
(lookaround, back-references...) is refused at load. The shipped patterns run on
Python's re, vetted (see rules.patterns).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from csi_coach.model import Evidence
from csi_coach.rules import params as P
from csi_coach.rules.kinds.base import NO, BuildContext, Match, in_scope, make_evidence
from csi_coach.rules.literals import gate
from csi_coach.rules.lowered import lowered_twin, plain
from csi_coach.rules.patterns import EXPECTED, LinearPattern, compile_linear, refusal
from csi_coach.rules.starts import guarded

PARAMS = {
    "pattern": P.REGEX,
    "fields": P.FIELDS,
    "ignore_case": P.Param(P.read_bool, "true or false", default=True),
    "negation": P.Param(P.read_bool, "true or false", default=False),
    "max_evidence": P.Param(P.read_count, "a whole number >= 0", default=0),
}


@dataclass(frozen=True)
class RegexCondition:
    # RE2 for a pattern an admin wrote; Python's re for a shipped (vetted) one: rules.patterns.
    regex: re.Pattern | LinearPattern
    fields: tuple[str, ...]
    negation: bool
    max_evidence: int = 0
    refs: tuple[str, ...] = ()
    vocabs: tuple[str, ...] = ()
    # False for text the regex cannot match (a literal it needs is missing): see literals.
    gate: Callable[[str], bool] | None = field(default=None, compare=False, repr=False)
    # The same pattern without ignore-case, run over lower-cased text: see lowered.
    twin: re.Pattern | None = field(default=None, compare=False, repr=False)
    # The pattern that is run: ``regex`` with a lookahead of the characters a match can
    # start with (rules.starts), the same matches sooner; None for an admin's pattern.
    fast: re.Pattern | None = field(default=None, compare=False, repr=False)

    def evaluate(self, ctx, scope=None) -> Match:
        fields = in_scope(self.fields, scope)
        pieces = ctx.pieces
        if len(fields) == 1:
            key = (id(self), fields[0])
            ev = pieces.get(key)
            if ev is None:
                ev = pieces[key] = self._field(ctx, fields[0])
            return Match(True, ev) if ev else NO
        found: list[Evidence] = []
        for f in fields:
            # Each field's matches are found once per record, whatever scope asks.
            key = (id(self), f)
            ev = pieces.get(key)
            if ev is None:
                ev = pieces[key] = self._field(ctx, f)
            found.extend(ev)
            if self.max_evidence and len(found) >= self.max_evidence:
                return Match(True, tuple(found[: self.max_evidence]))
        return Match(True, tuple(found)) if found else NO

    def _field(self, ctx, f: str) -> tuple[Evidence, ...]:
        """The matches in one field, in order (the first ``max_evidence`` when set)."""
        text = ctx.text(f)
        if not text or (self.gate is not None and not self.gate(text)):
            return ()
        if isinstance(self.regex, LinearPattern):
            return self._linear_field(ctx, f, text, self.regex)
        rx, subject = self.fast or self.regex, text
        if self.twin is not None and plain(text):
            # Case ignored: the same spans from the case-sensitive twin over the lower-cased
            # field, which is made once per record (rules.lowered).
            key = ("lower", f)
            subject = ctx.pieces.get(key)
            if subject is None:
                subject = ctx.pieces[key] = text.lower()
            rx = self.twin
        found: list[Evidence] = []
        if not self.negation and not self.max_evidence:
            # The common case, without the per-match checks below.
            for m in rx.finditer(subject):
                s, e = m.span()
                if e != s:
                    found.append(make_evidence(f, text[s:e], s, e))
            return tuple(found)
        for m in rx.finditer(subject):
            s, e = m.span()
            if e == s:
                continue
            if self.negation and ctx.negated_at(f, s):
                continue
            found.append(make_evidence(f, text[s:e], s, e))
            if len(found) == self.max_evidence:
                break
        return tuple(found)

    def _linear_field(self, ctx, f: str, text: str, rx: LinearPattern) -> tuple[Evidence, ...]:
        """The same for an admin's pattern, run by RE2 (it ignores case itself: no twin)."""
        found: list[Evidence] = []
        for s, e in rx.spans(text):
            if e == s or (self.negation and ctx.negated_at(f, s)):
                continue
            found.append(make_evidence(f, text[s:e], s, e))
            if len(found) == self.max_evidence:
                break
        return tuple(found)

    @property
    def ignore_case(self) -> bool:
        rx = self.regex
        return rx.ignore_case if isinstance(rx, LinearPattern) else bool(rx.flags & re.IGNORECASE)


def build(b: BuildContext) -> RegexCondition:
    p = b.params
    pattern, ignore_case = p["pattern"], p["ignore_case"]
    fields = tuple(p["fields"])
    if pattern in b.vetted_patterns:
        regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
        twin = lowered_twin(regex)
        return RegexCondition(regex, fields, p["negation"], p["max_evidence"], gate=gate(regex),
                              twin=None if twin is None else guarded(twin), fast=guarded(regex))
    refused = refusal(pattern)
    if refused is not None:
        b.origins.fail(f"{b.key}.pattern", refused.message, got=pattern,
                       expected=refused.instead if refused.instead == EXPECTED else f"a pattern RE2 can run: {refused.instead}")
    return RegexCondition(compile_linear(pattern, ignore_case), fields, p["negation"], p["max_evidence"])
