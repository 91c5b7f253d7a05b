"""Regex patterns that can take exponential time: a repeat of a repeat.

Python's re backtracks. A pattern such as ``(\\w+\\s?)+$`` can split a run of
word characters between the inner and the outer repeat in exponentially many
ways, and tries them all when the rest fails to match: one long ticket then
stalls the nightly scan. The shipped patterns run on Python's re, and a test keeps
every one of them clear of these shapes. An admin's pattern runs on RE2, where the
shape costs nothing more (rules.patterns): check-config names it as a hint only.

Reported: a repeat (``+``, ``*``, ``{2,}``, ``{1,30}``) whose body can cut one
run of text into turns in more than one way: it holds a repeat and nothing else
it must match, or only pieces that repeat can match too (``(a+)+``,
``(?:\\w+\\s?)*``, ``(x*y*)+``, ``(?:\\w{1,50}\\s?)+``, ``(?:\\w+\\w)+``); it is made of
one-character pieces of which two that may meet share a character and one varies
in length (``(?:\\d\\d?)+``, ``(a+a+)+``); it is a choice with such an alternative, with
alternatives that share a character (``(a|b+)+``, ``(.|\\s)*``) or with the same
alternative twice (``(a|a)+``); it matches only a few fixed strings (alternatives
and optional pieces of one-character pieces, no open repeat) and one run of text
can be spelt as turns of them in two ways (``(a|aa)+``, ``(?:ab|a|b)+``: the
Sardinas-Patterson test for a code that decodes one way only). The same is found inside atomic groups, possessive
repeats, lookarounds and conditionals (they stop backtracking into the group from
outside, not inside it). Not reported: a body with a required piece the inner
repeat cannot match (``(\\d+,)*``), a body each turn of which is cut one way only
(``(?:\\s+\\w+)*``, ``(?:\\d*,)+``), and possessive inner repeats (``\\w++``), which
never give back what they took.

It reads the pattern's parse tree; it never runs the pattern. It is a warning,
not a proof: it can warn about a pattern that is safe in practice (a nested
repeat with nothing after it that can fail), and it does not follow flags set on
a group only (``(?i:...)``) or longer pieces that overlap.
"""

from __future__ import annotations

try:  # the parser behind re.compile; private, so without it nothing is reported
    from re import _compiler as _K  # type: ignore[attr-defined]  # private, not in typeshed's re
    from re import _constants as _C  # type: ignore[attr-defined]  # private, not in typeshed's re
    from re import _parser as _P  # type: ignore[attr-defined]  # private, not in typeshed's re
except ImportError:  # pragma: no cover
    _P = _C = _K = None

# Characters tried when asking whether two one-character pieces can match the same
# character: ASCII, Latin-1 and a few spaces and dashes beyond it.
_SAMPLE = ([chr(c) for c in range(0x250)] + ["\u2003", "\u2013", "\u2014", "\u2019", "\u205f", "\u3000"]
           + [chr(c) for c in range(0x250, 0xD800, 7)])
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
    """Whether one run of text can be cut into turns of this body in more than one way."""
    items = _open_groups(body)
    words = _words(items, flags)
    if words is not None and _decodes_two_ways(words):
        return True  # "(a|aa)+": "aa" is one turn or two
    chain = _chain(items, flags)
    if chain is not None:
        return chain
    if len(items) == 1 and items[0][0] is _C.BRANCH and _overlapping_choice(items[0][1][1], flags):
        return True  # "(.|\\s)*": one character, taken by either alternative
    if any(op is _C.BRANCH and _same_twice(av[1]) for op, av in items):
        return True  # "(a|a)+" (parsed as "a(?:|)"): two ways to match the same
    loose = [(op, av) for op, av in items if _repeats(op, av) or
             (op is _C.BRANCH and any(_ambiguous(list(alt), flags) for alt in av[1]))]
    if not loose:
        return False
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


# Past these, a body's strings are not spelt out: the other tests still apply.
_MAX_WORDS = 64
_MAX_WORD_LENGTH = 24


def _words(items: list, flags: int) -> list[tuple[_CharSet, ...]] | None:
    """Every string of one-character pieces the sequence ``items`` can match, or None
    when it has an open repeat, an anchor or assertion, or too many strings."""
    words: list[tuple[_CharSet, ...]] = [()]
    choices: list[tuple[_CharSet, ...]]
    for op, av in items:
        if op in _ONE_CHAR:
            chars = _chars([(op, av)], flags)
            if not chars:
                return None
            choices = [(chars,)]
        elif op is _C.SUBPATTERN:
            got = _words(list(av[3]), flags)
            if got is None:
                return None
            choices = got
        elif op is _C.BRANCH:
            choices = []
            for alt in av[1]:
                got = _words(list(alt), flags)
                if got is None:
                    return None
                choices.extend(got)
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT) and av[1] <= 4:
            body = _words(list(av[2]), flags)
            if body is None:
                return None
            choices = [()] if av[0] == 0 else []
            turn: list[tuple[_CharSet, ...]] = [()]
            for n in range(1, av[1] + 1):
                turn = [a + b for a in turn for b in body]
                if len(turn) > _MAX_WORDS:
                    return None
                if n >= av[0]:
                    choices.extend(turn)
        else:
            return None
        words = [a + b for a in words for b in choices]
        if len(words) > _MAX_WORDS or any(len(w) > _MAX_WORD_LENGTH for w in words):
            return None
    return words


def _decodes_two_ways(words: list[tuple[_CharSet, ...]]) -> bool:
    """Whether some text is a run of these strings in two ways (Sardinas-Patterson, with
    "may match the same character" for equality; an empty string counts as two ways).

    The dangling suffixes are kept as (string, offset): what is left of a string once
    the text read so far has been spelt two ways, one of them ending inside it."""
    if any(not w for w in words):
        return True

    def fits(a: tuple[_CharSet, ...], b: tuple[_CharSet, ...]) -> bool:
        return all(x & y for x, y in zip(a, b))

    todo: list[tuple[int, int]] = []
    for i, a in enumerate(words):
        for j, b in enumerate(words):
            if i != j and len(a) <= len(b) and fits(a, b):
                if len(a) == len(b):
                    return True  # two alternatives for the same text
                todo.append((j, len(a)))
    seen: set[tuple[int, int]] = set()
    while todo:
        j, off = todo.pop()
        if (j, off) in seen:
            continue
        seen.add((j, off))
        rest = words[j][off:]
        for i, a in enumerate(words):
            if not fits(a, rest):
                continue
            if len(a) == len(rest):
                return True
            todo.append((j, off + len(a)) if len(a) < len(rest) else (i, len(rest)))
    return False


def _same_twice(alts) -> bool:
    seen = []
    for alt in alts:
        alt = list(alt)
        if alt in seen:
            return True
        seen.append(alt)
    return False


def _overlapping_choice(alts, flags: int) -> bool:
    sets = [x for x in (_chars(list(alt), flags) for alt in alts) if x]
    return any(sets[i] & sets[j] for i in range(len(sets)) for j in range(i + 1, len(sets)))


def _chain(items: list, flags: int) -> bool | None:
    """For a body made only of one-character pieces and their repeats: True when a
    character can be taken by either of two pieces that may meet (neighbours, with
    only optional pieces between, also from the end of one turn to the start of the
    next) and one of the two varies in length, or the body can match nothing; False
    otherwise ("(\\s+\\w+)*", "(\\d*,)+": each turn is cut one way only). None for
    other bodies."""
    sets, optional, varies = [], [], []
    for op, av in items:
        if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
            chars = _chars(list(av[2]), flags)
            # A possessive repeat never gives back what it took: a fixed cut.
            varies.append(op is not _C.POSSESSIVE_REPEAT and av[0] != av[1])
        elif op in _ONE_CHAR:
            chars = _chars([(op, av)], flags)
            varies.append(False)
        else:
            return None
        if not chars:
            return None
        sets.append(chars)
        optional.append(_optional(op, av))
    if not any(varies):
        return False  # every turn the same length: one cut only
    if all(optional):
        return True
    n = len(sets)
    for i in range(n):
        for j in range(i + 1, i + n + 1):
            k = j % n  # the next turn follows the last piece
            if (varies[i] or varies[k]) and sets[i] & sets[k]:
                return True
            if not optional[k]:
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


class _CharSet:
    """What a one-character piece can match: the sample characters it matches, its
    matcher, and the characters the pattern names (tried on the other piece too, so
    "中" or a Cyrillic range is seen even where the sample has no such character)."""

    __slots__ = ("sample", "match", "named")

    def __init__(self, sample: frozenset, match, named: frozenset) -> None:
        self.sample, self.match, self.named = sample, match, named

    def __bool__(self) -> bool:
        return bool(self.sample or self.named)

    def __and__(self, other: _CharSet) -> bool:
        return bool(self.sample & other.sample) or any(other.match(c) for c in self.named) or \
            any(self.match(c) for c in other.named)


def _named(op, av) -> set:
    if op is _C.LITERAL:
        return {chr(av)}
    if op is _C.IN:
        out = set()
        for o, a in av:
            if o is _C.LITERAL:
                out.add(chr(a))
            elif o is _C.RANGE:
                out.update({chr(a[0]), chr(a[1]), chr((a[0] + a[1]) // 2)})
        return out
    return set()


def _chars(body: list, flags: int) -> _CharSet | None:
    """What a one-character body matches, or None for longer bodies."""
    if len(body) != 1 or body[0][0] not in _ONE_CHAR:
        return None
    state = _P.State()
    state.flags = flags
    compiled = _K.compile(_P.SubPattern(state, list(body)), flags)
    named = frozenset(c for c in _named(*body[0]) if compiled.match(c))
    return _CharSet(frozenset(c for c in _SAMPLE if compiled.match(c)), compiled.match, named)
