"""kind = "not": the listed rule does not hold. Carries no evidence of its own.

    [rule.no-goal-field]
    kind = "not"
    rule = "has-goal-field"
"""

from __future__ import annotations

from dataclasses import dataclass

from csi_coach.rules import params as P
from csi_coach.rules.kinds.base import NO, BuildContext, Match

PARAMS = {"rule": P.RULE_REF}
_YES = Match(True)


@dataclass(frozen=True)
class NotCondition:
    rule: str
    vocabs: tuple[str, ...] = ()

    @property
    def refs(self) -> tuple[str, ...]:
        return (self.rule,)

    def evaluate(self, ctx, scope=None) -> Match:  # about the whole record: scope ignored
        return NO if ctx.holds(self.rule) else _YES

    def evaluate_holds(self, ctx, scope=None) -> bool:
        return not ctx.holds(self.rule)


def build(b: BuildContext) -> NotCondition:
    return NotCondition(b.params["rule"])
