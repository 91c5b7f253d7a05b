r"""kind = "regex": a regular expression in the scoped fields.

    [rule.percent-target]
    kind = "regex"
    pattern = '\d+(\.\d+)?\s?%'
    fields = ["goal"]
    ignore_case = true     # default
    negation = false       # true: skip matches inside a negation's scope
    max_evidence = 0       # stop after this many matches (0: all); 1 when only "holds" matters
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from model import Evidence
from rules import params as P
from rules.kinds.base import NO, BuildContext, Match, in_scope

PARAMS = {
    "pattern": P.REGEX,
    "fields": P.FIELDS,
    "ignore_case": P.Param(P._bool, "true or false", default=True),
    "negation": P.Param(P._bool, "true or false", default=False),
    "max_evidence": P.Param(P._nonneg_int, "a whole number >= 0", default=0),
}


@dataclass(frozen=True)
class RegexCondition:
    regex: re.Pattern
    fields: tuple[str, ...]
    negation: bool
    max_evidence: int = 0
    refs: tuple[str, ...] = ()
    vocabs: tuple[str, ...] = ()

    def evaluate(self, ctx, scope=None) -> Match:
        found: list[Evidence] = []
        for f in in_scope(self.fields, scope):
            text = ctx.text(f)
            if not text:
                continue
            for m in self.regex.finditer(text):
                if m.end() == m.start():
                    continue
                if self.negation and ctx.negated_at(f, m.start()):
                    continue
                found.append(Evidence(f, m.group(), m.start(), m.end()))
                if len(found) == self.max_evidence:
                    return Match(True, tuple(found))
        return Match(True, tuple(found)) if found else NO


def build(b: BuildContext) -> RegexCondition:
    p = b.params
    flags = re.IGNORECASE if p["ignore_case"] else 0
    return RegexCondition(re.compile(p["pattern"], flags), tuple(p["fields"]), p["negation"], p["max_evidence"])
