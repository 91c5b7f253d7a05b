"""kind = "near": evidence of rule A and of rule B close together in the same field.

    [rule.consumer-effect]
    kind = "near"
    a = "consumer-role"
    b = "effect-term"
    within = 8              # at most this many words apart (default 8)
    same = "clause"         # "clause": no . ; : ! ? or newline between them (default);
                            # "sentence": no . ! ? or newline; "section": no heading line
                            # between them; "field": anywhere in the field
    unless = "desk-term"    # optional: a pair does not count when this rule's evidence
                            # sits next to A's evidence (same short clause, at most
    unless_within = 3       # this many words away; default 3)
    unless_clause = "desk-term"  # optional: a pair does not count when this rule's
                            # evidence is anywhere in the same short clause as A or B
                            # ("users happy with how their call was handled")
    order = "any"           # "any", or "a-first" when A must come before B
    fields = ["goal"]       # optional: only pairs in these fields count

The structural check behind "who experiences the change": a consumer role next to
what happens to them. Evidence: the pairs found.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from csi_coach.rules import params as P
from csi_coach.rules.kinds.base import NO, BuildContext, Match, merge_evidence, narrow
from csi_coach.rules.window import around, keep, make

_BREAKS = {
    # "16:00" and "99.9" are not clause ends.
    # The lookahead (here and below) names the characters a match can start with: the
    # same matches, found without trying the alternatives at every position.
    "clause": re.compile(r"(?=[.:;!?\n\u2013\u2014Bb])(?:(?<!\d)[.:](?!\d)|[;!?\n\u2013\u2014]|\b[Bb]ut\b)"),
    "sentence": re.compile(r"(?=[.!?\n])(?:[.!?](?:\s|$)|\n)"),
    # "section": up to the next heading, a short line ending with a colon (as records are
    # read: "h3. How", "## Notes", "<b>Actions:</b>" all become such a line).
    "section": re.compile(r"\n(?=[^\n]{1,60}:[ \t]*(?:\n|$))"),
    "field": None,
}
_LOOKAHEAD = 256  # characters a break's look-ahead may read past where it starts


def _breaks(breaker: re.Pattern, text: str, lo: int, hi: int) -> bool:
    """A break lies wholly between lo and hi. Its look-ahead reads on past hi (a
    section break is known only from the heading line after it)."""
    m = breaker.search(text, lo, min(len(text), hi + _LOOKAHEAD))
    return m is not None and m.end() <= hi

# A blocker ("unless") reaches only within a short clause: commas and links end it too.
_CLAUSE = re.compile(r"(?=[.:,;!?\n\u2013\u2014()bswaBSWA])(?:(?<!\d)[.:,](?!\d)|[;!?\n\u2013\u2014()]|\b(?:but|so|because|which|while|when|and)\b)", re.IGNORECASE)


def _same(v):
    if v not in _BREAKS:
        raise ValueError
    return v


def _order(v):
    if v not in ("any", "a-first", "b-first"):
        raise ValueError
    return v


PARAMS = {
    "a": P.RULE_REF,
    "b": P.RULE_REF,
    "within": P.Param(P.read_word_count, P.WORDS_EXPECTED, default=8),
    "same": P.Param(_same, 'one of "clause", "sentence", "field"', default="clause"),
    "unless": P.Param(P.read_text, "the id of another rule", default=None),
    "unless_within": P.Param(P.read_word_count, P.WORDS_EXPECTED, default=3),
    "unless_clause": P.Param(P.read_text, "the id of another rule", default=None),
    "fields": P.Param(P.read_fields, P.FIELDS.expected, default=None),
    "order": P.Param(_order, 'one of "any", "a-first", "b-first"', default="any"),
}


@dataclass(frozen=True)
class NearCondition:
    a: str
    b: str
    within: int
    same: str
    order: str
    unless: str | None = None
    fields: frozenset[str] | None = None
    unless_within: int = 3
    unless_clause: str | None = None
    vocabs: tuple[str, ...] = ()

    @property
    def refs(self) -> tuple[str, ...]:
        return (self.a, self.b) + tuple(r for r in (self.unless, self.unless_clause) if r)

    def _spoiled(self, text, e, blockers) -> bool:
        got = blockers.get(e.field)
        if got is None:
            return False
        starts, us, longest = got
        reach = self.unless_within * 40
        # Blockers farther than ``reach`` characters are skipped below: bisect past them.
        stop = e.end + reach
        for i in range(bisect_left(starts, e.start - reach - longest), len(us)):
            u = us[i]
            if u.start > stop:
                break
            lo, hi = (u.end, e.start) if u.end <= e.start else (e.end, u.start)
            if hi < lo:
                return True  # overlapping: the same words
            if hi - lo > reach:
                continue
            if not _CLAUSE.search(text, lo, hi) and len(text[lo:hi].split()) <= self.unless_within:
                return True
        return False

    def evaluate(self, ctx, scope=None) -> Match:
        return self._evaluate(ctx, scope, False)

    def evaluate_holds(self, ctx, scope=None) -> bool:
        return self._evaluate(ctx, scope, True).holds  # the first pair found ends it

    def _evaluate(self, ctx, scope, first_only: bool) -> Match:
        sub = narrow(self.fields, scope)
        if sub is not scope and ctx.blank(sub):
            return NO  # pairs count only in those fields, and they are empty
        ma = ctx.result(self.a, sub)
        if not ma.holds:
            return NO
        if self.b in ctx.ruleset.windowed and sub is not None and len(sub) == 1:
            # b is costly to check everywhere: ask for its evidence only where a partner
            # of a's evidence can be (rules.window).
            (f,) = sub
            mb = ctx.result_in(self.b, sub, make(self._partner_spans(ctx, f, ma.evidence)))
        else:
            mb = ctx.result(self.b, sub)
        if not mb.holds:
            return NO
        return self._pairs(ctx, sub, ma.evidence, mb, first_only)

    def evaluate_window(self, ctx, scope, window) -> Match:
        """The pairs with a piece in ``window`` (see rules.window): a and b in full, but
        only a's evidence in the window or within reach of b's there is paired, with the
        same checks as a full evaluation."""
        sub = narrow(self.fields, scope)
        windowed = ctx.ruleset.windowed
        if sub != scope or self.a in windowed or self.b in windowed:
            return self.evaluate(ctx, scope)
        ma = ctx.result(self.a, sub)
        if not ma.holds:
            return NO
        mb = ctx.result(self.b, sub)
        if not mb.holds:
            return NO
        # a's evidence in the window, or within reach of b's evidence there.
        # (With an order, a lies on one side of b: only that side is bounded.)
        side = "before" if self.order == "a-first" else "after" if self.order == "b-first" else "both"
        a_ev = keep(ma.evidence, make(list(window) + self._reach_spans(ctx, keep(mb.evidence, window), side)))
        if not a_ev:
            return NO
        return self._pairs(ctx, sub, a_ev, mb)

    def _reach_spans(self, ctx, evidence, side: str = "both") -> list[tuple[int, int]]:
        """Around each piece, where a partner can be: within ``within`` words and 40
        characters a word (see _word_bounds; ``side`` bounds one side only, the other
        reaching 40 characters a word); evidence outside is never paired with it."""
        w = self.within
        reach = (w + 1) * 40 + 1
        if not w:
            return around(evidence, reach)
        spans = []
        for e in evidence:
            before, after = _bounds(ctx, e.field, e.start, e.end, w, side)
            spans.append((max(e.start - reach, before), min(e.end + reach, after)))
        return spans

    def _partner_spans(self, ctx, f, a_evidence) -> list[tuple[int, int]]:
        """Where b's evidence paired with each piece of a's can be: within reach, on
        the side the order allows, and before the first break after a (a break between
        them ends the pair, whatever lies beyond)."""
        text = ctx.text(f)
        breaker = _BREAKS[self.same]
        spans = []
        side = "after" if self.order == "a-first" else "before" if self.order == "b-first" else "both"
        for ea, (lo, hi) in zip(a_evidence, self._reach_spans(ctx, a_evidence, side)):
            if self.order == "a-first":
                lo = max(lo, ea.start)
            if self.order == "b-first":
                hi = min(hi, ea.start + 1)
            elif breaker is not None:
                # Searched up to hi only (plus the look-ahead of a section break, the
                # heading line after it): from each piece to the end of a long field
                # without a break would make a field of many pieces quadratic.
                m = breaker.search(text, ea.end, min(len(text), hi + _LOOKAHEAD))
                if m is not None and m.end() < hi:
                    hi = m.end()
            spans.append((lo, hi))
        return spans

    def _pairs(self, ctx, sub, a_evidence, mb, first_only: bool = False) -> Match:
        breaker = _BREAKS[self.same]
        # Blockers by field, sorted: each piece of evidence looks only at those near it.
        blockers = ctx.by_field(ctx.result(self.unless, sub)) if self.unless else None
        clause_blockers = ctx.by_field(ctx.result(self.unless_clause, sub)) if self.unless_clause else None
        b_by_field = ctx.by_field(mb)  # sorted by start, shared by every rule reading b
        # A cheap bound first: "within" words cannot span more than this many characters
        # (words over 40 letters aside), so far-apart evidence is never sliced and counted.
        w = self.within
        reach = (w + 1) * 40
        a_first, b_first = self.order == "a-first", self.order == "b-first"
        pairs = []
        for ea in a_evidence:
            got = b_by_field.get(ea.field)
            if got is None or (sub is not None and ea.field not in sub):
                continue
            bstarts, bs, longest = got
            text = ctx.text(ea.field)
            spoiled = None
            lo = bisect_left(bstarts, ea.start - reach - 200)
            last = ea.end + reach
            # The order rules out the b's on one side: skip them by bisection too.
            if a_first:
                lo = max(lo, bisect_left(bstarts, ea.start))
            elif b_first:
                last = min(last, ea.start)
            if w:
                # Narrow the b's to those the word count below can let through (it skips
                # a pair with > w words and >= w+1 spaces between): same pairs, fewer tries.
                before, after = _bounds(ctx, ea.field, ea.start, ea.end, w, "after" if a_first else "before" if b_first else "both")
                lo = max(lo, bisect_right(bstarts, before - longest))
                last = min(last, after - 1)
            for k in range(lo, len(bs)):
                eb = bs[k]
                if eb.start > last:
                    break
                if (a_first and ea.start > eb.start) or (b_first and eb.start > ea.start):
                    continue
                first, second = (ea, eb) if ea.start <= eb.start else (eb, ea)
                if second.start < first.end or second.start - first.end > reach:
                    continue  # overlapping (the same words), or too far apart
                if text.count(" ", first.end, second.start) >= self.within + 1:
                    if len(text[first.end : second.start].split()) > self.within:
                        continue
                if breaker is not None and _breaks(breaker, text, first.end, second.start):
                    continue
                if blockers:
                    if spoiled is None:
                        spoiled = self._spoiled(text, ea, blockers)
                    if spoiled:
                        break
                if clause_blockers and _in_clause(text, first, second, clause_blockers):
                    continue
                pairs.append((ea, eb))
                if first_only:
                    return Match(True, pairs[0])
        if not pairs:
            return NO
        return Match(True, merge_evidence(tuple(e for p in pairs for e in p)))


def _bound_patterns(w: int):
    """Regexes that find, from one position, where "more than w words and at least w+1
    spaces" is first reached: possessive, so each is one forward pass over ~w words."""
    got = _PATTERNS.get(w)
    if got is None:
        got = _PATTERNS[w] = (
            re.compile("(?:[^ ]*+ ){%d}" % (w + 1)).match,  # w+1 spaces
            re.compile(r"\S*+(?:\s++\S++){%d}\s++\S" % w).match,  # w+1 words (field text from a space)
            re.compile(r"\S*+(?:\s++\S++){%d}\s++\S" % (w - 1)).match if w else None,  # w more (from a word)
            re.compile(r"\s*+(?:\S++\s++){%d}(?=\S)" % w).match,  # w+1 words back (on the reversed text)
        )
    return got


_PATTERNS: dict[int, tuple] = {}


def _bounds(ctx, f: str, start: int, end: int, w: int, side: str = "both") -> tuple[float, float]:
    """_word_bounds of one piece of evidence, found once per record (windows and pairs ask)."""
    key = (f, start, end, w, side)
    got = ctx.pieces.get(key)
    if got is None:
        got = ctx.pieces[key] = _word_bounds(ctx.text(f), ctx.reversed_text(f), start, end, w, side)
    return got


def _word_bounds(text: str, rev: str, start: int, end: int, w: int, side: str = "both") -> tuple[float, float]:
    """(Y, X): a b that ends at or before Y, or starts at or after X, is more than ``w``
    words and at least w+1 spaces away from the evidence [start, end). Both counts only
    grow with the distance, so these are the first positions where both hold. Found by
    short regex matches around the evidence (``rev`` is the field reversed, for looking
    back), not from a layout of the whole field. ``side`` "after" or "before" finds only
    that one (the other is left unbounded): an order rules the other side out."""
    spaces, words_sp, words_w, back = _bound_patterns(w)
    n = len(text)
    inf = float("inf")
    # Callers cap a bound at (w + 1) * 40 characters from the evidence, so the matches
    # stop a little past that: a bound farther away is reported as none (inf), which
    # the cap turns into the same answer. Without the limit, each piece of evidence in
    # a long field with few spaces would read to the field's end.
    limit = (w + 1) * 40 + 2
    # After: the text from ``end`` to x.
    m = spaces(text, end, end + limit) if side != "before" else None
    if m is None:
        x = inf
    else:
        x = m.end()
        m = (words_w if end < n and not text[end].isspace() else words_sp)(text, end, end + limit)
        x = inf if m is None else max(x, m.end())
    # Before: the text from y to ``start``, read backwards.
    back_from = n - start
    m = spaces(rev, back_from, back_from + limit) if side != "after" else None
    if m is None:
        y = -inf
    else:
        y = n - m.end()
        m = back(rev, back_from, back_from + limit)
        y = -inf if m is None else min(y, n - 1 - m.end())
    return y, x


def _in_clause(text, first, second, blockers) -> bool:
    """A blocker in the same short clause as the pair (at most ~20 words away)."""
    got = blockers.get(first.field)
    if got is None:
        return False
    starts, us, longest = got
    # Blockers more than 160 characters from the pair are skipped below: bisect past them.
    stop = second.end + 160
    for i in range(bisect_left(starts, first.start - 160 - longest), len(us)):
        u = us[i]
        if u.start > stop:
            break
        lo, hi = (u.end, first.start) if u.end <= first.start else (second.end, u.start) if u.start >= second.end else (0, 0)
        if hi <= lo:
            return True  # inside or overlapping the pair
        if hi - lo > 160:
            continue
        if not _CLAUSE.search(text, lo, hi):
            return True
    return False


def _start(e) -> int:
    return e.start


def build(b: BuildContext) -> NearCondition:
    p = b.params
    f = p["fields"]
    return NearCondition(p["a"], p["b"], p["within"], p["same"], p["order"], p["unless"], frozenset(f) if f else None,
                         p["unless_within"], p["unless_clause"])
