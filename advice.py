"""What a coaching comment says, built from the record itself.

The templates decide the wording; this module decides the content, from the record
as the rules read it (``rules.document.read_record``: markup-free plain text, the
text evidence offsets refer to):

- quotes: whole sentences around the evidence (up to QUOTE_LIMIT characters; a longer
  sentence is cut at clause boundaries, never mid-word, and keeps a negation that
  comes before the evidence), overlapping pieces merged, each piece once, at most
  MAX_QUOTES;
- the kind of process measure the evidence names (incident counts, MTTR, FCR ...),
  with its reframe line, question and draft goal, from ``templates/coaching.toml``
  (an admin's ``coaching.toml`` in templates_dir replaces entries key by key);
- the consumer group the record names ("Straddle carrier drivers"), for the draft goal;
  with none named there is no draft, only the question (never a ``<placeholder>``);
- whether the owner wrote that the work is internal or for an audit;
- which finding the comment may state without contradicting its own quotes: process
  measures only when a quote holds a process term, "no goal" never when the goal
  field holds text (an intention is called an intention).

Pure: no I/O except reading the coaching files once when a Renderer is made.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csi_coach.errors import ConfigError
from csi_coach.model import TEXT_FIELDS, Category, Evidence, Record, Verdict
from csi_coach.rules.document import read_record

SHIPPED_COACHING = Path(__file__).resolve().parent / "templates" / "coaching.toml"
COACHING_FILE = "coaching.toml"

QUOTE_LIMIT = 160  # one quoted piece: a sentence, or the clauses of one that fit
NEGATION_SLACK = 50  # a negation before the evidence is kept even if the quote grows this much longer
MAX_QUOTES = 2
SENTENCE_REACH = 4 * QUOTE_LIMIT  # how far either side of evidence its sentence is looked for
MAX_EVIDENCE_QUOTED = 200  # evidence pieces weighed for quotes, in order: a bound on the work
GOAL_LIMIT = 160  # the goal text the comment may repeat
_SCAN_LIMIT = 20_000  # characters of a field looked at for people and intent

# ---------------------------------------------------------------- coaching data


@dataclass(frozen=True)
class Kind:
    key: str
    name: str
    terms: tuple[str, ...]
    line: str
    question: str
    draft: str
    pattern: re.Pattern[str] = field(compare=False, repr=False)
    fallback: bool = False  # named only after the other kinds matched

    def view(self) -> dict[str, str]:
        return {"key": self.key, "name": self.name, "line": self.line, "question": self.question, "draft": self.draft}


@dataclass(frozen=True)
class Coaching:
    kinds: tuple[Kind, ...]
    people: re.Pattern[str]
    provider: frozenset[str]
    intent: re.Pattern[str] | None
    texts: dict[str, dict[str, str]]  # unclear / no_goal / internal: question, draft
    process: re.Pattern[str] = field(compare=False, repr=False)


def _terms_pattern(terms: Iterable[str]) -> re.Pattern[str]:
    """Whole words, any case, a trailing s/es allowed; longest term first."""
    words = sorted({t.strip().lower() for t in terms if t.strip()}, key=len, reverse=True)
    if not words:
        return re.compile(r"(?!x)x")
    body = "|".join(re.escape(w).replace(r"\ ", r"[\s-]+") for w in words)
    return re.compile(rf"(?<![\w-])(?:{body})(?:e?s)?(?![\w-])", re.IGNORECASE)


def _string(data: dict, where: str, key: str, file: str, *, required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ConfigError(f"{where}.{key} must be a non-empty string", file=file, key=f"{where}.{key}", got=value,
                          has_got=True, expected="a quoted string")
    return value.strip()


def _strings(data: dict, where: str, key: str, file: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.{key} must be a list of strings", file=file, key=f"{where}.{key}", got=value,
                          has_got=True, expected='a list such as ["incident", "p1"]')
    return tuple(v for v in value if v.strip())


def _draft(value: str, where: str, file: str) -> str:
    try:
        value.format(who="x")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"{where}.draft has a bad slot ({exc})", file=file, key=f"{where}.draft", got=value,
                          has_got=True, expected="text with {who} as its only slot") from None
    if "{who}" not in value:
        raise ConfigError(f"{where}.draft does not name {{who}}", file=file, key=f"{where}.draft", got=value,
                          has_got=True, expected="a draft goal that starts from {who}, the consumer group")
    return value


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"coaching file is not valid TOML: {exc}", file=str(path),
                          expected="TOML like the shipped templates/coaching.toml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the coaching file: {exc}", file=str(path), expected="a readable UTF-8 TOML file") from None


_TOP_KEYS = ("people", "provider", "internal_intent", "kind", "unclear", "no_goal", "internal")
_KIND_KEYS = ("name", "terms", "line", "question", "draft", "fallback")


def _merge(base: dict[str, Any], over: dict[str, Any], file: str) -> dict[str, Any]:
    unknown = sorted(set(over) - set(_TOP_KEYS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in the coaching file", file=file, key=unknown[0],
                          expected="one of: " + ", ".join(_TOP_KEYS))
    out = dict(base)
    for key, value in over.items():
        if key in ("kind", "unclear", "no_goal", "internal"):
            if not isinstance(value, dict):
                raise ConfigError(f"{key} must be a table", file=file, key=key, expected=f"[{key}] ...")
            merged = {k: dict(v) if isinstance(v, dict) else v for k, v in base.get(key, {}).items()}
            for name, entry in value.items():
                if key == "kind":
                    if not isinstance(entry, dict):
                        raise ConfigError(f"kind.{name} must be a table", file=file, key=f"kind.{name}",
                                          expected=f"[kind.{name}] with " + ", ".join(_KIND_KEYS))
                    bad = sorted(set(entry) - set(_KIND_KEYS))
                    if bad:
                        raise ConfigError(f"unknown key {bad[0]!r} in [kind.{name}]", file=file, key=f"kind.{name}.{bad[0]}",
                                          expected="one of: " + ", ".join(_KIND_KEYS))
                    merged[name] = {**merged.get(name, {}), **entry}
                else:
                    merged[name] = entry
            out[key] = merged
        else:
            out[key] = value
    return out


def load_coaching(templates_dir: Path | None = None) -> Coaching:
    """The shipped coaching data, with the admin's coaching.toml (if any) laid over it."""
    data = _read(SHIPPED_COACHING)
    file = str(SHIPPED_COACHING)
    if templates_dir is not None and (templates_dir / COACHING_FILE).is_file():
        file = str(templates_dir / COACHING_FILE)
        data = _merge(data, _read(templates_dir / COACHING_FILE), file)
    kinds = []
    all_terms: list[str] = []
    for key, entry in (data.get("kind") or {}).items():
        where = f"kind.{key}"
        terms = _strings(entry, where, "terms", file)
        if not terms:
            raise ConfigError(f"{where}.terms is empty", file=file, key=f"{where}.terms", expected="the words that mean this kind")
        all_terms += terms
        kinds.append(Kind(key, _string(entry, where, "name", file), terms, _string(entry, where, "line", file),
                          _string(entry, where, "question", file), _draft(_string(entry, where, "draft", file), where, file),
                          _terms_pattern(terms), fallback=entry.get("fallback") is True))
    texts: dict[str, dict[str, str]] = {}
    for key in ("unclear", "no_goal", "internal"):
        entry = data.get(key) or {}
        texts[key] = {"question": _string(entry, key, "question", file)}
        if key == "no_goal" or entry.get("draft"):
            texts[key]["draft"] = _draft(_string(entry, key, "draft", file), key, file)
    intent = _strings(data, "", "internal_intent", file)
    return Coaching(
        kinds=tuple(kinds),
        people=_terms_pattern(_strings(data, "", "people", file)),
        provider=frozenset(p.lower() for p in _strings(data, "", "provider", file)),
        intent=_terms_pattern(intent) if intent else None,
        texts=texts,
        process=_terms_pattern(all_terms),
    )


# ---------------------------------------------------------------- sentences and quotes

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "no.", "nr.", "dr.", "mr.", "mrs.", "ms.", "st.", "incl.", "c.")
_SENTENCE_END = re.compile(r"[.!?]+(?=[\"'”’)\]]*(?:\s|$))|\n")
_CLAUSE_END = re.compile(r"[,;:](?=\s)|\s[–—-]\s|\s(?=(?:so that|so|because|but|which|while|whereas|and then|then)\s)")
_NEGATION = re.compile(r"\b(?:not|isn't|aren't|wasn't|won't|don't|doesn't|no longer|never|nothing|rather than|instead of)\b",
                       re.IGNORECASE)
_HEADING_ONLY = re.compile(r"^[^.!?]{1,60}:$")
_LIST_LEAD = re.compile(r"^(?:[-*•]\s+|\d+[.)]\s+)")
_SPACES = re.compile(r"\s+")


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence holding text[start:end] (may span several when the evidence does).

    Looked for at most SENTENCE_REACH characters either side: a quote is a few hundred
    characters at most, and a search from the field's start (or to its end) for each
    piece of evidence made a long field full of terms take minutes."""
    lo = max(0, start - SENTENCE_REACH)
    for m in _SENTENCE_END.finditer(text, lo, start):
        if m.group(0) == "\n" or not _abbreviation(text, m.start()):
            lo = m.end()
    hi = min(len(text), end + SENTENCE_REACH)
    for m in _SENTENCE_END.finditer(text, max(end, lo), hi):
        if m.group(0) == "\n":
            hi = m.start()
            break
        if not _abbreviation(text, m.start()):
            hi = m.end()
            break
    return lo, hi


def _abbreviation(text: str, dot: int) -> bool:
    word = text[max(0, dot - 8): dot + 1].lower().split()
    return bool(word) and word[-1].lstrip("(\"'") in _ABBREVIATIONS


def _trim(text: str, lo: int, hi: int) -> tuple[int, int]:
    while lo < hi and text[lo] in " \t\n,;:–—-":
        lo += 1
    m = _LIST_LEAD.match(text, lo)
    if m and m.end() < hi:
        lo = m.end()
    while hi > lo and text[hi - 1] in " \t\n,;:–—":
        hi -= 1
    return lo, hi


def _clauses(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    cuts = [lo] + [m.end() for m in _CLAUSE_END.finditer(text, lo, hi)] + [hi]
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def quote_span(text: str, start: int, end: int, limit: int = QUOTE_LIMIT) -> tuple[int, int, bool]:
    """(lo, hi, clipped): the sentence around text[start:end], or the clauses of it that fit.

    ``clipped`` is True only when even the clause holding the evidence is longer than
    ``limit`` and had to be cut between words (the quote then shows an ellipsis).
    """
    lo, hi = _trim(text, *sentence_bounds(text, start, end))
    if hi - lo <= limit:
        return lo, hi, False
    pieces = _clauses(text, lo, hi)
    first = next((i for i, (a, b) in enumerate(pieces) if b > start), 0)
    last = next((i for i, (a, b) in enumerate(pieces) if b >= end), len(pieces) - 1)
    a, b = pieces[first][0], pieces[last][1]
    if b - a > limit:  # the evidence's own clause is too long: a window of whole words
        room = max(0, limit - (end - start)) // 2
        a = max(lo, start - room)
        b = min(hi, end + room + max(0, room - (start - a)))
        while a > lo and not text[a - 1].isspace():
            a += 1
        while b < hi and not text[b].isspace():
            b -= 1
        a, b = _trim(text, max(a, lo), max(b, end))
        return a, b, True
    i, j = first, last
    # A negation before the evidence belongs in the quote ("This isn't about ..., it's to hit the OLA").
    while (i > 0 and _NEGATION.search(text, pieces[i - 1][0], pieces[i - 1][1])
           and b - pieces[i - 1][0] <= limit + NEGATION_SLACK):
        i -= 1
        a = pieces[i][0]
    grown = True
    while grown:
        grown = False
        if j + 1 < len(pieces) and pieces[j + 1][1] - a <= limit:
            j += 1
            b = pieces[j][1]
            grown = True
        elif i > 0 and b - pieces[i - 1][0] <= limit:
            i -= 1
            a = pieces[i][0]
            grown = True
    a, b = _trim(text, a, b)
    return a, b, False


@dataclass(frozen=True)
class Quote:
    field: str
    lo: int
    hi: int
    text: str  # the quoted words, plain and single-line
    clipped: bool
    evidence: tuple[Evidence, ...]

    def view(self) -> dict[str, Any]:
        shown = ("…" if self.clipped else "") + self.text + ("…" if self.clipped else "")
        first = self.evidence[0] if self.evidence else None
        return {"field": self.field, "quote": shown, "text": first.text if first else self.text,
                "start": first.start if first else self.lo, "end": first.end if first else self.hi, "clipped": self.clipped}


def _locate(text: str, ev: Evidence) -> tuple[int, int] | None:
    """The evidence's span in the read text: its offsets when they hold its words, else its first occurrence."""
    if 0 <= ev.start < ev.end <= len(text) and text[ev.start:ev.end].lower() == ev.text.lower():
        return ev.start, ev.end
    needle = ev.text.strip()
    if not needle or len(needle) > 4 * QUOTE_LIMIT:
        return None
    i = text.lower().find(needle.lower())
    return (i, i + len(needle)) if i >= 0 else None


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def quotes_for(read: Record, evidence: Sequence[Evidence], *, prefer: re.Pattern[str] | None = None,
               limit: int = MAX_QUOTES) -> list[Quote]:
    """At most ``limit`` quotes of whole sentences around the evidence, merged, each once.

    Pieces holding more evidence come first, and among them those holding a term of
    ``prefer`` (the process terms); then the goal field before the title and the
    description. Evidence that cannot be found in the read record is quoted as its words.
    """
    spans: list[tuple[str, int, int, bool, list[Evidence]]] = []
    loose: list[Evidence] = []
    for ev in evidence[:MAX_EVIDENCE_QUOTED]:
        text = read.text(ev.field) if ev.field in TEXT_FIELDS else ""
        where = _locate(text, ev) if text else None
        if where is None:
            loose.append(ev)
            continue
        if where[1] - where[0] > QUOTE_LIMIT:  # a whole field as evidence: its first sentence that says something
            where = _first_sentence(text, where[0], where[1])
            if where is None:
                continue
        lo, hi, clipped = quote_span(text, *where)
        if hi <= lo:
            continue
        for k, (f, a, b, c, evs) in enumerate(spans):
            if f == ev.field and lo < b and a < hi:  # overlapping: one quote
                if max(b, hi) - min(a, lo) <= QUOTE_LIMIT:
                    spans[k] = (f, min(a, lo), max(b, hi), c or clipped, evs + [ev])
                else:
                    evs.append(ev)
                break
        else:
            spans.append((ev.field, lo, hi, clipped, [ev]))
    order = {"goal": 0, "title": 1, "description": 2, "service": 3}
    quotes = []
    seen: set[str] = set()
    for f, a, b, clipped, evs in spans:
        words = _one_line(read.text(f)[a:b])
        key = words.lower()
        if key in seen or any(key in s for s in seen):
            continue
        seen.add(key)
        quotes.append(Quote(f, a, b, words, clipped, tuple(evs)))
    quotes.sort(key=lambda q: (-(len(q.evidence) + (2 if prefer and prefer.search(q.text) else 0)), order.get(q.field, 9), q.lo))
    quotes = quotes[:limit]
    for ev in loose:
        if len(quotes) >= limit:
            break
        words = _one_line(ev.text)[:QUOTE_LIMIT]
        if words and words.lower() not in seen:
            seen.add(words.lower())
            quotes.append(Quote(ev.field, ev.start, ev.end, words, len(_one_line(ev.text)) > QUOTE_LIMIT, (ev,)))
    # Reading order: a reader meets the quotes as they stand in the record.
    return sorted(quotes, key=lambda q: (order.get(q.field, 9), q.lo)) if len(quotes) > 1 else quotes


def _first_sentence(text: str, lo: int, hi: int) -> tuple[int, int] | None:
    """The first sentence in text[lo:hi] that is not a bare heading ("Background:")."""
    pos = lo
    while pos < hi:
        a, b = sentence_bounds(text, pos, pos + 1)
        a, b = _trim(text, max(a, lo), min(b, hi))
        if b > a and not _HEADING_ONLY.match(text[a:b]) and len(text[a:b].split()) >= 3:
            word = re.search(r"\w[\w'-]*", text[a:b])  # a span of its first word: quote_span grows it to the sentence
            return (a + word.start(), a + word.end()) if word else (a, b)
        nxt = max(b, pos + 1)
        while nxt < hi and text[nxt] in " \n.!?:":
            nxt += 1
        pos = nxt
    return None


# ---------------------------------------------------------------- people, pain, intent

_STOP = frozenset("""a an the our their your my his her its this that these those all any some every each no many most
other more fewer less and or but of for to in on at by with from into onto as than when while if so because where who
whose which what how is are was were be been being has have had do does did can could will would should may might must
not only just also even still help helps let lets allow allows give gives tell tells ask asks get gets make makes keep
keeps stop stops support supports enable enables mean means about after before during over under between among against
both either neither such very too per via new without within across through including like one two three four
five six seven eight nine ten eleven twelve several few""".split())
_NOT_PEOPLE_NEXT = frozenset("""ticket tickets satisfaction survey surveys call calls complaint complaints contact contacts
experience facing data account accounts record records base numbers number journey portal app apps feedback rating
ratings query queries request requests interface id ids list lists device devices name names details profile profiles
support services service segment segments field fields""".split())
_MASS = frozenset({"staff", "crew", "workforce", "public", "people", "family", "families", "personnel"})
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def _group_at(text: str, m: re.Match[str], coaching: Coaching) -> str:
    """The consumer group a people-term match names, with up to two modifiers, or "" (a label, the provider)."""
    after = _WORD.match(text, m.end() + 1) if m.end() < len(text) and text[m.end()] == " " else None
    if text[m.end():m.end() + 1] == "-" or (after and after.group(0).lower() in _NOT_PEOPLE_NEXT):
        return ""
    words = [m.group(0)]
    pos = m.start()
    for _ in range(2):
        prev = re.search(r"([A-Za-z][A-Za-z'-]*)[ ]+$", text[max(0, pos - 40):pos])
        if not prev:
            break
        w = prev.group(1)
        lw = w.lower()
        if lw in coaching.provider:
            return ""
        if lw in _STOP or lw.endswith(("ly", "ed", "ing", "'s")) or (lw.endswith("s") and not lw.endswith("ss")):
            break
        words.insert(0, w)
        pos -= len(prev.group(0))
    group = " ".join(words)
    return "" if group.lower() in coaching.provider else _plural(group)


def consumer_group(read: Record, coaching: Coaching) -> tuple[str, str]:
    """(group, draft): the consumer group the record names ("Straddle carrier drivers") and,
    where the record states their pain in a form that can be turned round, a draft from it.
    A group with a pain wins over the first group named; ("", "") when none is named."""
    first = ""
    for name in ("goal", "title", "description"):
        text = read.text(name)[:_SCAN_LIMIT]
        for m in coaching.people.finditer(text):
            group = _group_at(text, m, coaching)
            if not group:
                continue
            first = first or group
            draft = _pain_draft(group, text, m.end())
            if draft:
                return group, draft
    return first, ""


def _plural(group: str) -> str:
    head, _, last = group.rpartition(" ")
    low = last.lower()
    if low in _MASS or low.endswith("s") or low.endswith("people"):
        plural = last
    elif low.endswith("y") and low[-2:-1] not in "aeiou":
        plural = last[:-1] + "ies"
    elif low.endswith(("ch", "sh", "x")):
        plural = last + "es"
    else:
        plural = last + "s"
    return (head + " " + plural).strip()


def _capital(text: str) -> str:
    if not text:
        return text
    first = text.split(" ", 1)[0]
    if len(first) > 1 and first[1:].upper() == first[1:] and first[1:].isalpha():  # an acronym: "GPs"
        return text
    return text[0].upper() + text[1:]


_REST = (r"((?:[A-Za-z0-9£$€%][\w'’%.£$€-]*\s+){0,11}?[A-Za-z0-9£$€%][\w'’%£$€-]*)"
         r"(?=\s*(?:[.;:!?,)]|$|\n|\s(?:and|or|so|because|which|but|then|when|while|until|before|after)\b))")
_CANT = re.compile(r"\s+(?:still\s+|often\s+)?(?:can't|cannot|can not|are unable to|is unable to)\s+" + _REST, re.IGNORECASE)
_MUST = re.compile(r"\s+(?:still\s+|often\s+)?(?:have to|has to|must|need to|needs to)\s+" + _REST, re.IGNORECASE)
_KEEP = re.compile(r"\s+(?:keep|keeps|are still|still)\s+([a-z]{2,12})ing\s+" + _REST, re.IGNORECASE)
_SUFFER = re.compile(r"\s+(?:still\s+|often\s+|regularly\s+|routinely\s+)?(lose|miss|chase|re-key|rekey|re-enter|retype|"
                     r"phone|queue|wait|walk|drive|travel|complain|abandon|write|print)(?:s|es)?\s+" + _REST, re.IGNORECASE)
_E_STEMS = frozenset({"chas", "writ", "los", "tak", "hav", "mak", "com", "giv", "driv", "phon", "us", "rais", "receiv",
                      "leav", "mov", "sav", "queu", "clos", "typ", "shar", "car", "scor", "stor", "manag", "complet",
                      "retyp", "pric", "chang", "arriv", "hir", "fil", "rid", "tim", "continu", "issu", "argu"})


def _verb(ing_stem: str) -> str:
    """The plain verb of an -ing form's stem: report(ing) -> report, chas(ing) -> chase, gett(ing) -> get."""
    s = ing_stem.lower()
    if s in _E_STEMS:
        return s + "e"
    if len(s) > 2 and s[-1] == s[-2] and s[-1] not in "lsz":
        return s[:-1]
    return s


def _pain_draft(group: str, text: str, at: int) -> str:
    """A draft from the pain stated right after the group: "can't X" -> "can X", "have to X" ->
    "no longer have to X", "keep reporting X" -> "no longer report X", "lose X" -> "no longer lose X"."""
    who = _capital(group)
    m = _CANT.match(text, at)
    if m and len(m.group(1).split()) >= 2:
        return f"{who} can {m.group(1)}"
    m = _MUST.match(text, at)
    if m and len(m.group(1).split()) >= 2:
        return f"{who} no longer have to {m.group(1)}"
    m = _KEEP.match(text, at)
    if m and len(m.group(2).split()) >= 2:
        return f"{who} no longer {_verb(m.group(1))} {m.group(2)}"
    m = _SUFFER.match(text, at)
    if m and len(m.group(2).split()) >= 2:
        return f"{who} no longer {m.group(1).lower()} {m.group(2)}"
    return ""


def internal_intent(read: Record, coaching: Coaching) -> tuple[str, int, int] | None:
    """(field, start, end) of the owner's words saying the work is internal or for an audit."""
    if coaching.intent is None:
        return None
    for name in ("goal", "description", "title"):
        m = coaching.intent.search(read.text(name)[:_SCAN_LIMIT])
        if m:
            return name, m.start(), m.end()
    return None


# ---------------------------------------------------------------- the comment's content

_OWNER_NAME = re.compile(r"^([A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?)(?:\s+[A-Z][\w.'-]*){0,3}$")


def first_name(owner: str) -> str:
    """How to greet the owner: the first name when the owner field holds a person's name
    ("Ada Lovelace" -> "Ada"), else the owner as given ("r.okafor"); "" when unknown."""
    owner = _SPACES.sub(" ", owner).strip()
    m = _OWNER_NAME.match(owner)
    return m.group(1) if m else owner


_POINTER = re.compile(r"^\W*(?:(?:please )?(?:see|refer to)\b|as (?:above|below|per)\b|same as\b|n/?a\W*$|tb[acd]\W*$"
                      r"|to be (?:confirmed|decided|defined|agreed|added)\W*$|none(?: yet)?\W*$)", re.IGNORECASE)


def goal_state(read: Record) -> str:
    """'empty', 'pointer' ("See description", "TBC") or 'text'."""
    goal = read.goal.strip()
    if len(goal) < 3:
        return "empty"
    return "pointer" if _POINTER.match(goal) and len(goal) < 60 else "text"


def kinds_for(evidence: Iterable[Evidence], coaching: Coaching) -> list[Kind]:
    """The kinds of process measure the evidence names: most evidence first, then file order."""
    counts: dict[str, int] = {}
    first: dict[str, tuple[int, int]] = {}
    order = {"goal": 0, "title": 1, "description": 2}
    for ev in evidence:
        if len(ev.text) > QUOTE_LIMIT:
            continue
        for kind in coaching.kinds:
            if kind.pattern.search(ev.text):
                counts[kind.key] = counts.get(kind.key, 0) + 1
                first[kind.key] = min(first.get(kind.key, (9, 10**9)), (order.get(ev.field, 3), ev.start))
                break
    # Most evidence first; on a tie, the kind named first in the goal ("Get MTTR for till outages": MTTR).
    return sorted((k for k in coaching.kinds if k.key in counts), key=lambda k: (k.fallback, -counts[k.key], first[k.key]))


def build(record: Record, verdict: Verdict, coaching: Coaching) -> dict[str, Any]:
    """The ``coaching`` variable of the comment templates (see render.py's docstring)."""
    read = read_record(record)
    evidence = [ev for f in verdict.findings for ev in f.evidence]
    process = verdict.category is Category.PROCESS_ONLY
    quotes = quotes_for(read, evidence, prefer=coaching.process if process else None)
    if len(quotes) > 1 and quotes[0].field == "title":  # a title mostly names the topic: the other quote says more
        quotes = quotes[1:]
    intent = internal_intent(read, coaching)
    if intent is not None:
        name, s, e = intent
        text = read.text(name)
        lo, hi, clipped = quote_span(text, s, e)
        own = Quote(name, lo, hi, _one_line(text[lo:hi]), clipped, (Evidence(name, text[s:e], s, e),))
        quotes = [own] + [q for q in quotes if not (q.field == own.field and q.lo < own.hi and own.lo < q.hi)]
        quotes = quotes[:MAX_QUOTES]
    state = goal_state(read)
    if not process and state == "text" and intent is None:  # an intention: the comment shows the goal it calls one
        g = read.goal
        lo, hi, clipped = quote_span(g, *(_first_sentence(g, 0, len(g)) or (0, len(g))))
        if hi > lo:
            quotes = [Quote("goal", lo, hi, _one_line(g[lo:hi]), clipped, ())] + [q for q in quotes if q.field != "goal"]
            quotes = quotes[:1]
    process_quoted = any(coaching.process.search(q.text) for q in quotes)
    kinds = [k for k in kinds_for(evidence, coaching) if any(k.pattern.search(q.text) for q in quotes)]
    if process:
        finding = "process" if process_quoted and kinds else ("process_other" if process_quoted else "unclear")
    else:
        finding = {"text": "intention", "pointer": "pointer"}.get(state, "no_goal")
    group, pain = consumer_group(read, coaching)
    kind = kinds[0] if finding == "process" else None
    if kind is not None:
        question, draft_form = kind.question, kind.draft
    elif finding in ("process_other", "unclear"):
        question, draft_form = coaching.texts["unclear"]["question"], coaching.texts["unclear"].get("draft", "")
    else:
        question, draft_form = coaching.texts["no_goal"]["question"], coaching.texts["no_goal"]["draft"]
    draft = pain or (draft_form.format(who=group) if group and draft_form else "")
    if draft:
        draft = _capital(draft.strip())
        draft = draft if draft.endswith((".", "!", "?")) else draft + "."
    if intent is not None:
        question = coaching.texts["internal"]["question"]
    goal_text = _one_line(read.goal)
    if len(goal_text) > GOAL_LIMIT:
        lo, hi, _ = quote_span(read.goal, 0, min(len(read.goal), 1))
        goal_text = _one_line(read.goal[lo:hi]) if hi - lo <= GOAL_LIMIT else ""
    return {
        "finding": finding,
        "kinds": [k.view() for k in kinds[:2]],
        "kind": kind.view() if kind else None,
        "line": kind.line if kind else "",
        "question": question,
        "draft": draft,
        "who": group,
        "internal": intent is not None,
        "quotes": [q.view() for q in quotes],
        "goal": goal_text,
        "goal_state": state,
        "greeting": first_name(record.owner),
        "measurable": verdict.measurable,
    }
