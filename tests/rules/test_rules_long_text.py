"""Long fields are judged in linear time, with the same answers as the plain way.

Each place that used to read from a piece of evidence to the end of its field (so a
long field with many pieces took quadratic time: see bench/hostile_text.py) now
stops early; these tests check each stop against the plain definition.
"""

from __future__ import annotations

import random
import re

import pytest

from csi_coach import rules
from csi_coach.model import Record
from csi_coach.rules.engine import Context
from csi_coach.rules.kinds import leads, near

INF = float("inf")


@pytest.fixture(scope="module")
def ruleset():
    return rules.load_ruleset("default")


def _far(gap: str, w: int) -> bool:
    return gap.count(" ") >= w + 1 and len(gap.split()) > w


def test_word_bounds_in_long_text_equal_the_definition_up_to_the_reach_callers_use():
    # Past (w + 1) * 40 characters the bound is reported as none: callers cap it there,
    # so the capped answers must agree with the plain definition.
    rng = random.Random(11)
    alphabet = ("a", "b" * 30, "c" * 90, " ", " ", "\n", "\u00a0", ",", "x")
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))
        start = rng.randint(0, len(text))
        end = rng.randint(start, len(text))
        w = rng.randint(1, 4)
        cap = (w + 1) * 40 + 1
        x = next((p for p in range(end, len(text) + 1) if _far(text[end:p], w)), INF)
        y = next((p for p in range(start, -1, -1) if _far(text[p:start], w)), -INF)
        got_y, got_x = near._word_bounds(text, text[::-1], start, end, w)
        assert min(got_x, end + cap) == min(x, end + cap), (text, start, end, w)
        assert max(got_y, start - cap) == max(y, start - cap), (text, start, end, w)
        # Within the reach, the bound itself is found.
        if x <= end + cap:
            assert got_x == x
        if y >= start - cap:
            assert got_y == y


def test_more_words_counts_as_str_split_does():
    rng = random.Random(5)
    alphabet = ("a", "bb", " ", "  ", "\n", "\t", "\u00a0", "\u2003", "\x1c", "\x85", ",", "\u200b")
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        lo = rng.randint(0, len(text))
        hi = rng.randint(lo, len(text))
        n = rng.randint(0, 5)
        assert (leads.more_words(n)(text, lo, hi) is not None) == (len(text[lo:hi].split()) > n), (text, lo, hi, n)


def _negated_plainly(ctx: Context, name: str, pos: int) -> bool:
    # As it was before it bisected: walk every term before pos for the last negation
    # cue; it governs pos when few words and no clause end lie between.
    from csi_coach.rules.scanner import _CLAUSE_END

    scanner = ctx.ruleset.scanner
    last = None
    for t in ctx.tokens(name):
        if t.start >= pos:
            break
        if scanner.negation_vocab in t.vocabs:
            last = t
    if last is None:
        return False
    gap = ctx.text(name)[last.end:pos]
    return len(gap.split()) <= scanner.negation_window and not _CLAUSE_END.search(gap)


@pytest.mark.parametrize("overlay", [None, "window 0", "window 1", "cue ending in a digit"])
def test_negated_at_finds_the_last_cue_as_a_walk_over_every_term_does(ruleset, tmp_path, overlay):
    if overlay is None:
        rs = ruleset
    else:
        extra = {"window 0": "[settings]\nnegation_window = 0\n", "window 1": "[settings]\nnegation_window = 1\n",
                 "cue ending in a digit": '[vocab.negation]\nadd = ["not v2", "not about 2"]\n'}[overlay]
        (tmp_path / "r.toml").write_text('extends = "default"\n' + extra)
        rs = rules.load_ruleset(str(tmp_path / "r.toml"))
    rng = random.Random(overlay or "default")
    pieces = ("not about", "no impact on", "not v2", "not about 2", "customers", "$40k", "saves", "costs", ".", ",",
              " ", " ", "so", "x" * 60, "x" * 300, " " * 300, "staff", "MTTR", "rather than anything", "1.", "1", "5",
              ":", "but", "butter", "because", "sob", "\n", "\u00a0", ";", "(")
    seen_negated = 0
    for i in range(150):
        text = "".join(rng.choice(pieces) + rng.choice(("", " ", " ")) for _ in range(rng.randint(0, 50)))
        ctx = Context(Record(source="t", key=str(i), number="", url="", title="", description=text), rs)
        for pos in range(0, len(text) + 1):
            want = _negated_plainly(ctx, "description", pos)
            assert ctx.negated_at("description", pos) == want, (text, pos)
            seen_negated += want
    assert seen_negated > 100  # the cases exercised include negated ones


def _partner_spans_read_to_the_end(self, ctx, f, a_evidence):
    # NearCondition._partner_spans as it was before its break search was bounded.
    text = ctx.text(f)
    breaker = near._BREAKS[self.same]
    spans = []
    side = "after" if self.order == "a-first" else "before" if self.order == "b-first" else "both"
    for ea, (lo, hi) in zip(a_evidence, self._reach_spans(ctx, a_evidence, side)):
        if self.order == "a-first":
            lo = max(lo, ea.start)
        if self.order == "b-first":
            hi = min(hi, ea.start + 1)
        elif breaker is not None:
            m = breaker.search(text, ea.end)
            if m is not None and m.end() < hi:
                hi = m.end()
        spans.append((lo, hi))
    return spans


def test_partner_spans_found_with_a_bounded_search_change_no_verdict(ruleset, monkeypatch):
    rng = random.Random(31)
    words = ("customers", "patients", "wait", "less", "faster", "so", "because", "which", "we", "want", "aim",
             "to", "the", "staff", "save", "costs", "$40k", "revenue", "grow", "MTTR", "incidents", "Goal:", "but")
    seps = (" ", " ", " ", ", ", ". ", "\n", "; ", " - ", "")
    recs = []
    for i in range(200):
        desc = "".join(rng.choice(words) + rng.choice(seps) for _ in range(rng.randint(0, 300)))
        goal = "".join(rng.choice(words) + rng.choice(seps) for _ in range(rng.randint(0, 40)))
        recs.append(Record(source="t", key=str(i), number="", url="", title="x", description=desc, goal=goal))
    # The spans themselves, for every "near" rule and field ...
    compared = 0
    for r in recs:
        ctx = Context(r, ruleset)
        for rule in ruleset.rules:
            if rule.kind != "near":
                continue
            c = rule.condition
            for f in ("description", "goal"):
                ev = [e for e in ctx.result(c.a, frozenset([f])).evidence if e.field == f]
                if ev:
                    got = c._partner_spans(ctx, f, ev)
                    assert got == _partner_spans_read_to_the_end(c, ctx, f, ev), (rule.id, f, r.description)
                    compared += len(ev)
    assert compared > 1000
    # ... and the verdicts.
    bounded = [rules.evaluate(r, ruleset).to_dict() for r in recs]
    monkeypatch.setattr(near.NearCondition, "_partner_spans", _partner_spans_read_to_the_end)
    assert [rules.evaluate(r, ruleset).to_dict() for r in recs] == bounded
    assert sum(bool(v["findings"]) for v in bounded) > 100


def test_measure_led_goal_pattern_matches_as_the_lazy_one_did(ruleset):
    # The shipped pattern tries only the first figure; the lazy one it replaced tried
    # each figure in turn (quadratic on a goal of figures). Same matches.
    rx = ruleset.rule("measure-led-goal").condition.regex
    lazy = re.compile(r"^[^.;!?]*?\d[^.;!?]*?\b(?:so that|so|because|which|meaning)\b", rx.flags)
    assert rx.pattern != lazy.pattern
    rng = random.Random(2)
    pieces = ("1", "20", "%", " ", "so", "so that", "because", "which", "meaning", "also", "sober", ".", ";", "!",
              "?", "x", "Customers", "\n", "\u0663")
    hits = 0
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 16)))
        a, b = rx.search(text), lazy.search(text)
        assert (a and a.span()) == (b and b.span()), text
        hits += a is not None
    assert hits > 50


@pytest.mark.parametrize("gap", ["x" * 279, " " * 281, "\u00a0" * 280, "one two three four five " + "y" * 500])
def test_a_cue_negates_a_match_after_few_words_however_long_they_are(ruleset, gap):
    # Words, not characters, measure a negation's reach over a regex match: "not about"
    # before a money figure, with up to six long words (or only spaces) between.
    goal = "Not about " + gap + " $40k in fines"
    v = rules.evaluate(Record(source="t", key="k", number="", url="", title="Licence renewal", description="",
                              goal=goal), ruleset)
    # Negated, the amount is no value goal; the goal names nothing else, so the bot
    # cannot tell (not negated, it would read as value).
    assert v.value_goal is None and v.category.value == "unsure"
