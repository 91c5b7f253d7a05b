"""kind = "sentence": a sentence that holds rule A's evidence and none of rule B's.

    [rule.unplaced-target]
    kind = "sentence"
    has = "target-statement"      # a sentence (or line, or table row) holding this
    with = "value-hint"           # rule's evidence, and this one's (optional),
    unless = "placed-measure"     # and no evidence of this one (optional)
    fields = ["goal", "description"]

"Involuntary churn below 0.8% of the monthly base by Q4" states a target; when no
process measure, provider team or value statement sits in the same sentence, the rules
cannot say what it measures. The category rules use this to stay silent (``unsure``)
instead of coaching an owner whose goal may well be fine. Evidence: each such
sentence, once, cut to a quotable length.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from csi_coach.rules import params as P
from csi_coach.rules.kinds.base import NO, BuildContext, Match, in_scope, make_evidence
from csi_coach.rules.window import make

# A sentence ends at . ! ? followed by a space (not "99.9" or "v2.1"), or a line break:
# a table row, list item or heading line is a sentence of its own.
_END = re.compile(r"[.!?](?=\s|$)|\n")
_MAX_EVIDENCE = 8
_MAX_CHARS = 200  # a sentence quoted longer than this is cut: evidence stays readable

PARAMS = {
    "has": P.RULE_REF,
    "with": P.Param(P.read_text, "the id of another rule", default=None),
    "unless": P.Param(P.read_text, "the id of another rule", default=None),
    "fields": P.FIELDS,
}


@dataclass(frozen=True)
class SentenceCondition:
    has: str
    with_: str | None
    unless: str | None
    fields: tuple[str, ...]
    vocabs: tuple[str, ...] = ()

    @property
    def refs(self) -> tuple[str, ...]:
        return (self.has,) + tuple(r for r in (self.with_, self.unless) if r)

    def evaluate(self, ctx, scope=None) -> Match:
        found: list = []
        for name in in_scope(self.fields, scope):
            found.extend(self._in_field(ctx, name, _MAX_EVIDENCE - len(found)))
            if len(found) >= _MAX_EVIDENCE:
                break
        return Match(True, tuple(found)) if found else NO

    def _in_field(self, ctx, name: str, room: int) -> list:
        field = frozenset((name,))
        has = ctx.result(self.has, field)
        if not has.holds:
            return []
        text = ctx.text(name)
        stops = [m.end() for m in _END.finditer(text)]
        spans: dict[int, int] = {}
        for e in has.evidence:
            # The sentences the evidence spans, from the one it starts in to the one it
            # ends in ("Goal:" and the line under it).
            i = bisect_right(stops, e.start)
            start = stops[i - 1] if i else 0
            k = bisect_left(stops, e.end, i)
            spans.setdefault(start, stops[k] if k < len(stops) else len(text))
        # The other rules are asked only about these sentences (rules.window): a value
        # statement elsewhere in a long description cannot change the answer. The
        # blockers first (the process vocabularies are mostly known already), then
        # `with` only where no blocker is.
        sentences = sorted(spans.items())
        if self.unless:
            blockers = _starts(ctx.result_in(self.unless, field, make(sentences)))
            sentences = [(lo, hi) for lo, hi in sentences if not _any_within(blockers, lo, hi)]
        if not sentences:
            return []
        if self.with_:
            needed = _starts(ctx.result_in(self.with_, field, make(sentences)))
            sentences = [(lo, hi) for lo, hi in sentences if _any_within(needed, lo, hi)]
        found = []
        for start, end in sentences:
            segment = text[start:end]
            lead = len(segment) - len(segment.lstrip())
            lo, hi = start + lead, start + len(segment.rstrip())
            hi = min(hi, lo + _MAX_CHARS)  # evidence stays quotable
            found.append(make_evidence(name, text[lo:hi], lo, hi))
            if len(found) == room:
                break
        return found


def _starts(match: Match) -> list[int]:
    """Where a rule's evidence starts, sorted."""
    return sorted(e.start for e in match.evidence)


def _any_within(starts: list[int], start: int, end: int) -> bool:
    if not starts:
        return False
    j = bisect_left(starts, start)
    return j < len(starts) and starts[j] < end


def build(b: BuildContext) -> SentenceCondition:
    p = b.params
    return SentenceCondition(p["has"], p["with"], p["unless"], tuple(p["fields"]))
