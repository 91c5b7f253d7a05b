r"""kind = "regex": a regular expression in the scoped fields.

    [rule.percent-target]
    kind = "regex"
    pattern = '\d+(\.\d+)?\s?%'
    fields = ["goal"]
    ignore_case = true     # default
    negation = false       # true: skip matches inside a negation's scope
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from model import Evidence
from rules import params as P
from rules.kinds.base import NO, BuildContext, Match

PARAMS = {
    "pattern": P.REGEX,
    "fields": P.FIELDS,
    "ignore_case": P.Param(P._bool, "true or false", default=True),
    "negation": P.Param(P._bool, "true or false", default=False),
}


@dataclass(frozen=True)
class RegexCondition:
    regex: re.Pattern
    fields: tuple[str, ...]
    negation: bool
    refs: tuple[str, ...] = ()
    vocabs: tuple[str, ...] = ()

    def evaluate(self, ctx) -> Match:
        found: list[Evidence] = []
        for f in self.fields:
            text = ctx.text(f)
            if not text:
                continue
            for m in self.regex.finditer(text):
                if m.end() == m.start():
                    continue
                if self.negation and ctx.negated_at(f, m.start()):
                    continue
                found.append(Evidence(f, m.group(), m.start(), m.end()))
        return Match(True, tuple(found)) if found else NO


def build(b: BuildContext) -> RegexCondition:
    p = b.params
    flags = re.IGNORECASE if p["ignore_case"] else 0
    return RegexCondition(re.compile(p["pattern"], flags), tuple(p["fields"]), p["negation"])
