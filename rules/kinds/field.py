"""kind = "field": a field is filled in (optionally with a minimum length).

    [rule.has-goal-field]
    kind = "field"
    fields = ["goal"]      # holds when any of these qualifies
    min_chars = 1          # default 1
    min_words = 0          # default 0

Evidence is the whole field text, so an "absent" check can still quote something.
"""

from __future__ import annotations

from dataclasses import dataclass

from csi_coach.model import Evidence
from csi_coach.rules import params as P
from csi_coach.rules.kinds.base import NO, BuildContext, Match, in_scope

PARAMS = {
    "fields": P.FIELDS,
    "min_chars": P.Param(P.read_count, "a whole number >= 0", default=1),
    "min_words": P.Param(P.read_count, "a whole number >= 0", default=0),
}


@dataclass(frozen=True)
class FieldCondition:
    fields: tuple[str, ...]
    min_chars: int
    min_words: int
    refs: tuple[str, ...] = ()
    vocabs: tuple[str, ...] = ()

    def evaluate(self, ctx, scope=None) -> Match:
        found: list[Evidence] = []
        for f in in_scope(self.fields, scope):
            raw = ctx.text(f)
            text = raw.strip()
            if not text or len(text) < self.min_chars or len(text.split()) < self.min_words:
                continue
            start = raw.index(text[0])
            found.append(Evidence(f, text, start, start + len(text)))
        return Match(True, tuple(found)) if found else NO


def build(b: BuildContext) -> FieldCondition:
    p = b.params
    return FieldCondition(tuple(p["fields"]), p["min_chars"], p["min_words"])
