"""kind = "consequence": a causal link and the clause after it, when that clause says
what follows from the change for someone other than the provider.

    [rule.consequence-clause]
    kind = "consequence"
    link = "causal-link"           # the rule whose evidence is a link ("so that", "because")
    unless = "provider-internal"   # optional: its evidence in the clause's first words makes
    unless_within = 6              # the consequence the provider's own ("so we hit our SLA");
                                   # later in the clause it is a detail ("so that no student
                                   # loses an exam attempt to an outage")
    min_words = 3                  # the clause needs at least this many words
    max_words = 30                 # and is read up to its end or this many words
    fields = ["goal", "description", "title"]

"Restore time under 20 min so the night orders still reach the ovens by 4 am": the
link "so" is followed by a clause naming no process measure and no provider team, so
it holds, with the link and its clause as evidence. The category rules use it to
stay silent (``unsure``) where a consequence is stated that the value rules cannot
place: the record may well name value in words no vocabulary holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from csi_coach.rules import params as P
from csi_coach.rules.kinds.base import NO, BuildContext, Match, in_scope, make_evidence

# Where the clause after a link ends: a sentence end (not a decimal point or time), a
# semicolon, a line break, or a parenthesis.
_CLAUSE_END = re.compile(r"(?<!\d)[.!?](?!\d)|[;\n()]")
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")

PARAMS = {
    "link": P.RULE_REF,
    "unless": P.Param(P._nonempty_str, "the id of another rule", default=None),
    "unless_within": P.Param(P._word_count, P.WORDS_EXPECTED, default=6),
    "min_words": P.Param(P._word_count, P.WORDS_EXPECTED, default=3),
    "max_words": P.Param(P._word_count, P.WORDS_EXPECTED, default=30),
    "fields": P.FIELDS,
}


@dataclass(frozen=True)
class ConsequenceCondition:
    link: str
    unless: str | None
    unless_within: int
    min_words: int
    max_words: int
    fields: tuple[str, ...]
    vocabs: tuple[str, ...] = ()

    @property
    def refs(self) -> tuple[str, ...]:
        return (self.link,) + ((self.unless,) if self.unless else ())

    def evaluate(self, ctx, scope=None) -> Match:
        names = in_scope(self.fields, scope)
        if not names:
            return NO
        own = frozenset(names)
        links = ctx.result(self.link, own)
        if not links.holds:
            return NO
        blockers = ctx.result(self.unless, own).evidence if self.unless else ()
        found = []
        for e in links.evidence:
            text = ctx.record.text(e.field)
            end = self._clause_end(text, e.end)
            words = list(_WORD.finditer(text, e.end, end))
            if len(words) < self.min_words:
                continue
            head = words[min(self.unless_within, len(words)) - 1].end() if self.unless_within else e.end
            if any(b.field == e.field and b.start >= e.end and b.start < head for b in blockers):
                continue
            found.append(make_evidence(e.field, text[e.start:end].rstrip(" ,"), e.start, end))
        return Match(True, tuple(found)) if found else NO

    def _clause_end(self, text: str, start: int) -> int:
        stop = _CLAUSE_END.search(text, start)
        end = stop.start() if stop else len(text)
        count = 0
        for m in _WORD.finditer(text, start, end):
            count += 1
            if count == self.max_words:
                return m.end()
        return end


def build(b: BuildContext) -> ConsequenceCondition:
    p = b.params
    return ConsequenceCondition(p["link"], p["unless"], p["unless_within"], p["min_words"], p["max_words"],
                                tuple(p["fields"]))
