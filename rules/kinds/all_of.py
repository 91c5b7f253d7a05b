"""kind = "all": every listed rule holds. Evidence from all of them.

    [rule.consumer-cost]
    kind = "all"
    rules = ["consumer-role", "cost-term"]
    fields = ["goal"]      # optional: each rule must hold with evidence in these fields
"""

from __future__ import annotations

from dataclasses import dataclass

from csi_coach.rules import params as P
from csi_coach.rules.kinds.base import NO, BuildContext, Match, merge_evidence, narrow

PARAMS = {"rules": P.RULE_REFS, "fields": P.Param(P.read_fields, P.FIELDS.expected, default=None)}


@dataclass(frozen=True)
class AllCondition:
    refs: tuple[str, ...]
    fields: frozenset[str] | None = None
    vocabs: tuple[str, ...] = ()

    def evaluate(self, ctx, scope=None) -> Match:
        # Rules are read in order and the first that fails ends it: list cheap ones first.
        sub = narrow(self.fields, scope)
        groups = []
        for r in self.refs:
            m = ctx.result(r, sub)
            if not m.holds:
                return NO
            ev = m.evidence
            if sub is not None:
                ev = tuple(e for e in ev if e.field in sub)
                # A rule that holds without evidence (a "not") is not tied to a field.
                if not ev and m.evidence:
                    return NO
            groups.append(ev)
        return Match(True, merge_evidence(*groups))


    def evaluate_holds(self, ctx, scope=None) -> bool:
        """Holds or not, without evidence (the same checks as evaluate)."""
        sub = narrow(self.fields, scope)
        tied = ctx.ruleset.tied
        for r in self.refs:
            if sub is None or r in tied:
                if not ctx.holds(r, sub):
                    return False
            else:
                m = ctx.result(r, sub)
                if not m.holds or (m.evidence and not any(e.field in sub for e in m.evidence)):
                    return False
        return True


def build(b: BuildContext) -> AllCondition:
    f = b.params["fields"]
    return AllCondition(tuple(b.params["rules"]), frozenset(f) if f else None)
