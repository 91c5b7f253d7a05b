"""kind = "requires": if rule A holds, rule B must hold too; fires when it does not.

    [rule.process-without-value]
    kind = "requires"
    if = "process-metric"
    then = "value-goal"

Evidence is A's: the words that made the requirement apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from csi_coach.rules import params as P
from csi_coach.rules.kinds.base import NO, BuildContext, Match

PARAMS = {"if": P.RULE_REF, "then": P.RULE_REF}


@dataclass(frozen=True)
class RequiresCondition:
    when: str
    then: str
    vocabs: tuple[str, ...] = ()

    @property
    def refs(self) -> tuple[str, ...]:
        return (self.when, self.then)

    def evaluate(self, ctx, scope=None) -> Match:  # about the whole record: scope ignored
        # "then" first: when it holds, "if" need not be found at all.
        if ctx.holds(self.then):
            return NO
        a = ctx.result(self.when)
        return Match(True, a.evidence) if a.holds else NO

    def evaluate_holds(self, ctx, scope=None) -> bool:
        return not ctx.holds(self.then) and ctx.holds(self.when)


def build(b: BuildContext) -> RequiresCondition:
    return RequiresCondition(b.params["if"], b.params["then"])
