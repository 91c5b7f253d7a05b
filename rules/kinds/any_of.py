"""kind = "any": at least one listed rule holds. Evidence from those that hold.

    [rule.value-goal]
    kind = "any"
    rules = ["consumer-effect", "business-cost", "business-risk"]
    fields = ["goal", "title"]    # optional: only evidence in these fields counts
"""

from __future__ import annotations

from dataclasses import dataclass

from csi_coach.rules import params as P
from csi_coach.rules.kinds.base import NO, BuildContext, Match, merge_evidence, narrow

PARAMS = {"rules": P.RULE_REFS, "fields": P.Param(P.read_fields, P.FIELDS.expected, default=None)}


@dataclass(frozen=True)
class AnyCondition:
    refs: tuple[str, ...]
    fields: frozenset[str] | None = None
    vocabs: tuple[str, ...] = ()

    def evaluate(self, ctx, scope=None) -> Match:
        sub = narrow(self.fields, scope)
        if sub is not scope and ctx.blank(sub):
            return NO  # only evidence in those fields counts, and they are empty
        result = ctx.result
        held = []
        for r in self.refs:
            m = result(r, sub)
            if m.holds:
                if sub is None:
                    held.append(m.evidence)
                else:
                    ev = tuple([e for e in m.evidence if e.field in sub])
                    if ev:
                        held.append(ev)
        if not held:
            return NO
        return Match(True, held[0] if len(held) == 1 else merge_evidence(*held))


    def evaluate_holds(self, ctx, scope=None) -> bool:
        """Holds or not, without evidence: the first rule that holds ends it."""
        sub = narrow(self.fields, scope)
        if sub is not scope and ctx.blank(sub):
            return False
        tied = ctx.ruleset.tied
        for r in self.refs:
            if sub is None or r in tied:
                if ctx.holds(r, sub):
                    return True
            else:
                m = ctx.result(r, sub)
                if m.holds and any(e.field in sub for e in m.evidence):
                    return True
        return False

    def evaluate_window(self, ctx, scope: frozenset, window) -> Match:
        """Evidence in a window of one field (see rules.window): each rule's, merged."""
        if narrow(self.fields, scope) != scope:
            return self.evaluate(ctx, scope)  # another field set: answer in full
        # The rule's fields are the caller's scope, never None here (engine.result_in).
        result_in = ctx.result_in
        held = []
        for r in self.refs:
            m = result_in(r, scope, window)
            if m.holds:
                ev = tuple([e for e in m.evidence if e.field in scope])
                if ev:
                    held.append(ev)
        if not held:
            return NO
        return Match(True, held[0] if len(held) == 1 else merge_evidence(*held))


def build(b: BuildContext) -> AnyCondition:
    f = b.params["fields"]
    return AnyCondition(tuple(b.params["rules"]), frozenset(f) if f else None)
