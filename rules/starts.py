"""A lookahead naming the characters a match can start with, so most positions fail at once.

Python's regex engine skips ahead quickly only when a pattern opens with a literal or a
plain character class. A shipped pattern that opens with "\\b" and an alternation of
twenty phrases ("stated-target") is tried phrase by phrase at every position of a field:
189 us a kilobyte. ``guarded(rx)`` reads the pattern's parse tree for the characters a
match can start with and, when they are fewer than all, puts them in a lookahead in
front: ``(?=[0-9abcdfgkmnopstu])(?:...)``. A position whose character is not among them
fails in one test (the same pattern: 86 us). The lookahead only removes positions where
no match can start, so the matches are the same; a pattern that may match the empty
string, or whose start the tree does not tell, is returned as it is.
"""

from __future__ import annotations

import re

from csi_coach.rules.literals import group_ignores_case

try:  # the parser behind re.compile; private, so its absence only costs speed
    from re import _constants as _C  # type: ignore[attr-defined]  # private, not in typeshed's re
    from re import _parser as _P  # type: ignore[attr-defined]  # private, not in typeshed's re
except ImportError:  # pragma: no cover
    _P = _C = None

# Past this many of the 95 printable ASCII characters the lookahead fails too seldom
# to pay for the test it adds at every position.
_MAX_START_CHARS = 48

_LEADING_FLAGS = re.compile(r"\A\(\?[aiLmsux]+\)")


class _Unknown(Exception):
    """The tree holds something whose first character is not worked out here."""


def guarded(rx: re.Pattern) -> re.Pattern:
    """``rx`` with a lookahead of its possible first characters in front, or ``rx``."""
    if _P is None or not isinstance(rx.pattern, str):
        return rx
    try:
        items = list(_P.parse(rx.pattern, rx.flags))
        if _cheap_start(items):
            return rx  # the engine skips to the start points itself
        chars, nullable = _first(items, bool(rx.flags & re.IGNORECASE))
    except (_Unknown, RecursionError, re.error):
        return rx
    if nullable:
        return rx
    ascii_chars = {c for c in chars if isinstance(c, str)}
    if len([c for c in ascii_chars if c.isprintable()]) > _MAX_START_CHARS:
        return rx
    cls = "".join(re.escape(c) for c in sorted(ascii_chars))
    if _NON_ASCII in chars:
        cls += "\x80-\U0010ffff"
    if not cls:
        return rx
    body = _LEADING_FLAGS.sub("", rx.pattern, count=1)
    try:
        out = re.compile(f"(?=[{cls}])(?:{body})", rx.flags)
    except re.error:  # pragma: no cover - the body compiled alone
        return rx
    return out if out.groups == rx.groups and out.groupindex == rx.groupindex else rx


_NON_ASCII = object()  # any character past ASCII may start a match


def _cheap_start(items: list) -> bool:
    """The pattern opens the way the engine already skips on: a literal, or a class
    of literals and ranges without case folding."""
    if not items:
        return False
    op, av = items[0]
    if op is _C.SUBPATTERN:
        return _cheap_start(list(av[3]))
    if op is _C.LITERAL:
        return True
    if op is _C.IN:
        return all(o in (_C.LITERAL, _C.RANGE) for o, _ in av)
    if op is _C.BRANCH:
        return all(alt and alt[0][0] is _C.LITERAL for alt in av[1])
    return False


def _first(items: list, ic: bool) -> tuple[set, bool]:
    """The characters a sequence's match can start with, and whether it can be empty."""
    out: set = set()
    for op, av in items:
        chars, nullable = _first_of(op, av, ic)
        out |= chars
        if not nullable:
            return out, False
    return out, True


def _first_of(op, av, ic: bool) -> tuple[set, bool]:
    if op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT):
        return set(), True  # zero width: it only narrows where a match starts
    if op is _C.LITERAL:
        return _with_case({chr(av)}, ic), False
    if op is _C.IN:
        return _class(av, ic), False
    if op is _C.SUBPATTERN:
        _group, add, rem, p = av
        return _first(list(p), group_ignores_case(add, rem, ic))
    if op is _C.ATOMIC_GROUP:
        return _first(list(av), ic)
    if op is _C.BRANCH:
        out: set = set()
        nullable = False
        for alt in av[1]:
            chars, empty = _first(list(alt), ic)
            out |= chars
            nullable = nullable or empty
        return out, nullable
    if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
        lo, _hi, p = av
        chars, empty = _first(list(p), ic)
        return chars, empty or lo == 0
    raise _Unknown(op)  # ANY, NOT_LITERAL, back-references...: not worked out


_CATEGORIES = {
    "CATEGORY_DIGIT": "0123456789",
    "CATEGORY_WORD": "0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "CATEGORY_SPACE": " \t\n\r\f\v\x1c\x1d\x1e\x1f",
}


def _class(items: list, ic: bool) -> set:
    out: set = set()
    for op, av in items:
        if op is _C.NEGATE:
            raise _Unknown(op)
        if op is _C.LITERAL:
            out |= _with_case({chr(av)}, ic)
        elif op is _C.RANGE:
            lo, hi = av
            out |= _with_case({chr(c) for c in range(lo, min(hi, 127) + 1)}, ic)
            if hi > 127:
                out |= _with_case({_NON_ASCII}, ic)
        elif op is _C.CATEGORY:
            name = str(av).replace("UNI_", "")
            if name not in _CATEGORIES:
                raise _Unknown(av)  # \D, \W, \S: nearly everything
            # Digits, letters and spaces past ASCII too, unless re.ASCII (a superset is safe).
            out |= set(_CATEGORIES[name]) | {_NON_ASCII}
        else:
            raise _Unknown(op)
    return out


_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _with_case(chars: set, ic: bool) -> set:
    """``chars`` (one-character strings, or _NON_ASCII for any past ASCII) as the
    characters they match, ignoring case when ``ic``."""
    if not ic:
        return {c if c is _NON_ASCII or c.isascii() else _NON_ASCII for c in chars}
    out: set = set()
    for c in chars:
        if c is _NON_ASCII or not c.isascii():
            # Ignoring case, a character past ASCII may match an ASCII letter (Kelvin's
            # "K" matches "k" and "K", "ſ" matches "s"): every letter, to be safe.
            out |= _ASCII_LETTERS
            out.add(_NON_ASCII)
            continue
        out.update((c, c.lower(), c.upper()))
        if c.isalpha():
            out.add(_NON_ASCII)  # "ſ", "K" (Kelvin), dotted and dotless "i" fold to ASCII letters
    return out
