"""Words a regex cannot match without: a cheap test that skips the regex on most text.

"person-who" tries its pattern at every word of a description (over 100 us a
kilobyte) yet can only match where "who" occurs: one search for "who" (a few us)
answers most fields. ``gate(pattern)`` reads the pattern's parse tree and returns a
search for the literals at least one of which every match must contain (inside a
lookahead too), or None when no such literal exists ("\\d..."). It is only a
necessary condition: when it finds something the regex still decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable

try:  # the parser behind re.compile; private, so its absence only costs speed
    from re import _constants as _C  # type: ignore[attr-defined]  # private, not in typeshed's re
    from re import _parser as _P  # type: ignore[attr-defined]  # private, not in typeshed's re
except ImportError:  # pragma: no cover
    _P = _C = None
try:  # what re.compile asks to tell letters with case from characters matched exactly
    from _sre import unicode_iscased as _iscased
except ImportError:  # pragma: no cover
    _iscased = None

Need = frozenset | None  # {(literal, ignore_case)}: one of them must occur; None: unknown

# Each literal is one fast substring search: past this many, the test may cost more
# than the regex it would skip.
_MAX_LITERALS = 16


def gate(pattern: re.Pattern) -> Callable[[str], bool] | None:
    """A test that is False only for text the pattern cannot match, or None."""
    if _P is None or not isinstance(pattern.pattern, str):
        return None
    try:
        tree = list(_P.parse(pattern.pattern, pattern.flags))
        if _cheap_start(tree):
            return None  # the regex engine skips to its few start points already
        need = _seq(tree, bool(pattern.flags & re.IGNORECASE))
    except Exception:  # an unexpected parse tree: no gate, same answers
        return None
    if not need or len(need) > _MAX_LITERALS:
        return None
    exact = tuple(sorted(lit for lit, ic in need if not ic))
    folded = tuple(sorted(lit.lower() for lit, ic in need if ic))
    if not all(_folds_plainly(lit) for lit in folded):
        return None
    # Ignore-case literals are looked for in the lower-cased text: the same as the
    # regex's case folding except for three letters ("ſ" matches "s"); text with
    # one of them is searched with the regex's own folding instead. (With nothing
    # folded the fallback is the empty pattern, never used: test() returns first.)
    fallback = re.compile("|".join("(?i:%s)" % re.escape(lit) for lit in folded)).search

    def test(text: str) -> bool:
        for lit in exact:
            if lit in text:
                return True
        if not folded:
            return False
        if not text.isascii() and _ODD_FOLDS.search(text):
            return fallback(text) is not None
        low = text.lower()
        for lit in folded:
            if lit in low:
                return True
        return False

    return test


# Characters that match an ASCII letter ignoring case but do not lower-case to it.
_ODD_FOLDS = re.compile("[\u0130\u0131\u017f]")
_ANCHORS = () if _C is None else (_C.AT_BEGINNING, _C.AT_BEGINNING_LINE, _C.AT_BEGINNING_STRING)


def _folds_plainly(lit: str) -> bool:
    """ASCII, or characters without case ("£"), which the regex matches exactly."""
    return all(c.isascii() or (_iscased is not None and not _iscased(ord(c))) for c in lit)


def _cheap_start(items: list) -> bool:
    """Every match starts with a literal or at a line start: no gate needed."""
    if not items:
        return False
    op, av = items[0]
    if op is _C.LITERAL:
        return True
    if op is _C.AT:
        return av in _ANCHORS
    if op is _C.IN:
        return all(o is _C.LITERAL for o, _ in av)
    if op is _C.SUBPATTERN:
        return _cheap_start(list(av[3]))
    if op is _C.BRANCH:
        return all(_cheap_start(list(alt)) for alt in av[1])
    return False


def _better(a: Need, b: Need) -> Need:
    """The more selective of two requirements: longest shortest literal, then fewest."""
    if a is None:
        return b
    if b is None:
        return a
    ka = (min(len(l) for l, _ in a), -len(a))
    kb = (min(len(l) for l, _ in b), -len(b))
    return b if kb > ka else a


def _seq(items: list, ic: bool) -> Need:
    """Every item of a sequence must match: any one item's requirement holds."""
    best: Need = None
    run: list[str] = []
    for op, av in items:
        if op is _C.LITERAL:
            run.append(chr(av))
            continue
        if run:
            best = _better(best, frozenset({("".join(run), ic)}))
            run = []
        best = _better(best, _item(op, av, ic))
    if run:
        best = _better(best, frozenset({("".join(run), ic)}))
    return best


def group_ignores_case(add: int, rem: int, ic: bool) -> bool:
    """Whether a group's contents ignore case: its own flags ("(?i:...)", "(?-i:...)",
    the ``add`` and ``rem`` of a SUBPATTERN in re's parse tree) over the enclosing ``ic``."""
    if add & re.IGNORECASE:
        return True
    if rem & re.IGNORECASE:
        return False
    return ic


def _item(op, av, ic: bool) -> Need:
    if op is _C.SUBPATTERN:
        _group, add, rem, p = av
        return _seq(list(p), group_ignores_case(add, rem, ic))
    if op is _C.ATOMIC_GROUP:
        return _seq(list(av), ic)
    if op is _C.BRANCH:
        need: set = set()
        for alt in av[1]:
            got = _seq(list(alt), ic)
            if got is None:
                return None  # one way of matching needs nothing
            need |= got
        return frozenset(need)
    if op is _C.ASSERT:  # a positive lookahead or lookbehind: the text holds it too
        return _seq(list(av[1]), ic)
    if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
        lo, _hi, p = av
        return _seq(list(p), ic) if lo >= 1 else None
    if op is _C.IN:
        # A class of plain characters ("[£$€]") is one of them, each a literal.
        if all(o is _C.LITERAL for o, _ in av):
            return frozenset((chr(c), ic) for _, c in av)
        return None
    return None
