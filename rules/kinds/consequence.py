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
from bisect import bisect_left
from dataclasses import dataclass

from csi_coach.rules import params as P
from csi_coach.rules.kinds.base import NO, BuildContext, Match, in_scope, make_evidence

# Where the clause after a link ends: a sentence end (not a decimal point or time), a
# semicolon, a line break, or a parenthesis.
_CLAUSE_END = re.compile(r"(?<!\d)[.!?](?!\d)|[;\n()]")
_MAX_EVIDENCE = 8  # consequences quoted at most: enough to show, and a bound on the work
_CHARS_PER_WORD = 40  # words longer than this are cut short: the window stays bounded
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")

PARAMS = {
    "link": P.RULE_REF,
    "unless": P.Param(P.read_text, "the id of another rule", default=None),
    "unless_within": P.Param(P.read_word_count, P.WORDS_EXPECTED, default=6),
    "min_words": P.Param(P.read_word_count, P.WORDS_EXPECTED, default=3),
    "max_words": P.Param(P.read_word_count, P.WORDS_EXPECTED, default=30),
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
        # Each blocker's start, sorted per field: a link looks up the first one after it
        # (bisection), so many links and many blockers stay linear.
        starts: dict[str, list[int]] = {}
        for b in ctx.result(self.unless, own).evidence if self.unless else ():
            starts.setdefault(b.field, []).append(b.start)
        for values in starts.values():
            values.sort()
        found = []
        for e in links.evidence:
            text = ctx.record.text(e.field)
            end, words = self._clause(text, e.end)
            if len(words) < self.min_words:
                continue
            head = words[min(self.unless_within, len(words)) - 1].end() if self.unless_within else e.end
            here = starts.get(e.field)
            if here:
                i = bisect_left(here, e.end)
                if i < len(here) and here[i] < head:
                    continue
            found.append(make_evidence(e.field, text[e.start:end].rstrip(" ,"), e.start, end))
            if len(found) == _MAX_EVIDENCE:
                break
        return Match(True, tuple(found)) if found else NO

    def _clause(self, text: str, start: int) -> tuple[int, list[re.Match]]:
        """Where the clause after a link ends, and its words (at most max_words).

        The words are read first (at most max_words, within max_words * 40 characters),
        then the clause end is looked for among them only: a field of many links and no
        punctuation is read a clause's length per link, never to its end."""
        stop = min(len(text), start + self.max_words * _CHARS_PER_WORD)
        words = []
        for m in _WORD.finditer(text, start, stop):
            words.append(m)
            if len(words) == self.max_words:
                break
        limit = words[-1].end() if len(words) == self.max_words else stop
        clause_end = _CLAUSE_END.search(text, start, limit)
        if clause_end is None:
            return limit, words
        end = clause_end.start()
        return end, [m for m in words if m.end() <= end]


def build(b: BuildContext) -> ConsequenceCondition:
    p = b.params
    return ConsequenceCondition(p["link"], p["unless"], p["unless_within"], p["min_words"], p["max_words"],
                                tuple(p["fields"]))
