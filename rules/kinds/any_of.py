"""kind = "any": at least one listed rule holds. Evidence from those that hold.

    [rule.value-goal]
    kind = "any"
    rules = ["consumer-effect", "business-cost", "business-risk"]
"""

from __future__ import annotations

from dataclasses import dataclass

from rules import params as P
from rules.kinds.base import NO, BuildContext, Match, merge_evidence

PARAMS = {"rules": P.RULE_REFS}


@dataclass(frozen=True)
class AnyCondition:
    refs: tuple[str, ...]
    vocabs: tuple[str, ...] = ()

    def evaluate(self, ctx) -> Match:
        held = [m.evidence for m in map(ctx.result, self.refs) if m.holds]
        return Match(True, merge_evidence(*held)) if held else NO


def build(b: BuildContext) -> AnyCondition:
    return AnyCondition(tuple(b.params["rules"]))
