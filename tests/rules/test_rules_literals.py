"""The literal gate of regex rules: False only for text the regex cannot match."""

from __future__ import annotations

import random
import re

import pytest

from csi_coach import rules
from csi_coach.model import Record
from csi_coach.rules.kinds.regex import RegexCondition
from csi_coach.rules.literals import gate

PATTERNS = [
    r"\b(?:every|each)\s+[a-z][\w'-]*(?=\s+who(?:se)?\b)|\b(?!(?:shows|knows)\b)[a-z][\w'-]+s(?=\s+who(?:se)?\b)",
    r"[£$€¥]\s?\d[\d,.]*|\d[\d,.]*\s?(?:AUD|USD|dollars)\b|(?:AUD|USD)\s?\d+",
    r"\d+\s?(?i:hours?|days?)",
    r"\w*(?i:stop)|\bKIT\b",
    r"\w+(?=\s+is)",
    r"(?:ab)+c|x{2,}yz",
]
ALPHABET = list("abcdefghijklmnopqrstuvwxyz   ") + ["who", "WHO", "Whose", "s who", "is", "ſ", "İ", "ı", "K", "£5",
                                                    "$", "12 ", "AUD", "dollars", " hours", "HOURS", "ab", "c", "xx", "yz",
                                                    "shows who", "each one who", "ſtop", "STOP", "kit", "KIT", "\n"]


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("flags", [0, re.IGNORECASE, re.IGNORECASE | re.ASCII])
def test_gate_is_false_only_where_the_regex_cannot_match(pattern, flags):
    rx = re.compile(pattern, flags)
    test = gate(rx)
    assert test is not None  # each of these needs a literal and starts without one
    rng = random.Random(hash((pattern, flags)) & 0xFFFF)
    passed = blocked = 0
    for _ in range(3000):
        text = random_text(rng)
        if rx.search(text):
            assert test(text), (pattern, text)
            passed += 1
        elif not test(text):
            blocked += 1
    assert passed and blocked  # both sides were tried


def test_odd_case_folds_are_not_lost():
    # "ſ" matches "s" ignoring case, though "ſ".lower() is not "s"; "İ" matches "i".
    assert gate(re.compile(r"\w+s who", re.I))("The boſſ WHO")
    assert re.compile(r"\w+s who", re.I).search("The boſſ WHO")
    assert gate(re.compile(r"\d+ (?:items|units)", re.I))("3 İTEMS")


def test_no_gate_where_it_would_not_pay_or_no_literal_is_needed():
    assert gate(re.compile(r"\d[\d.,]*(?:\s?%)?")) is None  # no literal needed
    assert gate(re.compile(r"-(?:facing|related)\b")) is None  # starts with a literal already
    assert gate(re.compile(r"(?m)^\W*(?:goal|aim)\b")) is None  # anchored at line starts
    many = "|".join(f"{chr(97 + i % 26)}q{i}" for i in range(40))
    assert gate(re.compile(rf"\w+(?:{many})")) is None  # too many literals to look for


def test_default_rules_gated_give_the_same_verdicts():
    ruleset = rules.load_ruleset("default")
    gated = [r.id for r in ruleset.rules if isinstance(r.condition, RegexCondition) and r.condition.gate]
    assert "person-who" in gated
    rng = random.Random(3)
    words = ["Every", "learner", "who", "growers", "whose", "shows", "£40k", "5 USD", "patients", "get", "wait", "less",
             "the", "so", "cut", "cost", "by", "20%", ".", "\n", "aim", "is", "to", "save"]
    records = [Record(source="t", key=str(i), number="", url="", title=" ".join(rng.choices(words, k=5)),
                      description=" ".join(rng.choices(words, k=rng.randint(0, 80))),
                      goal=" ".join(rng.choices(words, k=rng.randint(0, 20))))
               for i in range(400)]
    fast = [rules.evaluate(r, ruleset).to_dict() for r in records]
    saved = {rid: ruleset.rule(rid).condition.gate for rid in gated}
    try:
        for rid in gated:
            object.__setattr__(ruleset.rule(rid).condition, "gate", None)
        assert [rules.evaluate(r, ruleset).to_dict() for r in records] == fast
    finally:
        for rid, g in saved.items():
            object.__setattr__(ruleset.rule(rid).condition, "gate", g)
    assert any(f["rule"] == "value-goal" for v in fast for f in v["findings"])
