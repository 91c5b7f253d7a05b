"""A case-insensitive regex run as a case-sensitive one over lower-cased text.

Python's regex engine is two to three times slower ignoring case ("person-who":
115 -> 48 us a kilobyte; "measure-term" 13 -> 6 us to its first match). When every
letter the pattern names in its ignore-case parts is lower case ASCII, the same
pattern without the flag, run over ``text.lower()``, finds the same spans: lower-
casing keeps each character's length and its class (word, digit, space) except for
four characters that ignore-case matching folds otherwise ("\u0130", "\u0131", "\u017f",
Kelvin's K); text holding one of those is matched the ordinary way. The twin is
only used when parsing its source gives the same tree as the original with the
case flags taken out, so a pattern it cannot rewrite exactly keeps its one regex.
"""

from __future__ import annotations

import re
from typing import Any

try:  # the parser behind re.compile; private, so its absence only costs speed
    from re import _constants as _C  # type: ignore[attr-defined]  # private, not in typeshed's re
    from re import _parser as _P  # type: ignore[attr-defined]  # private, not in typeshed's re
except ImportError:  # pragma: no cover
    _P = _C = None

# Characters that ignore-case matching folds to an ASCII letter otherwise than
# str.lower() does (or, with re.ASCII, does not fold at all).
_ODD = re.compile("[\u0130\u0131\u017f\u212a]")


def lowered_twin(rx: re.Pattern) -> re.Pattern | None:
    """The case-sensitive twin of a case-insensitive pattern, or None."""
    if _P is None or not isinstance(rx.pattern, str):
        return None
    ic = bool(rx.flags & re.IGNORECASE)
    if not ic and "(?i" not in rx.pattern:
        return None
    try:
        tree = _P.parse(rx.pattern, rx.flags)
        if not _lower_only(list(tree), ic):
            return None
        source = rx.pattern.replace("(?i:", "(?:")
        twin = re.compile(source, rx.flags & ~re.IGNORECASE)
        if twin.flags & re.IGNORECASE or twin.groups != rx.groups:
            return None
        if _shape(list(_P.parse(source, twin.flags))) != _shape(list(tree)):
            return None
    except Exception:  # anything unexpected: no twin, same answers
        return None
    return twin


def plain(text: str) -> bool:
    """True when the twin may be run over ``text.lower()``."""
    return text.isascii() or _ODD.search(text) is None


def _cased(c: int) -> bool:
    ch = chr(c)
    return ch.lower() != ch or ch.upper() != ch


def _lower_only(items: list, ic: bool) -> bool:
    """Every letter named where case is ignored is lower case ASCII; no back-references."""
    for op, av in items:
        if op in (_C.LITERAL, _C.NOT_LITERAL):
            if ic and _cased(av) and (av >= 128 or chr(av) != chr(av).lower()):
                return False
        elif op is _C.IN:
            for o, a in av:
                if o in (_C.LITERAL, _C.NOT_LITERAL):
                    if ic and _cased(a) and (a >= 128 or chr(a) != chr(a).lower()):
                        return False
                elif o is _C.RANGE:
                    lo, hi = a
                    if ic and (hi >= 128 or any(chr(x) != chr(x).lower() for x in range(lo, hi + 1))):
                        return False
                elif o not in (_C.CATEGORY, _C.NEGATE):
                    return False
        elif op is _C.SUBPATTERN:
            _g, add, rem, p = av
            sub_ic = (ic or bool(add & re.IGNORECASE)) and not rem & re.IGNORECASE
            if not _lower_only(list(p), sub_ic):
                return False
        elif op is _C.BRANCH:
            if not all(_lower_only(list(alt), ic) for alt in av[1]):
                return False
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
            if not _lower_only(list(av[2]), ic):
                return False
        elif op in (_C.ASSERT, _C.ASSERT_NOT):
            if not _lower_only(list(av[1]), ic):
                return False
        elif op is _C.ATOMIC_GROUP:
            if not _lower_only(list(av), ic):
                return False
        elif op not in (_C.AT, _C.ANY, _C.CATEGORY):
            return False  # back-references and anything else: not rewritten
    return True


def _shape(items: list) -> tuple:
    """The parse tree without case flags, groups without a number spliced in."""
    out: list[Any] = []
    for op, av in items:
        if op is _C.SUBPATTERN:
            group, add, rem, p = av
            add &= ~re.IGNORECASE
            rem &= ~re.IGNORECASE
            if group is None and not add and not rem:
                out.extend(_shape(list(p)))
                continue
            out.append((op, (group, add, rem, _shape(list(p)))))
        elif op is _C.BRANCH:
            out.append((op, tuple(_shape(list(alt)) for alt in av[1])))
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
            out.append((op, (av[0], av[1], _shape(list(av[2])))))
        elif op in (_C.ASSERT, _C.ASSERT_NOT):
            out.append((op, (av[0], _shape(list(av[1])))))
        elif op is _C.ATOMIC_GROUP:
            out.append((op, _shape(list(av))))
        elif op is _C.IN:
            out.append((op, tuple(av)))
        else:
            out.append((op, av))
    return tuple(out)
