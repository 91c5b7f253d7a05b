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
        names = in_scope(self.fields, scope)
        if not names:
            return NO
        own = frozenset(names)
        found_in = ctx.result(self.has, own)
        if not found_in.holds:
            return NO
        needed = _starts(ctx, self.with_, own) if self.with_ else None
        if needed is not None and not needed:
            return NO
        blockers = _starts(ctx, self.unless, own) if self.unless else {}
        ends: dict[str, list[int]] = {}
        found = []
        seen: set[tuple[str, int]] = set()
        for e in found_in.evidence:
            text = ctx.text(e.field)
            stops = ends.get(e.field)
            if stops is None:
                stops = ends[e.field] = [m.end() for m in _END.finditer(text)]
            # The sentences the evidence spans, from the one it starts in to the one it
            # ends in ("Goal:" and the line under it).
            i = bisect_right(stops, e.start)
            start = stops[i - 1] if i else 0
            k = bisect_left(stops, e.end, i)
            end = stops[k] if k < len(stops) else len(text)
            if (e.field, start) in seen:
                continue
            seen.add((e.field, start))
            if needed is not None and not _any_within(needed.get(e.field), start, end):
                continue
            if _any_within(blockers.get(e.field), start, end):
                continue
            segment = text[start:end]
            lead = len(segment) - len(segment.lstrip())
            start, end = start + lead, start + len(segment.rstrip())
            end = min(end, start + _MAX_CHARS)  # evidence stays quotable
            found.append(make_evidence(e.field, text[start:end], start, end))
            if len(found) == _MAX_EVIDENCE:
                break
        return Match(True, tuple(found)) if found else NO


def _starts(ctx, rule_id: str, scope: frozenset) -> dict[str, list[int]]:
    """Where a rule's evidence starts, sorted per field."""
    starts: dict[str, list[int]] = {}
    for e in ctx.result(rule_id, scope).evidence:
        starts.setdefault(e.field, []).append(e.start)
    for values in starts.values():
        values.sort()
    return starts


def _any_within(starts: list[int] | None, start: int, end: int) -> bool:
    if not starts:
        return False
    j = bisect_left(starts, start)
    return j < len(starts) and starts[j] < end


def build(b: BuildContext) -> SentenceCondition:
    p = b.params
    return SentenceCondition(p["has"], p["with"], p["unless"], tuple(p["fields"]))
