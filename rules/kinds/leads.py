"""kind = "leads": rule A's evidence opens a clause (is its subject, roughly).

    [rule.consumer-subject]
    kind = "leads"
    rule = "consumer-role"
    within = 2              # at most this many words before it in the clause (default 2)
    same = "clause"         # "clause" (default) or "sentence"
    unless = "process-term" # optional: not when this rule's evidence follows within
    unless_within = 3       #   this many words in the same clause (default 3)
    barriers = ["of", "to"] # words that may not come before it (default: prepositions)

"Families check homework themselves", "so passengers aren't sent to the wrong
platform": a consumer as the subject of a goal says who experiences the change. A
consumer followed by a process noun ("passenger Wi-Fi tickets") is only a label.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

from csi_coach.rules import params as P
from csi_coach.rules.kinds.base import NO, BuildContext, Match, narrow
from csi_coach.rules.window import keep

# What opens a clause: punctuation, list bullets, and the words that start a subordinate
# clause ("... before kids travel to the wrong ground": the kids are its subject).
# Each clause pattern starts with a lookahead for the characters a match can start with:
# the same matches, but the regex engine skips every other position at once (half the time).
_OPENERS = {
    "clause": re.compile(r"(?=[.:,;!?\n\u2013\u2014(*#sbtawuioSBTAWUIO])(?:(?<!\d)[.:,](?!\d)|(?<=\d):(?=[ \t])|[;!?\n\u2013\u2014(*#]|\b(?:so|that|because|and|when|where|while|which|then|whereas|before|after|until|unless|if|once|whenever)\b)", re.IGNORECASE),
    "sentence": re.compile(r"(?=[.!?\n])(?:[.!?](?:\s|$)|\n)"),
}
_SHORT = re.compile(r"(?=[.:,;!?\n\u2013\u2014()bswaBSWA])(?:(?<!\d)[.:,](?!\d)|[;!?\n\u2013\u2014()]|\b(?:but|so|because|which|while|when|and)\b)", re.IGNORECASE)
# A word after a preposition is its object, not the subject of the clause.
DEFAULT_BARRIERS = (
    "of", "to", "for", "with", "from", "between", "by", "at", "on", "in", "into", "about",
    "via", "per", "against", "among", "across", "through", "than", "towards", "within",
)


_LOOK_BACK = 80


def _same(v):
    if v not in _OPENERS:
        raise ValueError
    return v


PARAMS = {
    "rule": P.RULE_REF,
    "within": P.Param(P.read_word_count, P.WORDS_EXPECTED, default=2),
    "same": P.Param(_same, 'one of "clause", "sentence"', default="clause"),
    "unless": P.Param(P.read_text, "the id of another rule", default=None),
    "unless_within": P.Param(P.read_word_count, P.WORDS_EXPECTED, default=3),
    "fields": P.Param(P.read_fields, P.FIELDS.expected, default=None),
    "barriers": P.Param(P.read_strings, "a list of words", default=DEFAULT_BARRIERS),
}


@dataclass(frozen=True)
class LeadsCondition:
    rule: str
    within: int
    same: str
    unless: str | None
    unless_within: int
    fields: frozenset[str] | None
    barriers: frozenset[str] = frozenset(DEFAULT_BARRIERS)
    vocabs: tuple[str, ...] = ()

    @property
    def refs(self) -> tuple[str, ...]:
        return (self.rule,) + ((self.unless,) if self.unless else ())

    def evaluate(self, ctx, scope=None) -> Match:
        sub = narrow(self.fields, scope)
        if sub is not scope and ctx.blank(sub):
            return NO  # only evidence in those fields counts, and they are empty
        m = ctx.result(self.rule, sub)
        if not m.holds:
            return NO
        return self._leading(ctx, sub, m.evidence)

    def evaluate_holds(self, ctx, scope=None) -> bool:
        sub = narrow(self.fields, scope)
        if sub is not scope and ctx.blank(sub):
            return False
        m = ctx.result(self.rule, sub)
        return m.holds and self._leading(ctx, sub, m.evidence, True).holds  # the first piece ends it

    def evaluate_window(self, ctx, scope, window) -> Match:
        """The rule's evidence in ``window`` that leads its clause (see rules.window)."""
        sub = narrow(self.fields, scope)
        if sub != scope:
            return self.evaluate(ctx, scope)
        m = ctx.result_in(self.rule, sub, window)
        if not m.holds:
            return NO
        ev = keep(m.evidence, window)
        return self._leading(ctx, sub, ev) if ev else NO

    def _leading(self, ctx, sub, evidence, first_only: bool = False) -> Match:
        # Blockers by field, sorted: each piece of evidence looks only at those after it.
        blockers = ctx.by_field(ctx.result(self.unless, sub)) if self.unless else None
        opener = _OPENERS[self.same]
        found = []
        for e in evidence:
            if sub is not None and e.field not in sub:
                continue
            text = ctx.text(e.field)
            # Words between the last clause opener and the evidence.
            # A subject has at most a few words before it, so a short look back is enough.
            head = text[max(0, e.start - _LOOK_BACK) : e.start]
            cut = None
            for cut in opener.finditer(head):  # noqa: B007  (keeps the last match)
                pass
            lead = head[cut.end() :] if cut else (head if e.start <= _LOOK_BACK else None)
            if lead is None:
                continue
            words = lead.lower().split()
            if len(words) > self.within or any(w.strip("\"'()") in self.barriers for w in words):
                continue
            if blockers and self._blocked(text, e, blockers):
                continue
            found.append(e)
            if first_only:
                break
        return Match(True, tuple(found)) if found else NO

    def _blocked(self, text, e, blockers) -> bool:
        """A blocker overlaps ``e`` or follows it closely in the same short clause."""
        got = blockers.get(e.field)
        if got is None:
            return False
        starts, us, longest = got
        for i in range(bisect_left(starts, e.start - longest), len(us)):
            u = us[i]
            if u.end <= e.start:
                continue
            if u.start < e.end:
                return True
            if more_words(self.unless_within)(text, e.end, u.start) is not None:
                # Later blockers start later still: their gaps hold at least as many words.
                # (Counted only as far as that many words: a blocker far away in a long
                # field is not read up to for each piece of evidence.)
                return False
            gap = text[e.end : u.start]
            if not _SHORT.search(gap):
                return True
        return False


def more_words(n: int):
    """A match from ``pos`` to ``endpos`` when the text between holds more than ``n``
    words (as str.split counts them: regex \\s is str.isspace); possessive, so it reads
    no further than that. (Word counts in rules are at most 1000: params.WORDS.)"""
    got = _MORE_WORDS.get(n)
    if got is None:
        got = _MORE_WORDS[n] = re.compile(r"\s*+(?:\S++\s*+){%d}" % (n + 1)).match
    return got


_MORE_WORDS: dict[int, object] = {}


def build(b: BuildContext) -> LeadsCondition:
    p = b.params
    f = p["fields"]
    return LeadsCondition(p["rule"], p["within"], p["same"], p["unless"], p["unless_within"], frozenset(f) if f else None,
                          frozenset(w.lower() for w in p["barriers"]))
