"""Whether a negation cue governs a regex match: "not about ... $40k".

The rule: the last cue that starts before the match governs it when at most
``window`` words (as str.split counts them) and no clause end lie between the
cue's end and the match. Asked for every match of a regex rule with
``negation = true``, so each cue's reach is found once: where its window of
words runs out and where the first clause end after it lies. A match is then
answered in constant time, however long the field and however many matches
follow one cue (reading the gap for each match made a field of figures after a
single cue quadratic).

The clause end is looked for as in the gap text on its own (its ends are the
text's ends for the pattern's lookarounds): a match found in the field that
ends before the match position is one in the gap too, and one that ends just at
it is checked on the last few characters, cut there.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence

from csi_coach.rules.scanner import _CLAUSE_END, Token

_INF = float("inf")
_DIGIT = re.compile(r"\d")
# Longest clause end ("because"), plus one character for a lookbehind.
_TAIL = 8
_LIMITS: dict[int, object] = {}


def _word_limit(window: int):
    """Matches from a position to one character into word ``window + 1`` after it."""
    got = _LIMITS.get(window)
    if got is None:
        got = _LIMITS[window] = re.compile(r"\s*+(?:\S++\s++){%d}\S" % window).match
    return got


class FieldCues:
    """One field's negation cues, and each one's reach, found when first asked."""

    __slots__ = ("text", "window", "starts", "cues", "_reach", "_breaks")

    def __init__(self, text: str, tokens: Sequence[Token], cue_vocab: str, window: int) -> None:
        self.text = text
        self.window = window
        self.cues = [t for t in tokens if cue_vocab in t.vocabs]
        self.starts = [t.start for t in self.cues]
        self._reach: dict[int, tuple[float, float]] = {}
        self._breaks: tuple[list[int], list[int]] | None = None

    def _first_clause_end(self, pos: int) -> float:
        """The end of the first clause end in the field that starts at or after
        ``pos``. The field's clause ends are found in one pass, then bisected: a search
        from each cue would read to the field's end for every cue when the field has
        none. (The pass and a search from ``pos`` find the same ones: a clause end
        never starts before a cue's end and ends after it, as a cue ends a word.)"""
        if self._breaks is None:
            found = list(_CLAUSE_END.finditer(self.text))
            self._breaks = ([m.start() for m in found], [m.end() for m in found])
        starts, ends = self._breaks
        i = bisect_left(starts, pos)
        return ends[i] if i < len(ends) else _INF

    def negates(self, pos: int) -> bool:
        i = bisect_left(self.starts, pos)
        if not i:
            return False
        end = self.cues[i - 1].end
        if pos <= end:
            return True  # the match starts inside the cue: nothing between them
        text = self.text
        if _DIGIT.match(text, end - 1):
            # A cue ending in a digit: the field's own search would see that digit
            # behind the gap, where the gap on its own has nothing. Read the gap.
            gap = text[end:pos]
            return len(gap.split()) <= self.window and not _CLAUSE_END.search(gap)
        reach = self._reach.get(end)
        if reach is None:
            m = _word_limit(self.window)(text, end)
            words_end = m.end() if m else _INF
            reach = self._reach[end] = (words_end, self._first_clause_end(end))
        words_end, clause_end = reach
        if pos >= words_end or clause_end < pos:
            return False
        # A clause end that ends just at the match, seen as the gap sees it.
        return _CLAUSE_END.search(text, max(end, pos - _TAIL), pos) is None
