r"""A regex rule's pattern, compiled so that no ticket text can stall a scan.

Python's re backtracks: ``(a|aa)+$`` took 6.3 s on 36 characters and 40.7 s on 40,
and nothing stops a search that has started. So the patterns an admin writes are
compiled by RE2 (google-re2), which runs every way of matching at once in one pass
over the text: a search takes time linear in the field, whatever the pattern and
the text. What RE2 cannot run that way (lookaround, back-references, atomic groups,
possessive repeats, conditionals) it cannot compile, and such a pattern is refused
when the rules are loaded, with what it used, why, and how to write it instead
(``refusal``).

The shipped rules' patterns (default.toml) stay on Python's re: three need
lookaround, and under RE2 the others would read ``\b`` and ``\w`` as ASCII, which
changes answers on text with accented letters next to a matched word (Python's ``\b``
sees no word boundary in "٣so", RE2's does). They are vetted instead: no repeat in
them cuts text more than one way (rules.backtracking), no repeat reads a run of
characters a match can also start in, unless bounded ("money" read a run of digits
to its end from each digit: 43 s for 20,000 digits, now at most 41 characters), and
tests time each of them on long hostile text (bench/hostile_text.py times the whole
engine). A pattern is vetted when its text is a shipped one, so copying a shipped
pattern into a rule of your own keeps it as it is.

RE2's syntax is Python's for nearly everything a rule needs. Where the two read the
same pattern differently, RE2's reading holds: ``\w``, ``\d``, ``\s`` and ``\b`` are
ASCII (``\pL``, ``\p{N}`` match letters and digits of any script); ``$`` without
``(?m)`` is the end of the field only, not also before a last newline; ``\z`` is the
end (Python's ``\Z``, refused); ``{,n}`` (Python: 0 to n times; RE2: the characters
themselves) is refused. Otherwise they agree: the shipped patterns RE2 can compile
find the same spans under both in every record of the bench sets (a test).

One RE2 search is linear, but finding every match searches once per match, and a
pattern whose match may look ahead to the end of the field (``a(?:.*b)?`` over a
field of a's) then reads the rest of the field for each match. So the matches looked
for in one field are capped (``match_limit``): 1,000, far more than a real ticket
holds, and fewer in a long field, so that matches times length stays near
``MATCH_BUDGET`` characters (about a tenth of a second), but never fewer than 100.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

try:
    import re2
except ImportError:  # pragma: no cover - a dependency; without it no admin pattern loads
    re2 = None

# Matches looked for in one field by one pattern an admin wrote (see the docstring).
# Measured: 1,000 matches that each read 100 KB ahead took 0.5 s; 1,000 short ones 7 ms.
MAX_MATCHES = 1000
MIN_MATCHES = 100
MATCH_BUDGET = 20_000_000  # characters read ahead, at about 5 ns each


def match_limit(length: int) -> int:
    """How many matches are looked for in a field of ``length`` characters."""
    return max(MIN_MATCHES, min(MAX_MATCHES, MATCH_BUDGET // max(length, 1)))

# Lone surrogates (from JSON escapes) cannot be encoded as UTF-8, which RE2 reads:
# each is given to RE2 as U+FFFD, one character for one, so the offsets hold.
_SURROGATE = re.compile("[\ud800-\udfff]")
# "{,n}": 0 to n times in Python's re, the characters "{,n}" in RE2's. Not after a
# backslash (an escaped brace is a brace in both).
_OPEN_COUNT = re.compile(r"(?<!\\)(?:\\\\)*\{,\d+\}")

EXPECTED = ("a regular expression in RE2 syntax (Python's, without lookaround, back-references, atomic groups, "
            "possessive repeats or conditionals)")

_LINEAR = ("rules you write run on RE2, which never backtracks, so its time grows only linearly with the ticket; "
           "this needs a backtracking engine, which can take minutes on one hostile ticket")
_DIALECT = "rules you write run on RE2, whose syntax lacks it (RE2 follows Perl here, not Python)"
_ALTERNATIVES = "list the forms you mean as alternatives (a|b)"

# (the start of RE2's message, what the pattern used, why it is refused, how to write it instead)
_REFUSALS: tuple[tuple[str, str, str, str], ...] = (
    ("invalid perl operator: (?=", "a lookahead (?=...)", _LINEAR,
     "match the text that follows too (the evidence then includes it), or check it with a second rule "
     "combined through \"all\" or \"near\""),
    ("invalid perl operator: (?!", "a negative lookahead (?!...)", _LINEAR,
     "write the exception as a rule of its own and combine the two: \"not\", or \"near\" with \"unless\""),
    ("invalid perl operator: (?<=", "a lookbehind (?<=...)", _LINEAR,
     "match the text before it too (the evidence then includes it), or use \"near\" with order = \"after\""),
    ("invalid perl operator: (?<!", "a negative lookbehind (?<!...)", _LINEAR,
     "write the exception as a rule of its own and combine the two: \"not\", or \"near\" with \"unless\""),
    ("invalid perl operator: (?>", "an atomic group (?>...)", _LINEAR,
     "write a plain group (?:...): RE2 never backtracks, so the group cannot make matching slow"),
    ("bad repetition operator: ", "a possessive repeat (++, *+, ?+ or {m,n}+)", _LINEAR,
     "write the plain repeat (a+ for a++): RE2 never backtracks, so the repeat cannot make matching slow"),
    ("invalid escape sequence: \\1", "a back-reference (\\1 to \\9)", _LINEAR, _ALTERNATIVES),
    ("invalid perl operator: (?P=", "a back-reference (?P=name)", _LINEAR, _ALTERNATIVES),
    ("invalid escape sequence: \\g", "a back-reference \\g<...>", _LINEAR, _ALTERNATIVES),
    ("invalid escape sequence: \\k", "a back-reference \\k<...>", _LINEAR, _ALTERNATIVES),
    ("invalid perl operator: (?(", "a conditional (?(1)...|...)", _LINEAR,
     "write each branch as a rule of its own and combine them with \"any\""),
    ("invalid escape sequence: \\Z", "\\Z (the end of the text)", _DIALECT, "write \\z, RE2's name for it"),
    ("invalid perl operator: (?x", "the verbose flag (?x)", _DIALECT, "write the pattern without spaces and comments"),
    ("invalid perl operator: (?#", "a comment (?#...)", _DIALECT, "leave the comment out (a TOML comment can stand beside the key)"),
    ("invalid perl operator: (?a", "the ASCII flag (?a)", _DIALECT,
     "leave it out: \\w, \\d, \\s and \\b are ASCII in RE2 (\\pL and \\p{N} match letters and digits of any script)"),
    ("invalid perl operator: (?u", "the Unicode flag (?u)", _DIALECT,
     "leave it out, and write \\pL or \\p{N} where letters or digits of any script are meant: \\w, \\d, \\s and \\b are ASCII in RE2"),
    ("invalid perl operator: (?L", "the locale flag (?L)", _DIALECT, "leave it out"),
    ("invalid escape sequence: \\N", "a named character \\N{...}", _DIALECT, "write the character itself, or its code as \\x{2014}"),
    ("invalid escape sequence: \\u", "a character escape \\uXXXX", _DIALECT, "write \\x{XXXX} (for example \\x{2014}) or the character itself"),
    ("invalid escape sequence: \\U", "a character escape \\UXXXXXXXX", _DIALECT, "write \\x{XXXXX} or the character itself"),
    ("invalid repetition size", "a repeat count over 1,000", "RE2 allows counts up to 1,000",
     "use a smaller count, or an open repeat ({1,} or +)"),
    ("pattern too large", "more than RE2 compiles within its memory budget", "RE2 bounds the memory one pattern may take",
     "split it into smaller rules combined with \"any\""),
)
_BACK_REFERENCE = re.compile(r"invalid escape sequence: \\[1-9]")


@dataclass(frozen=True)
class Refusal:
    """Why a pattern cannot be a rule an admin writes, and how to write it instead."""

    message: str
    instead: str


def refusal(pattern: str) -> Refusal | None:
    """Why RE2 will not run ``pattern`` as an admin's rule (a broken pattern included), or None."""
    if re2 is None:  # pragma: no cover
        return Refusal("the google-re2 package is not installed", "csi-coach installed with its dependencies")
    if _OPEN_COUNT.search(pattern):
        return Refusal("the pattern uses a count with no lower bound ({,n}): rules you write run on RE2, which reads "
                       "it as those characters (Python's re: 0 to n times)", "write {0,n}")
    try:
        _compile(pattern, False)
    except re2.error as exc:
        said = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        if _BACK_REFERENCE.match(said):
            said = "invalid escape sequence: \\1"
        elif said.startswith("invalid perl operator: (?P") and "(?P=" in pattern:
            said = "invalid perl operator: (?P="  # RE2 names only "(?P"
        for start, what, why, instead in _REFUSALS:
            if said.startswith(start):
                return Refusal(f"the pattern uses {what}: {why}", instead)
        return Refusal(f"bad regular expression: {said}", EXPECTED)
    return None


def _compile(pattern: str, ignore_case: bool) -> Any:
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False  # a refused pattern is reported as a rule error, not on stderr
    return re2.compile(pattern, options)


@dataclass(frozen=True)
class LinearPattern:
    """A pattern compiled by RE2 (see the module docstring)."""

    pattern: str
    ignore_case: bool
    _rx: Any = field(compare=False, repr=False)

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """(start, end) of each match, in characters, left to right; at most ``match_limit``.

        Like Python's finditer but for one case: after a match of nothing, RE2's loop
        moves on a character, so a longer match starting at the same place is not
        tried. The regex kind skips matches of nothing anyway."""
        limit = match_limit(len(text))
        if text.isascii():
            found = self._rx.finditer(text.encode("ascii"))  # bytes: offsets are characters here
        else:
            if _SURROGATE.search(text):
                text = _SURROGATE.sub("\ufffd", text)
            found = self._rx.finditer(text)  # the wrapper maps UTF-8 offsets back to characters
        return (m.span() for m in islice(found, limit))


def compile_linear(pattern: str, ignore_case: bool) -> LinearPattern:
    """RE2's compilation of an admin's pattern, for which ``refusal`` found nothing."""
    return LinearPattern(pattern, ignore_case, _compile(pattern, ignore_case))
