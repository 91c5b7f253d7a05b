"""kind = "near": evidence of rule A and of rule B close together in the same field.

    [rule.consumer-effect]
    kind = "near"
    a = "consumer-role"
    b = "effect-term"
    within = 8              # at most this many words apart (default 8)
    same = "clause"         # "clause": no . ; : ! ? or newline between them (default);
                            # "sentence": no . ! ? or newline; "field": anywhere in the field
    unless = "desk-term"    # optional: a pair does not count when this rule's evidence
                            # sits in the same clause as either end of it
    order = "any"           # "any", or "a-first" when A must come before B

The structural check behind "who experiences the change": a consumer role next to
what happens to them. Evidence: the pairs found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rules import params as P
from rules.kinds.base import NO, BuildContext, Match, merge_evidence

_BREAKS = {
    "clause": re.compile(r"[.;:!?\n\u2013\u2014]|\bbut\b", re.IGNORECASE),
    "sentence": re.compile(r"[.!?\n](?:\s|$)|\n"),
    "field": None,
}
_CLAUSE = _BREAKS["clause"]


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
            if hi < lo or not _CLAUSE.search(text, lo, hi):
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
                if ea.field != eb.field:
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
                if blockers and (self._spoiled(ctx, ea, blockers) or self._spoiled(ctx, eb, blockers)):
                    continue
                pairs.append((ea, eb))
        if not pairs:
            return NO
        return Match(True, merge_evidence(tuple(e for p in pairs for e in p)))


def build(b: BuildContext) -> NearCondition:
    p = b.params
    return NearCondition(p["a"], p["b"], p["within"], p["same"], p["order"], p["unless"])
