"""A lookahead of a pattern's first characters in front of it (rules.starts): same spans."""

from __future__ import annotations

import random
import re

import pytest

from csi_coach import rules
from csi_coach.rules.kinds.regex import RegexCondition
from csi_coach.rules.lowered import lowered_twin
from csi_coach.rules.starts import guarded

PIECES = ["from 2.8 to 4.2", "from 12% to", "to at least", "back to under", "no more than 3", "48% -> 70%", "% →",
          "target 95%", "Target: 4", "KR1: 70%", "baseline 3.5h target 1h", "stop paying", "Stop Paying",
          "so that", "So", "because", "then", "instead of", "by 04:00", "at 05:30", "v5.12", "INC-8812", "P1",
          "£3k", "€", "USD 40", "$", "\u017fo that", "\u212a", "\u0130f we", "then", "as a customer", "As A",
          "who", "whose", "no patient", "ZERO", "within 5 days", "- below 1%", " - 70%", "(Q3 1.4%)", "| 71% | 60%",
          "h3. Goal:", "## Outcome", "Obj 3.2", "caf\u00e9", "\u00c9t\u00e9", "\uff13", "\u0663", "\u00a0",
          " ", " ", " ", "\n", ": ", ", ", ".", "\t", "'", "-", "x", "word", "Words"]


def _texts(seed: str, n: int = 1500) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) + rng.choice([" ", "", "\n", ", "]) for _ in range(rng.randint(1, 14)))
            for _ in range(n)]


def _spans(rx: re.Pattern, text: str) -> list[tuple[int, int]]:
    return [m.span() for m in rx.finditer(text) if m.end() > m.start()]


def _shipped_regexes():
    ruleset = rules.load_ruleset("default")
    return [(r.id, r.condition) for r in ruleset.rules if isinstance(r.condition, RegexCondition)]


@pytest.mark.parametrize("rule_id, cond", _shipped_regexes(), ids=lambda x: x if isinstance(x, str) else "")
def test_each_shipped_pattern_finds_the_same_spans_with_its_lookahead(rule_id, cond):
    pairs = [(cond.regex, cond.fast)]
    if cond.twin is not None:
        pairs.append((lowered_twin(cond.regex), cond.twin))
    for plain, fast in pairs:
        assert fast is not None
        for text in _texts(rule_id):
            subject = text.lower() if fast is cond.twin else text
            assert _spans(fast, subject) == _spans(plain, subject), (rule_id, text)


def test_the_slow_target_patterns_get_a_lookahead():
    # The patterns that open with "\b" and an alternation are the ones worth guarding:
    # if the parse tree reading broke, they would quietly run without one.
    conds = dict(_shipped_regexes())
    for rule_id in ("target-wording", "target-phrase", "causal-link", "measure-term", "threshold-target"):
        assert conds[rule_id].fast is not conds[rule_id].regex, rule_id
        assert conds[rule_id].fast.pattern.startswith("(?=["), rule_id


@pytest.mark.parametrize("pattern, flags, text, spans", [
    (r"\b(?:so that|because)\b", re.I, "SO THAT and Because", [(0, 7), (12, 19)]),
    (r"(?im)^[ \t-]*(?:goal|aim)\s*:", 0, "x\n- Goal: a\nAIM:", [(2, 9), (12, 16)]),
    (r"\bstop\w*", re.I, "\u017ftop now", [(0, 4)]),  # long s folds to "s" ignoring case
    (r"(?<!\w)\d+%|\bhalf\b", 0, "a5% 50% half", [(4, 7), (8, 12)]),
    (r"(?:\s|^)(?:x|y)\d", re.M, "ax1 x2\ny3", [(3, 6), (6, 9)]),
])
def test_guarded_patterns_keep_flags_groups_and_spans(pattern, flags, text, spans):
    rx = re.compile(pattern, flags)
    fast = guarded(rx)
    assert fast.pattern.startswith("(?=[") and fast.flags == rx.flags and fast.groups == rx.groups
    assert _spans(fast, text) == _spans(rx, text) == spans


@pytest.mark.parametrize("pattern", [
    r"abc|abd",  # opens with a literal: the engine skips ahead on its own
    r"[a-c]x",  # a plain class, the same
    r"\b\w*",  # may match the empty string
    r"\b.x",  # any character may start it
    r"\b[^a]x",  # nearly any
    r"(a)\1",  # a back-reference: not read
    r"(?:\w|\W)x",  # everything: not worth a test at every position
])
def test_patterns_that_gain_nothing_or_cannot_be_read_are_left_as_they_are(pattern):
    rx = re.compile(pattern)
    assert guarded(rx) is rx


def test_made_up_patterns_with_inline_flags_and_letters_past_ascii_find_the_same_spans():
    # Inside "(?i:...)" a letter past ASCII may match an ASCII one (Kelvin's sign matches
    # "k" and "K", the long s "s"), and the other way round: the lookahead must keep them.
    rng = random.Random(7)
    atoms = ["\u212a", "\u017f", "\u0130", "\u0131", "k", "K", "s", "i", "I", "\u00e9", "[\u2120-\u2130]", "[a-c]",
             "\\d", "x", "-", "%", "\\s"]
    texts = ["".join(rng.choice(["K", "k", "\u212a", "s", "S", "\u017f", "i", "I", "\u0130", "\u0131", "\u00e9",
                                 "\u00c9", "x", "5", " ", "-", "%", "b", "\u2126"]) for _ in range(rng.randint(1, 12)))
             for _ in range(300)]
    checked = 0
    for _ in range(400):
        body = "|".join("".join(rng.choice(atoms) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(1, 3)))
        for pattern, flags in ((rf"\b(?i:{body})b?", 0), (rf"\b(?:{body})", re.IGNORECASE), (rf"(?<!x)(?:{body})", 0),
                               (rf"\b(?-i:{body})|(?i:k\d)", re.IGNORECASE)):
            rx = re.compile(pattern, flags)
            fast = guarded(rx)
            checked += fast is not rx
            for text in texts:
                assert _spans(fast, text) == _spans(rx, text), (pattern, flags, text)
    assert checked > 100  # the lookahead was in front of many of them
