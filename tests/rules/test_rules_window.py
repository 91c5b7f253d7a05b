"""Windowed answers (rules.window) keep every piece of the full answer in the window."""

from __future__ import annotations

import random

import pytest

from csi_coach import rules
from csi_coach.model import Record
from csi_coach.rules import window
from csi_coach.rules.engine import Context

WORDS = ("patients", "customers", "staff", "growers", "who", "wait", "less", "get", "book", "save", "cost", "£9k",
         "incidents", "MTTR", "tickets", "reduce", "cut", "the", "a", "so", "that", "so that", "of", "to", "aim", "goal",
         "we want", "service", "desk", "can", "online", "20%", "because", "not", "hours", "families", "revenue", "risk",
         "fewer", "users", "every", "learner", "IT team", "engineers", "penalties", "avoid", "stores", "lose", "sales")
SEPS = (" ", " ", " ", "  ", "\n", ", ", ". ", " - ", "; ", ": ", "! ", " but ", "")
D = frozenset({"description"})


def random_text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(WORDS) + rng.choice(SEPS) for _ in range(n))


@pytest.fixture(scope="module")
def ruleset():
    return rules.load_ruleset("default")


def records(n: int, seed: int) -> list[Record]:
    rng = random.Random(seed)
    return [Record(source="t", key=str(i), number="", url="", title=random_text(rng, 5),
                   description=random_text(rng, rng.randint(0, 150)),
                   goal="" if i % 2 else random_text(rng, rng.randint(0, 20)))
            for i in range(n)]


def test_make_merges_and_keep_takes_what_overlaps():
    assert window.make([(5, 9), (0, 3), (3, 4), (8, 12), (20, 20)]) == ((0, 4), (5, 12))
    from csi_coach.model import Evidence

    ev = (Evidence("description", "ab", 0, 2), Evidence("description", "cd", 4, 6), Evidence("description", "ef", 12, 14))
    assert window.keep(ev, ((2, 5),)) == (ev[1],)  # [0, 2) ends where the window starts
    assert window.keep(ev, ((1, 13),)) == ev
    assert window.keep(ev, ()) == ()


def test_windowed_answer_holds_the_full_answer_in_the_window(ruleset):
    assert {"value-statement", "consumer-effect", "person-subject"} <= ruleset.windowed
    rng = random.Random(11)
    checked = 0
    for rec in records(300, 5):
        n = len(rec.description)
        for rid in ("value-statement", "consumer-effect", "consumer-subject", "linked-consumer"):
            spans = [(a, a + rng.randint(1, 120)) for a in sorted(rng.randint(-10, n + 10) for _ in range(rng.randint(1, 3)))]
            win = window.make(spans)
            full = Context(rec, ruleset).result(rid, D)
            part = Context(rec, ruleset).result_in(rid, D, win)
            whole = set(full.evidence)
            assert set(part.evidence) <= whole
            assert set(window.keep(full.evidence, win)) <= set(part.evidence)
            checked += bool(window.keep(full.evidence, win))
    assert checked > 50  # windows that did hold evidence


def test_verdicts_with_and_without_windows_are_the_same(ruleset):
    recs = records(400, 9)
    fast = [rules.evaluate(r, ruleset).to_dict() for r in recs]
    saved = ruleset.windowed
    try:
        object.__setattr__(ruleset, "windowed", frozenset())
        assert [rules.evaluate(r, ruleset).to_dict() for r in recs] == fast
    finally:
        object.__setattr__(ruleset, "windowed", saved)
    assert any(f["rule"] == "value-goal" for v in fast for f in v["findings"])
