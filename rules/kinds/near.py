"""kind = "near": evidence of rule A and of rule B close together in the same field.

    [rule.consumer-effect]
    kind = "near"
    a = "consumer-role"
    b = "effect-term"
    within = 8              # at most this many words apart (default 8)
    same = "clause"         # "clause": no . ; : ! ? or newline between them (default);
                            # "sentence": no . ! ? or newline; "field": anywhere in the field
    unless = "desk-term"    # optional: a pair does not count when this rule's evidence
                            # sits next to A's evidence (same short clause, at most
    unless_within = 3       # this many words away; default 3)
    order = "any"           # "any", or "a-first" when A must come before B
    fields = ["goal"]       # optional: only pairs in these fields count

The structural check behind "who experiences the change": a consumer role next to
what happens to them. Evidence: the pairs found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rules import params as P
from rules.kinds.base import NO, BuildContext, Match, merge_evidence

_BREAKS = {
    # "16:00" and "99.9" are not clause ends.
    "clause": re.compile(r"(?<!\d)[.:](?!\d)|[;!?\n\u2013\u2014]|\bbut\b", re.IGNORECASE),
    "sentence": re.compile(r"[.!?](?:\s|$)|\n"),
    "field": None,
}
# A blocker ("unless") reaches only within a short clause: commas and links end it too.
_CLAUSE = re.compile(r"(?<!\d)[.:,](?!\d)|[;!?\n\u2013\u2014()]|\b(?:but|so|because|which|while|when|and)\b", re.IGNORECASE)


def _same(v):
    if v not in _BREAKS:
        raise ValueError
    return v


def _order(v):
    if v not in ("any", "a-first", "b-first"):
        raise ValueError
    return v


PARAMS = {
    "a": P.RULE_REF,
    "b": P.RULE_REF,
    "within": P.Param(P._nonneg_int, "a whole number >= 0", default=8),
    "same": P.Param(_same, 'one of "clause", "sentence", "field"', default="clause"),
    "unless": P.Param(P._nonempty_str, "the id of another rule", default=None),
    "unless_within": P.Param(P._nonneg_int, "a whole number >= 0", default=3),
    "fields": P.Param(P._fields, P.FIELDS.expected, default=None),
    "order": P.Param(_order, 'one of "any", "a-first", "b-first"', default="any"),
}


@dataclass(frozen=True)
class NearCondition:
    a: str
    b: str
    within: int
    same: str
    order: str
    unless: str | None = None
    fields: tuple[str, ...] | None = None
    unless_within: int = 3
    vocabs: tuple[str, ...] = ()

    @property
    def refs(self) -> tuple[str, ...]:
        return (self.a, self.b) + ((self.unless,) if self.unless else ())

    def _spoiled(self, ctx, e, blockers) -> bool:
        text = ctx.text(e.field)
        for u in blockers:
            if u.field != e.field:
                continue
            lo, hi = (u.end, e.start) if u.end <= e.start else (e.end, u.start)
            if hi < lo:
                return True  # overlapping: the same words
            if not _CLAUSE.search(text, lo, hi) and len(text[lo:hi].split()) <= self.unless_within:
                return True
        return False

    def evaluate(self, ctx) -> Match:
        ma = ctx.result(self.a)
        if not ma.holds:
            return NO
        mb = ctx.result(self.b)
        if not mb.holds:
            return NO
        breaker = _BREAKS[self.same]
        blockers = ctx.result(self.unless).evidence if self.unless else ()
        pairs = []
        for ea in ma.evidence:
            for eb in mb.evidence:
                if ea.field != eb.field or (self.fields is not None and ea.field not in self.fields):
                    continue
                if self.order == "a-first" and ea.start > eb.start:
                    continue
                if self.order == "b-first" and eb.start > ea.start:
                    continue
                first, second = (ea, eb) if ea.start <= eb.start else (eb, ea)
                if second.start < first.end:  # overlapping: same words, not two things
                    continue
                gap = ctx.text(ea.field)[first.end : second.start]
                if len(gap.split()) > self.within:
                    continue
                if breaker is not None and breaker.search(gap):
                    continue
                if blockers and self._spoiled(ctx, ea, blockers):
                    continue
                pairs.append((ea, eb))
        if not pairs:
            return NO
        return Match(True, merge_evidence(tuple(e for p in pairs for e in p)))


def build(b: BuildContext) -> NearCondition:
    p = b.params
    f = p["fields"]
    return NearCondition(p["a"], p["b"], p["within"], p["same"], p["order"], p["unless"], tuple(f) if f else None, p["unless_within"])
