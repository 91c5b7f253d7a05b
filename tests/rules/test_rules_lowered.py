"""Case-insensitive regex rules run case-sensitively over lower-cased text: same spans."""

from __future__ import annotations

import random
import re

import pytest

from csi_coach import rules
from csi_coach.model import Record
from csi_coach.rules.kinds.regex import RegexCondition
from csi_coach.rules.lowered import lowered_twin, plain

PATTERNS = [
    (r"\b(?:every|each|the)\s+(?:[a-z][\w'-]*\s+)?[a-z][\w'-]*(?=\s+who(?:se)?\b)|\b(?!(?:shows|is)\b)[a-z][\w'-]+s(?=\s+who(?:se)?\b)", re.I),
    (r"\d|(?i:\b(?:half|zero|by (?:q[1-4]|end of)|within|under|k\w+)\b)", 0),
    (r"(?m)^[^\w\n]*(?:h\d\.\s*)?(?:goals?|aim|why it matters)\b[^\n]{0,30}(?:\n|:)", re.I),
    (r"-(?:facing|related)\b|[^a-c\W]s\b", re.I),
    (r"\bstop\w*|\bki\w+", re.I | re.ASCII),
]
PIECES = ["Growers who", "every learner whose", "THE Skippers WHO", "ſkippers who", "every", "Each", "THE", "grower", "Growers", "who", "WHOSE", "shows", "is", "half", "HALF", "by Q3", "By End Of",
          "zero", "within", "Under", "goal", "Goals", "AIM", "Why it matters", "h2. ", "-facing", "-Related", "5", "12",
          "\u0130s", "\u0131s", "\u017ftop", "\u212ait", "kit", "STOP", "caf\u00e9", "\u00c9t\u00e9", "\u00df", "\u00a3", "\u2019",
          " ", " ", " ", "\n", ": ", ", ", ".", "\t", "'", "-"]


SEPS = [" ", " ", " ", "\n", ", ", ": ", ""]


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) + rng.choice(SEPS) for _ in range(rng.randint(0, 30)))


@pytest.mark.parametrize("pattern,flags", PATTERNS)
def test_twin_finds_the_same_spans(pattern, flags):
    rx = re.compile(pattern, flags)
    twin = lowered_twin(rx)
    assert twin is not None and not twin.flags & re.IGNORECASE
    rng = random.Random(pattern)
    matched = odd = 0
    for _ in range(3000):
        text = random_text(rng)
        spans = [m.span() for m in rx.finditer(text)]
        if plain(text):
            assert [m.span() for m in twin.finditer(text.lower())] == spans, text
            matched += bool(spans)
        else:
            odd += 1
    assert matched > 50 and odd > 100


def test_odd_folds_are_left_to_the_regex():
    # "\u017f" matches "s" ignoring case but does not lower-case to it: such text is not plain.
    rx = re.compile(r"stop", re.I)
    assert rx.search("\u017ftop") and not lowered_twin(rx).search("\u017ftop".lower())
    assert not plain("\u017ftop") and not plain("\u0130s") and not plain("\u212ait") and plain("caf\u00e9 \u00a3")


def test_no_twin_when_the_rewrite_would_not_be_exact():
    assert lowered_twin(re.compile(r"Q[1-4]", re.I)) is None  # a capital where case is ignored
    assert lowered_twin(re.compile(r"[A-Z]\w+", re.I)) is None
    assert lowered_twin(re.compile(r"(\w)\1", re.I)) is None  # back-reference
    assert lowered_twin(re.compile(r"caf\u00e9", re.I)) is None  # a non-ASCII letter
    assert lowered_twin(re.compile(r"\d+", 0)) is None  # case is not ignored: nothing to gain
    # "(?i:" inside a character class is text, not a flag: rewriting it would change the class.
    assert lowered_twin(re.compile(r"[(?i:]+|(?i:z)")) is None


def test_default_rules_with_and_without_twins_give_the_same_verdicts():
    ruleset = rules.load_ruleset("default")
    twinned = [r.id for r in ruleset.rules if isinstance(r.condition, RegexCondition) and r.condition.twin]
    assert {"person-who", "measure-term", "goal-heading"} <= set(twinned)
    rng = random.Random(4)
    words = ["Every", "learner", "WHO", "growers", "whose", "shows", "Goal:", "\n", "By Q3", "Half", "UNDER", "patients",
             "get", "wait", "less", "the", "so", "cut", "cost", "by", "20%", ".", "\u0130", "caf\u00e9", "Review", "5"]
    records = [Record(source="t", key=str(i), number="", url="", title=" ".join(rng.choices(words, k=5)),
                      description=" ".join(rng.choices(words, k=rng.randint(0, 80))),
                      goal=" ".join(rng.choices(words, k=rng.randint(0, 20))))
               for i in range(400)]
    fast = [rules.evaluate(r, ruleset).to_dict() for r in records]
    saved = {rid: ruleset.rule(rid).condition.twin for rid in twinned}
    try:
        for rid in twinned:
            object.__setattr__(ruleset.rule(rid).condition, "twin", None)
        assert [rules.evaluate(r, ruleset).to_dict() for r in records] == fast
    finally:
        for rid, t in saved.items():
            object.__setattr__(ruleset.rule(rid).condition, "twin", t)
    assert any(v["measurable"] for v in fast) and any(f["rule"] == "value-goal" for v in fast for f in v["findings"])
