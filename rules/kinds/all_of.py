"""kind = "all": every listed rule holds. Evidence from all of them.

    [rule.consumer-cost]
    kind = "all"
    rules = ["consumer-role", "cost-term"]
"""

from __future__ import annotations

from dataclasses import dataclass

from rules import params as P
from rules.kinds.base import NO, BuildContext, Match, merge_evidence

PARAMS = {"rules": P.RULE_REFS}


@dataclass(frozen=True)
class AllCondition:
    refs: tuple[str, ...]
    vocabs: tuple[str, ...] = ()

    def evaluate(self, ctx) -> Match:
        groups = []
        for r in self.refs:
            m = ctx.result(r)
            if not m.holds:
                return NO
            groups.append(m.evidence)
        return Match(True, merge_evidence(*groups))


def build(b: BuildContext) -> AllCondition:
    return AllCondition(tuple(b.params["rules"]))
