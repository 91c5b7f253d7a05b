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
from rules.kinds.base import NO, BuildContext, Match, in_scope, make_evidence

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
        finditer = self.regex.finditer
        for f in in_scope(self.fields, scope):
            text = ctx.text(f)
            if not text:
                continue
            if not self.negation and not self.max_evidence:
                # The common case, without the per-match checks below.
                for m in finditer(text):
                    s, e = m.span()
                    if e != s:
                        found.append(make_evidence(f, m.group(), s, e))
                continue
            for m in finditer(text):
                s, e = m.span()
                if e == s:
                    continue
                if self.negation and ctx.negated_at(f, s):
                    continue
                found.append(make_evidence(f, m.group(), s, e))
                if len(found) == self.max_evidence:
                    return Match(True, tuple(found))
        return Match(True, tuple(found)) if found else NO


def build(b: BuildContext) -> RegexCondition:
    p = b.params
    flags = re.IGNORECASE if p["ignore_case"] else 0
    return RegexCondition(re.compile(p["pattern"], flags), tuple(p["fields"]), p["negation"], p["max_evidence"])
