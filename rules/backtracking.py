"""Regex patterns that can take exponential time: a repeat of a repeat.

Python's re backtracks. A pattern such as ``(\\w+\\s?)+$`` can split a run of
word characters between the inner and the outer repeat in exponentially many
ways, and tries them all when the rest fails to match: one long ticket then
stalls the nightly scan. check-config warns about admin patterns of that shape.

The test is deliberately narrow, so it rarely warns about a safe pattern: an
unbounded repeat whose body holds another unbounded repeat and nothing else the
body must match (``(a+)+``, ``(?:\\w+\\s?)*``, ``(x*y*)+``), or whose body is a
choice with one such alternative (``(a|b+)+``). A body with a required piece
beside the inner repeat (``(\\d+,)*``) is not reported, nor are possessive
repeats (``a++``) and atomic groups (``(?>a+)``), which never give back what they
took. It reads the pattern's parse tree; it never runs the pattern.
"""

from __future__ import annotations

import re

try:  # the parser behind re.compile; private, so without it nothing is reported
    from re import _constants as _C, _parser as _P
except ImportError:  # pragma: no cover
    _P = _C = None


def nested_repeats(pattern: str, flags: int = 0) -> bool:
    """True when ``pattern`` repeats, without bound, a body that is a repeat alone."""
    if _P is None:
        return False
    try:
        tree = _P.parse(pattern, flags)
    except (re.error, Exception):  # noqa: BLE001 - an odd tree: report nothing
        return False
    return _has_nested(list(tree))


def _unbounded(op, av) -> bool:
    return op in (_C.MAX_REPEAT, _C.MIN_REPEAT) and av[1] == _C.MAXREPEAT


def _has_nested(items: list) -> bool:
    for op, av in items:
        if _unbounded(op, av):
            body = list(av[2])
            if _only_a_repeat(body):
                return True
            if _has_nested(body):
                return True
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT):
            if _has_nested(list(av[2])):
                return True
        elif op is _C.SUBPATTERN:
            if _has_nested(list(av[3])):
                return True
        elif op is _C.BRANCH:
            if any(_has_nested(list(alt)) for alt in av[1]):
                return True
        elif op in (_C.ASSERT, _C.ASSERT_NOT):
            if _has_nested(list(av[1])):
                return True
        # POSSESSIVE_REPEAT and ATOMIC_GROUP never backtrack into their body.
    return False


def _only_a_repeat(body: list) -> bool:
    """The body holds an unbounded (backtracking) repeat, and all else in it may match
    nothing: the outer repeat can then cut one run of text in many ways."""
    items = _flatten(body)
    if items is None:
        # A body that is one choice ("(a|b+)+"): one alternative alone is enough.
        alts = _single_branch(body)
        return alts is not None and any(_only_a_repeat(list(alt)) for alt in alts)
    has_inner = any(_unbounded(op, av) for op, av in items)
    required = [(op, av) for op, av in items if not _optional(op, av)]
    return has_inner and all(_unbounded(op, av) for op, av in required)


def _flatten(body: list) -> list | None:
    """The body's items with plain groups opened; None when it branches (a branch is
    judged as a whole: not reported)."""
    out = []
    for op, av in body:
        if op is _C.SUBPATTERN:
            inner = _flatten(list(av[3]))
            if inner is None:
                return None
            out.extend(inner)
        elif op is _C.BRANCH:
            return None
        else:
            out.append((op, av))
    return out


def _single_branch(body: list):
    """The alternatives when the body is one branch (inside plain groups), else None."""
    while len(body) == 1 and body[0][0] is _C.SUBPATTERN:
        body = list(body[0][1][3])
    if len(body) == 1 and body[0][0] is _C.BRANCH:
        return body[0][1][1]
    return None


def _optional(op, av) -> bool:
    if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
        return av[0] == 0
    return op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT)
