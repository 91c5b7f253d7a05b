"""kind = "any": at least one listed rule holds. Evidence from those that hold.

    [rule.value-goal]
    kind = "any"
    rules = ["consumer-effect", "business-cost", "business-risk"]
    fields = ["goal", "title"]    # optional: only evidence in these fields counts
"""

from __future__ import annotations

from dataclasses import dataclass

from rules import params as P
from rules.kinds.base import NO, BuildContext, Match, merge_evidence

PARAMS = {"rules": P.RULE_REFS, "fields": P.Param(P._fields, P.FIELDS.expected, default=None)}


@dataclass(frozen=True)
class AnyCondition:
    refs: tuple[str, ...]
    fields: tuple[str, ...] | None = None
    vocabs: tuple[str, ...] = ()

    def evaluate(self, ctx) -> Match:
        held = [m.evidence for m in map(ctx.result, self.refs) if m.holds]
        if self.fields is not None:
            held = [ev for ev in (tuple(e for e in g if e.field in self.fields) for g in held) if ev]
        return Match(True, merge_evidence(*held)) if held else NO


def build(b: BuildContext) -> AnyCondition:
    f = b.params["fields"]
    return AnyCondition(tuple(b.params["rules"]), tuple(f) if f else None)
