"""Windows: the stretches of one field a caller needs evidence from.

"value-in-description" pairs a goal-intent word with value statements later in the
same sentence; value statements elsewhere in a long description cannot change its
answer, yet checking each consumer word there (is it next to an effect, does it
open its clause) was a large part of the cost of a record without a goal field. So
"near" asks such a rule for its evidence in a window: the spans where a partner of
its own evidence can be.

The contract of a windowed answer: it holds every piece of the rule's full evidence
that overlaps the window (end > lo and start < hi), and nothing that is not in the
full evidence. Whether it "holds" says only whether that evidence is there, so only
kinds that use their sub-rules' evidence (not their bare yes/no) narrow: any, near,
leads. They read their sub-rules in full (shared and found once per record) and
check only the pieces the window needs; a rule of any other kind answers in full,
which meets the contract too.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

Window = tuple  # ((lo, hi), ...): sorted, disjoint, not touching


def make(spans: Iterable[tuple[int, int]]) -> Window:
    """Spans merged into a window (empty spans dropped)."""
    out: list[list[int]] = []
    for lo, hi in sorted(s for s in spans if s[1] > s[0]):
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1][1] = hi
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def around(evidence, margin: int) -> list[tuple[int, int]]:
    """Spans reaching ``margin`` characters either side of each piece of evidence."""
    return [(e.start - margin, e.end + margin) for e in evidence]


def keep(evidence: tuple, window: Window) -> tuple:
    """The evidence that overlaps the window, in its order."""
    if not window:
        return ()
    his = [hi for _, hi in window]
    n = len(window)
    out = []
    for e in evidence:
        i = bisect_right(his, e.start)  # the first span that ends after e starts
        if i < n and window[i][0] < e.end:
            out.append(e)
    return tuple(out) if len(out) != len(evidence) else evidence
