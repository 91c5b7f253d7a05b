"""Asked only whether a rule holds, the engine gives the answer the full evaluation gives."""

from __future__ import annotations

import random

import pytest

from csi_coach import rules
from csi_coach.model import Record
from csi_coach.rules.engine import Context

WORDS = ("patients", "customers", "staff", "growers", "who", "wait", "less", "get", "book", "save", "cost", "£9k",
         "incidents", "MTTR", "tickets", "reduce", "cut", "the", "a", "so", "that", "of", "to", "aim", "we want",
         "service", "desk", "can", "online", "20%", "because", "not", "hours", "users", "review", "process", "by Q3",
         "won't notice", "IT team", "engineers", "penalties", "avoid", "stores", "lose", "sales", "half", "within")
SEPS = (" ", " ", " ", "\n", ", ", ". ", " - ", "; ", "")
SCOPES = (None, frozenset({"goal"}), frozenset({"title"}), frozenset({"description"}), frozenset({"goal", "title"}))


def text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(WORDS) + rng.choice(SEPS) for _ in range(n))


@pytest.fixture(scope="module")
def ruleset():
    return rules.load_ruleset("default")


def test_holds_alone_is_the_full_answer_for_every_rule_and_scope(ruleset):
    rng = random.Random(21)
    seen = {True: 0, False: 0}
    for i in range(150):
        rec = Record(source="t", key=str(i), number="", url="", title=text(rng, rng.randint(0, 8)),
                     description=text(rng, rng.randint(0, 60)), goal="" if i % 3 == 0 else text(rng, rng.randint(0, 15)))
        # The full answers, as a scan gets them: every rule evaluated in one context (results
        # only: a context that was asked for a full answer gives it to holds() as it is).
        evaluated = Context(rec, ruleset)
        full = {(rid, scope): evaluated.result(rid, scope).holds for rid in ruleset.rule_ids for scope in SCOPES}
        # Each scope takes its turn as the first one asked after the two the category asks.
        scopes = SCOPES[i % len(SCOPES):] + SCOPES[:i % len(SCOPES)]
        for rid in ruleset.rule_ids:
            # Asked first for the yes/no alone, in a fresh context ...
            for scope in SCOPES:
                assert Context(rec, ruleset).holds(rid, scope) == full[rid, scope], (rid, scope, rec)
                seen[full[rid, scope]] += 1
            # ... then in a context where others were asked before (the category's rules,
            # then this rule in the scopes before this one).
            ctx = Context(rec, ruleset)
            ctx.holds("process-signal")
            ctx.holds("measurable")
            for scope in scopes:
                assert ctx.holds(rid, scope) == full[rid, scope], (rid, scope, rec)
    assert seen[True] > 1000 and seen[False] > 1000


def test_rules_that_hold_without_evidence_in_scope_are_checked_by_their_evidence(tmp_path):
    from support.rules import write_rules

    path = write_rules(tmp_path, """
[vocab.w]
terms = ["cost", "patients"]
[rule.word]
kind = "vocab"
vocab = "w"
[rule.title-word]
kind = "vocab"
vocab = "w"
fields = ["title"]
[rule.no-digits]
kind = "not"
rule = "digit"
[rule.digit]
kind = "regex"
pattern = '\\d'
[rule.title-needs-digit]
kind = "requires"
if = "title-word"
then = "digit"
[rule.both]
kind = "all"
rules = ["no-digits", "title-word"]
[rule.in-goal-any]
kind = "any"
rules = ["title-needs-digit", "both", "no-digits"]
fields = ["goal"]
[rule.in-goal-all]
kind = "all"
rules = ["title-needs-digit", "no-digits"]
fields = ["goal"]
[rule.in-title-all]
kind = "all"
rules = ["both", "title-needs-digit"]
fields = ["title"]
""")
    ruleset = rules.load_ruleset(path)
    cases = [("cost", "patients"), ("cost 5", ""), ("", "cost"), ("patients", "")]
    for title, goal in cases:
        rec = Record(source="t", key="k", number="k", url="", title=title, goal=goal)
        for rid in ("in-goal-any", "in-goal-all", "in-title-all", "both", "title-needs-digit"):
            for scope in SCOPES:
                full = Context(rec, ruleset).result(rid, scope).holds
                assert Context(rec, ruleset).holds(rid, scope) == full, (rid, scope, title, goal)
    # the case that matters: "requires" holds with evidence in the title only
    rec = Record(source="t", key="k", number="k", url="", title="cost", goal="")
    assert Context(rec, ruleset).result("title-needs-digit").holds
    assert not Context(rec, ruleset).result("in-goal-any").holds
    assert Context(rec, ruleset).result("in-title-all").holds
