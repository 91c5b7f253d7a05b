"""The engine's shortcuts change no answer: each is checked against the plain way."""

from __future__ import annotations

import random
import re

import pytest

from csi_coach import rules
from csi_coach.model import Evidence, Record
from csi_coach.rules.kinds import base, near
from support.paths import ROOT

WORDS = ("patients", "customers", "staff", "wait", "less", "faster", "save", "cost", "incidents", "MTTR",
         "tickets", "reduce", "the", "a", "so", "that", "of", "service", "desk", "can", "book", "online",
         "20%", "$40k", "because", "not", "without", "hours", "families", "revenue", "risk", "fewer")
SEPS = (" ", " ", " ", "  ", "\n", ", ", ". ", " - ", "\t", "; ", "\u00a0", "")


def random_text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(WORDS) + rng.choice(SEPS) for _ in range(n))


def verdicts(ruleset, records):
    return [rules.evaluate(r, ruleset).to_dict() for r in records]


@pytest.fixture(scope="module")
def ruleset():
    return rules.load_ruleset("default")


def test_near_word_bounds_keep_every_pair(ruleset, monkeypatch):
    rng = random.Random(7)
    records = [
        Record(source="t", key=str(i), number=str(i), url="", title=random_text(rng, 6),
               description=random_text(rng, rng.randint(0, 120)), goal=random_text(rng, rng.randint(0, 30)), service="")
        for i in range(300)
    ]
    fast = verdicts(ruleset, records)
    monkeypatch.setattr(near, "_word_bounds", lambda *a: (-float("inf"), float("inf")))
    assert verdicts(ruleset, records) == fast
    assert any(v["findings"] for v in fast)


def test_evidence_made_fast_is_the_same_evidence():
    a = base.make_evidence("goal", "cost", 3, 7)
    b = Evidence("goal", "cost", 3, 7)
    assert a == b and hash(a) == hash(b) and repr(a) == repr(b) and a.to_dict() == b.to_dict()
    with pytest.raises(AttributeError):
        a.start = 4  # still frozen


def test_engine_speed_floor_is_the_union_of_every_term(ruleset):
    # The bench's floor must do the whole job it stands for: every term, one regex.
    import importlib.util

    path = ROOT / "bench" / "engine_speed.py"
    spec = importlib.util.spec_from_file_location("engine_speed_floor", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    floor = mod.floor_regex(ruleset)
    terms = [t for ts in ruleset.vocabs.values() for t in ts]
    assert len(terms) > 1000
    for term in terms:
        text = "growers" if term.startswith("*") else term.lower()
        if term.startswith("*"):
            text = "abc" + term[1:].lower()
        assert floor.fullmatch(text), term


def _far(gap: str, w: int) -> bool:
    return gap.count(" ") >= w + 1 and len(gap.split()) > w


def test_near_word_bounds_are_the_first_far_positions():
    # The regex-found bounds equal the plain definition: the nearest positions from
    # which the gap holds more than w words and at least w+1 spaces.
    rng = random.Random(3)
    alphabet = ("a", "bb", "ccc", " ", " ", "  ", "\n", "\t", "\u00a0", "\u2003", ",", "\x85")
    inf = float("inf")
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        start = rng.randint(0, len(text))
        end = rng.randint(start, len(text))
        w = rng.randint(1, 4)
        x = next((p for p in range(end, len(text) + 1) if _far(text[end:p], w)), inf)
        y = next((p for p in range(start, -1, -1) if _far(text[p:start], w)), -inf)
        assert near._word_bounds(text, text[::-1], start, end, w) == (y, x), (text, start, end, w)
        # One side alone (an order rules the other out): that bound, the other open.
        assert near._word_bounds(text, text[::-1], start, end, w, "after") == (-inf, x)
        assert near._word_bounds(text, text[::-1], start, end, w, "before") == (y, inf)


def _unguarded(rx):
    # "(?=[first chars])(?:BODY)" -> BODY, the pattern as it was before the lookahead.
    pattern = rx.pattern
    assert pattern.startswith("(?=[") and pattern.endswith(")"), pattern
    body = pattern[pattern.index("])(?:") + len("])(?:") : -1]
    return re.compile(body, rx.flags)


@pytest.mark.parametrize("name", ["leads.clause", "leads.sentence", "leads.short", "near.clause", "near.sentence",
                                  "near.unless", "scanner.clause_end"])
def test_clause_patterns_with_a_first_char_lookahead_match_the_same(name):
    from csi_coach.rules import scanner
    from csi_coach.rules.kinds import leads

    rx = {"leads.clause": leads._OPENERS["clause"], "leads.sentence": leads._OPENERS["sentence"], "leads.short": leads._SHORT,
          "near.clause": near._BREAKS["clause"], "near.sentence": near._BREAKS["sentence"], "near.unless": near._CLAUSE,
          "scanner.clause_end": scanner._CLAUSE_END}[name]
    plain = _unguarded(rx)
    rng = random.Random(name)
    pieces = ("so", "So", "SO", "that", "And", "when", "where", "whereas", "which", "then", "because", "but", "BUT", "while",
              ".", ",", ":", ";", "!", "?", "1", "2.", "\u017fo", "a", "b", "s", " ", "\n", "(", ")", "*", "#", "\u2013",
              "\u2014", "band", "sob", "\u212a", "_")
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        lo = rng.randint(0, len(text))
        hi = rng.randint(lo, len(text))
        assert [m.span() for m in rx.finditer(text)] == [m.span() for m in plain.finditer(text)], text
        a, b = rx.search(text, lo, hi), plain.search(text, lo, hi)
        assert (a and a.span()) == (b and b.span()), (text, lo, hi)


def test_empty_fields_shortcut_changes_no_verdict(ruleset, monkeypatch):
    # Rules narrowed to empty fields answer NO at once (Context.blank); asking every
    # sub-rule instead must give the same verdicts, with each field empty in turn.
    from csi_coach.rules.engine import Context

    rng = random.Random(23)
    recs = []
    for i in range(300):
        fields = {f: random_text(rng, rng.randint(1, 30)) for f in ("title", "description", "goal", "service")}
        for f in rng.sample(sorted(fields), rng.randint(1, 3)):
            fields[f] = ""
        recs.append(Record(source="t", key=str(i), number="", url="", **fields))
    fast = verdicts(ruleset, recs)
    calls = []
    real = Context.blank
    monkeypatch.setattr(Context, "blank", lambda self, scope: calls.append(real(self, scope)) or False)
    assert verdicts(ruleset, recs) == fast
    assert any(calls)  # the shortcut would have been taken
    assert any(v["value_goal"] for v in fast) and any(f["rule"] == "process-without-value" for v in fast for f in v["findings"])
