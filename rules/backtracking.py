"""Regex patterns that can take exponential time: a repeat of a repeat.

Python's re backtracks. A pattern such as ``(\\w+\\s?)+$`` can split a run of
word characters between the inner and the outer repeat in exponentially many
ways, and tries them all when the rest fails to match: one long ticket then
stalls the nightly scan. check-config warns about admin patterns of that shape.

Reported: a repeat (``+``, ``*``, ``{2,}``, ``{1,30}``) whose body can cut one
run of text into iterations in more than one way, because it holds a repeat and
nothing else it must match, or only pieces that repeat can match too:
``(a+)+``, ``(?:\\w+\\s?)*``, ``(x*y*)+``, ``(?:\\w{1,50}\\s?)+``, ``(?:\\w+\\w)+``,
a choice with such an alternative (``(a|b+)+``, ``(?:\\s?(?:\\w+|-))+``), and the
same inside atomic groups, possessive repeats, lookarounds and conditionals (they
stop backtracking into the group from outside, not inside it). Not reported: a
body with a required piece the inner repeat cannot match (``(\\d+,)*``), a body
whose pieces that meet share no character, so each turn is cut one way only
(``(?:\\s+\\w+)*``), and possessive inner repeats (``\\w++``), which never give
back what they took. It reads the pattern's parse tree; it never runs the
pattern. It can warn about a pattern that is safe in practice (``(?:\\w+\\s?)+`` with nothing after it that can
fail); a warning says "can", not "will".
"""

from __future__ import annotations

import re

try:  # the parser behind re.compile; private, so without it nothing is reported
    from re import _compiler as _K, _constants as _C, _parser as _P
except ImportError:  # pragma: no cover
    _P = _C = _K = None

# Characters tried when asking whether two one-character pieces can match the same
# character: ASCII, Latin-1 and a few spaces and dashes beyond it.
_SAMPLE = [chr(c) for c in range(0x250)] + ["\u2003", "\u2013", "\u2014", "\u2019", "\u3000"]
_ONE_CHAR = () if _C is None else (_C.LITERAL, _C.NOT_LITERAL, _C.IN, _C.ANY, _C.CATEGORY)


def nested_repeats(pattern: str, flags: int = 0) -> bool:
    """True when ``pattern`` repeats a body that can cut a run of text many ways."""
    if _P is None:
        return False
    try:
        tree = _P.parse(pattern, flags)
        return _risky(list(tree), tree.state.flags)
    except Exception:  # noqa: BLE001 - an odd or very deep tree: report nothing
        return False


def _repeats(op, av) -> bool:
    """A backtracking repeat that can take two or more turns."""
    return op in (_C.MAX_REPEAT, _C.MIN_REPEAT) and av[1] >= 2


def _children(op, av) -> list:
    if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
        return [av[2]]
    if op is _C.SUBPATTERN:
        return [av[3]]
    if op is _C.ATOMIC_GROUP:
        return [av]
    if op is _C.BRANCH:
        return list(av[1])
    if op in (_C.ASSERT, _C.ASSERT_NOT):
        return [av[1]]
    if op is _C.GROUPREF_EXISTS:
        return [av[1]] + ([av[2]] if av[2] is not None else [])
    return []


def _risky(items: list, flags: int) -> bool:
    for op, av in items:
        if _repeats(op, av) and _ambiguous(list(av[2]), flags):
            return True
        if any(_risky(list(child), flags) for child in _children(op, av)):
            return True
    return False


def _ambiguous(body: list, flags: int) -> bool:
    """The body holds a repeat (or a choice with a repeating alternative), and every
    other piece it must match is such a repeat too, or a single character that one of
    those repeats can match as well."""
    items = _open_groups(body)
    loose = [(op, av) for op, av in items if _repeats(op, av) or
             (op is _C.BRANCH and any(_ambiguous(list(alt), flags) for alt in av[1]))]
    if not loose:
        return False
    chain = _chain(items, flags)
    if chain is not None:
        return chain
    singles = [_chars(list(av[2]), flags) for op, av in loose if op is not _C.BRANCH]
    for op, av in items:
        if (op, av) in loose or _optional(op, av):
            continue
        if op in _ONE_CHAR:
            mine = _chars([(op, av)], flags)
            if mine and any(s and (mine & s) for s in singles):
                continue  # a repeat beside it can take its character: still ambiguous
        return False
    return True


def _chain(items: list, flags: int) -> bool | None:
    """For a body made only of one-character pieces and their repeats: True when a
    character can be taken by either of two pieces that may meet (neighbours, with
    only optional pieces between, also from the end of one turn to the start of the
    next), or the body can match nothing; False when no two that may meet share a
    character ("(\\s+\\w+)*": each turn is cut one way only). None for other bodies."""
    sets, optional = [], []
    for op, av in items:
        if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
            chars = _chars(list(av[2]), flags)
        elif op in _ONE_CHAR:
            chars = _chars([(op, av)], flags)
        else:
            return None
        if not chars:
            return None
        sets.append(chars)
        optional.append(_optional(op, av))
    if all(optional):
        return True
    n = len(sets)
    doubled = sets + sets  # the next turn follows the last piece
    for i in range(n):
        for j in range(i + 1, i + n + 1):
            if sets[i] & doubled[j]:
                return True
            if not optional[j % n]:
                break  # a required piece stands between i and anything later
    return False


def _open_groups(body: list) -> list:
    out = []
    for op, av in body:
        if op is _C.SUBPATTERN:
            out.extend(_open_groups(list(av[3])))
        else:
            out.append((op, av))
    return out


def _optional(op, av) -> bool:
    if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
        return av[0] == 0
    if op is _C.BRANCH:
        return any(not list(alt) for alt in av[1])
    return op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT)


def _chars(body: list, flags: int) -> frozenset | None:
    """The sample characters a one-character body matches, or None for longer bodies."""
    if len(body) != 1 or body[0][0] not in _ONE_CHAR:
        return None
    state = _P.State()
    state.flags = flags
    compiled = _K.compile(_P.SubPattern(state, list(body)), flags)
    return frozenset(c for c in _SAMPLE if compiled.match(c))
