"""Find vocabulary terms in text: one regex pass per field, stems checked on candidates.

Every term of every vocabulary is compiled into a single prefix-tree regex. Each
word of a term becomes "the part it shares with its stem" followed by ``\\w*``, so
"reduces costs" is a candidate for the term "reduce cost". A candidate is then
confirmed by comparing the stems of its words with the term's stems, so
"costume" (stem "costum") never counts as "cost". Longest match wins: "customer
tickets" (a process term) hides the role word "customer" inside it.

The scanner also marks tokens that sit inside a negation's scope ("not aimed at
cost savings"): a negation cue negates the terms that follow it within the same
clause and a few words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Final, NamedTuple

import snowballstemmer

# What may sit between the words of a multi-word term in the text.
_SEP_RE = r"[\s\-\u2010-\u2014/]+"
_SEP_SPLIT = re.compile(_SEP_RE)
_WORD = re.compile(r"\w+")
_PART = re.compile(r"[^\s\-\u2010-\u2014/]+")
# A clause ends at these; a negation never reaches across one.
# The lookahead names the characters a match can start with: same matches, found faster.
_CLAUSE_END = re.compile(r"(?=[.:;!?\n\u2013\u2014(bsBS])(?:(?<!\d)[.:](?!\d)|[;!?\n\u2013\u2014(]|\bbut\b|\bso\b|\bbecause\b)", re.IGNORECASE)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})

_TAIL = "\x01"  # "\w*" after a word's stem prefix
_SEP = "\x02"  # separator between words of a term
_STEM_CACHE_LIMIT = 200_000


class _Missing(Enum):
    """The dict.get default for "not cached yet" (None is a cached miss); an enum
    member, so a type checker narrows ``hit is _MISSING`` away."""

    MISSING = 0


_MISSING: Final = _Missing.MISSING

# A confirmed term: (length, vocabularies, (vocabulary, words as written) for each
# vocabulary whose term has capitals and so must match the text's case).
_Hit = tuple[int, frozenset[str], tuple[tuple[str, tuple[str, ...]], ...]]


class Token(NamedTuple):
    """One confirmed term occurrence in one field (a tuple: cheap to make by the hundred)."""

    start: int
    end: int
    text: str
    vocabs: frozenset[str]
    negated: bool


_new_token = tuple.__new__  # Token(...) without the NamedTuple's Python-level __new__

_SUFFIX_TERM = re.compile(r"\*[a-z]{2,}")


def is_suffix_term(term: str) -> bool:
    return bool(_SUFFIX_TERM.fullmatch(term.strip().lower()))


def split_term_words(term: str) -> list[str]:
    return [w for w in _SEP_SPLIT.split(term.strip().lower().translate(_APOSTROPHES)) if w]


def _check_case(text: str, start: int, hit: _Hit) -> _Hit | None:
    """Keep a capitalised term ("IT") only where the text has it in capitals."""
    length, vocabs, cased = hit
    words = [w for w in _SEP_SPLIT.split(text[start : start + length]) if w]
    # Only the words written with capitals must match exactly ("dispatch SLA": "SLA").
    extra = {
        name for name, case in cased
        if len(case) == len(words) and all(c == c.lower() or w.startswith(c) for w, c in zip(words, case))
    }
    if extra:
        vocabs = vocabs | extra
    return (length, vocabs, ()) if vocabs else None


class Stemmer:
    """Snowball English with a bounded cache; one per compiled rule set."""

    def __init__(self) -> None:
        self._stem = snowballstemmer.stemmer("english").stemWord
        self._cache: dict[str, str] = {}

    def __call__(self, word: str) -> str:
        word = word.lower()
        hit = self._cache.get(word)
        if hit is None:
            hit = self._stem(word) if _WORD.fullmatch(word) else word
            if len(self._cache) >= _STEM_CACHE_LIMIT:
                self._cache.clear()
            self._cache[word] = hit
        return hit


def _common_prefix(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return a[:n]


class _Trie:
    __slots__ = ("children", "terminal")

    def __init__(self) -> None:
        self.children: dict[str, _Trie] = {}
        self.terminal = False

    def add(self, atoms: Iterable[str]) -> None:
        node = self
        for a in atoms:
            node = node.children.setdefault(a, _Trie())
        node.terminal = True

    def pattern(self) -> str:
        # Literal characters first, the open "\w*" tail last: the regex takes the
        # first branch that matches, and a greedy tail would otherwise swallow a
        # longer term's letters.
        keys = sorted(self.children, key=lambda a: (a == _TAIL, a == _SEP, a))
        alts = [_atom(k) + self.children[k].pattern() for k in keys]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return "(?:" + body + ")?" if self.terminal else body


def _atom(a: str) -> str:
    if a == _TAIL:
        return r"\w*"
    if a == _SEP:
        return _SEP_RE
    if a == "'":
        return "['\u2019]"
    return re.escape(a)


class Scanner:
    """All vocabulary terms of a rule set, compiled once."""

    def __init__(
        self,
        vocabs: Mapping[str, Iterable[str]],
        *,
        negation_vocab: str | None = None,
        negation_window: int = 4,
    ) -> None:
        self.stem = Stemmer()
        self.negation_vocab = negation_vocab
        self.negation_window = negation_window
        # stems of a term's words -> (vocabulary, shortest acceptable length of each word,
        # the exact words when the term is written with capitals: "IT" is not "it")
        self._keys: dict[tuple[str, ...], list[tuple[str, tuple[int, ...], tuple[str, ...] | None]]] = {}
        trie = _Trie()
        # "*ers": any word of 3+ letters ending in "ers" that no other term claims.
        self._suffixes: dict[str, set[str]] = {}
        for name, terms in vocabs.items():
            for term in terms:
                if is_suffix_term(term):
                    self._suffixes.setdefault(term.strip().lower()[1:], set()).add(name)
                    continue
                words = split_term_words(term)
                if not words:
                    continue
                atoms: list[str] = []
                key: list[str] = []
                # An inflection adds letters or drops one ("customers", "family" ->
                # "families"); a word shorter than that is another word with the same
                # stem ("support" is not "supporter", "report" is not "reporter").
                min_len = tuple(len(w) - 1 for w in words)
                for i, w in enumerate(words):
                    if i:
                        atoms.append(_SEP)
                    if _WORD.fullmatch(w):
                        stem = self.stem(w)
                        prefix = _common_prefix(w, stem) or w[:1]
                        atoms.extend(prefix)
                        atoms.append(_TAIL)
                        key.append(stem)
                    else:
                        atoms.extend(w)
                        key.append(w)
                trie.add(atoms)
                raw = term.strip()
                case = tuple(w for w in _SEP_SPLIT.split(raw) if w) if raw != raw.lower() else None
                self._keys.setdefault(tuple(key), []).append((name, min_len, case))
        self.max_words = max((len(k) for k in self._keys), default=0)
        body = trie.pattern()
        if self._suffixes:
            # Literal terms first: "customers" and "incidents" are claimed by their own
            # vocabularies before the suffix pattern is tried.
            ends = "|".join(re.escape(x) for x in sorted(self._suffixes, key=lambda x: (-len(x), x)))
            body = (body + "|" if body else "") + r"[a-z]{3,}(?:" + ends + ")"
        self._suffix_re = re.compile(r"[a-z]{3,}(" + "|".join(re.escape(x) for x in self._suffixes) + ")") if self._suffixes else None
        # \b before, and after a term that ends in a word character, no letter may follow.
        # Text is lower-cased once per field, so the pattern itself is case-sensitive
        # (much faster in Python's re); the case-insensitive twin handles the rare text
        # whose lower-casing changes its length.
        # "(?=\w)" after "\b" changes nothing that matches when every term starts with a
        # word character, but drops the word-end boundaries before the alternation is
        # tried: the pass takes about a fifth less time.
        lead = r"\b(?=\w)" if all(_WORD.match(a) for a in trie.children) else r"\b"
        # One capturing group, for split() (scan) and search() (_rescan) alike: the
        # pattern is large, and each compile of it costs over a tenth of a second.
        self._pattern = "(" + lead + r"(?:" + body + r")(?!\w))"
        self.regex = re.compile(self._pattern) if body else None
        self._regex_ci: re.Pattern | None = None  # see _case_folding()
        self._entries = {k: tuple(v) for k, v in self._keys.items()}
        # candidate text (lower-cased) -> confirmed (length, vocabs, cased) or None
        self._confirmed: dict[str, _Hit | None] = {}

    def _case_folding(self) -> re.Pattern:
        """The pattern ignoring case, for the rare text whose lower-casing changes its
        length ("İ" becomes two characters): compiled when first needed."""
        rx = self._regex_ci
        if rx is None:
            rx = self._regex_ci = re.compile(self._pattern, re.IGNORECASE)
        return rx

    def _confirm(self, cand: str) -> _Hit | None:
        """Longest run of leading words of ``cand`` that is a term: (length, vocabs, cased)."""
        hit = self._confirmed.get(cand, _MISSING)
        if hit is not _MISSING:
            return hit
        parts = [(m.start(), m.end()) for m in _PART.finditer(cand)]
        stems = [self.stem(cand[s:e].translate(_APOSTROPHES)) for s, e in parts]
        hit = None
        for n in range(len(stems), 0, -1):
            entries = self._entries.get(tuple(stems[:n]))
            if entries is None:
                continue
            lens = [e - s for s, e in parts[:n]]
            ok = [(name, case) for name, mins, case in entries if all(l >= m for l, m in zip(lens, mins))]
            if ok:
                hit = (parts[n - 1][1], frozenset(name for name, case in ok if case is None),
                       tuple((name, case) for name, case in ok if case is not None))
                break
        if hit is None and self._suffix_re is not None and len(parts) == 1:
            m = self._suffix_re.fullmatch(cand)
            if m:
                hit = (len(cand), frozenset(self._suffixes[m.group(1)]), ())
        if len(self._confirmed) >= _STEM_CACHE_LIMIT:
            self._confirmed.clear()
        self._confirmed[cand] = hit
        return hit

    def scan(self, text: str) -> tuple[Token, ...]:
        """Every confirmed term occurrence in ``text``, in order, negation marked."""
        if not text or self.regex is None:
            return ()
        low = text.lower()
        rx = self.regex
        if len(low) != len(text):
            low, rx = text, self._case_folding()
        # Tokens are made as the candidates are confirmed, not negated; a field with a
        # negation cue (few do) is marked again afterwards.
        tokens: list[Token] = []
        append = tokens.append
        get = self._confirmed.get
        neg = self.negation_vocab
        cued = False
        lowered = rx is self.regex  # candidates are already lower case
        # split() with one capturing group gives [gap, match, gap, match, ..., gap]: the
        # same single regex pass as finditer, without a match object per candidate.
        parts = rx.split(low)
        pos = len(parts[0])
        for k in range(1, len(parts), 2):
            cand = parts[k]
            start = pos
            end = pos + len(cand)
            pos = end + len(parts[k + 1])
            key = cand if lowered else cand.lower()
            hit = get(key, _MISSING)
            if hit is _MISSING:
                hit = self._confirm(key)
            if hit is not None and hit[2]:
                hit = _check_case(text, start, hit)
            if hit is not None and hit[0] == end - start:
                vocabs = hit[1]
                if neg in vocabs:
                    cued = True
                append(_new_token(Token, (start, end, text[start:end], vocabs, False)))
                continue
            # Rare: the candidate is not a term, or only its first words are; look
            # again inside it, word by word, for terms the regex pass stepped over.
            found: list[tuple[int, int, frozenset[str]]] = []
            self._rescan(text, low, rx, start, end, hit, found)
            for s, e, vocabs in found:
                if neg in vocabs:
                    cued = True
                append(_new_token(Token, (s, e, text[s:e], vocabs, False)))
        if not cued:
            return tuple(tokens)
        return self._mark_negation(text, [(t[0], t[1], t[3]) for t in tokens])

    def _rescan(self, text, low, rx, start, end, hit, found) -> None:
        pos = start
        while pos < end:
            if hit is not None:
                found.append((pos, pos + hit[0], hit[1]))
                pos += hit[0]
            else:
                w = _WORD.match(low, pos)
                pos = w.end() if w and w.end() > pos else pos + 1
            m = rx.search(low, pos, end)
            if m is None:
                return
            pos = m.start()
            hit = self._confirm(m.group().lower())
            if hit is not None and hit[2]:
                hit = _check_case(text, pos, hit)

    def _mark_negation(
        self, text: str, found: list[tuple[int, int, frozenset[str]]]
    ) -> tuple[Token, ...]:
        neg = self.negation_vocab
        if neg is None or not any(neg in v for _, _, v in found):
            # No negation cue in the field (most fields): nothing is negated.
            return tuple([_new_token(Token, (s, e, text[s:e], v, False)) for s, e, v in found])
        tokens: list[Token] = []
        cue_end = -1  # end of the last negation cue seen
        window = self.negation_window
        for start, end, vocabs in found:
            negated = False
            if cue_end >= 0:
                if start - cue_end > (window + 1) * 40:
                    cue_end = -1  # out of reach for good
                else:
                    between = text[cue_end:start]
                    negated = len(between.split()) <= window and not _CLAUSE_END.search(between)
            if neg is not None and neg in vocabs:
                negated = False
                cue_end = end
            tokens.append(Token(start, end, text[start:end], vocabs, negated))
        return tuple(tokens)
