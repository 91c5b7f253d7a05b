"""Each rule kind, on small rule files written for the test."""

from __future__ import annotations

import pytest

from csi_coach import rules
from support.rules import holds, result, write_rules

BASE = """
[settings]
negation_vocab = "neg"
[vocab.neg]
terms = ["not aimed at"]
[vocab.role]
terms = ["patient", "customer"]
[vocab.effect]
terms = ["wait", "book"]
[vocab.process]
terms = ["incident", "MTTR", "customer tickets"]
[vocab.cost]
terms = ["cost savings", "reduce cost"]
"""


@pytest.fixture()
def rs(tmp_path):
    body = BASE + """
[rule.role]
kind = "vocab"
vocab = "role"
[rule.role-in-goal]
kind = "vocab"
vocab = "role"
fields = ["goal"]
[rule.effect]
kind = "vocab"
vocab = "effect"
[rule.process]
kind = "vocab"
vocab = "process"
[rule.cost]
kind = "vocab"
vocab = "cost"
[rule.cost-raw]
kind = "vocab"
vocab = "cost"
negation = false
[rule.pct]
kind = "regex"
pattern = '\\d+\\s?%'
fields = ["goal"]
[rule.pct-negatable]
kind = "regex"
pattern = 'cost'
negation = true
[rule.has-goal]
kind = "field"
fields = ["goal"]
[rule.long-desc]
kind = "field"
fields = ["description"]
min_words = 3
[rule.consumer-effect]
kind = "near"
a = "role"
b = "effect"
within = 3
[rule.role-first]
kind = "near"
a = "role"
b = "effect"
order = "a-first"
[rule.near-unless]
kind = "near"
a = "role"
b = "effect"
unless = "process"
[rule.value]
kind = "any"
rules = ["consumer-effect", "cost"]
[rule.value-in-goal]
kind = "any"
rules = ["consumer-effect", "cost"]
fields = ["goal"]
[rule.both]
kind = "all"
rules = ["process", "value"]
[rule.no-value]
kind = "not"
rule = "value"
[rule.process-needs-value]
kind = "requires"
if = "process"
then = "value"
[rule.subject]
kind = "leads"
rule = "role"
unless = "process"
[rule.scoped]
kind = "vocab"
vocab = "role"
sources = ["jira-prod"]
containers = ["CSI"]
[rule.off]
kind = "vocab"
vocab = "role"
enabled = false
"""
    return rules.load_ruleset(write_rules(tmp_path, body))


def test_vocab_matches_inflections_in_scoped_fields(rs):
    assert holds(rs, "role", goal="Patients first")
    assert holds(rs, "role", description="for our customers")
    assert not holds(rs, "role-in-goal", description="for our customers")
    assert holds(rs, "cost", goal="This reduces costs")
    ev = result(rs, "cost", goal="It reduces costs").evidence
    assert [(e.field, e.text, e.start, e.end) for e in ev] == [("goal", "reduces costs", 3, 16)]


def test_vocab_negation_scope(rs):
    assert not holds(rs, "cost", goal="Not aimed at cost savings; purely the MTTR target")
    assert holds(rs, "cost-raw", goal="Not aimed at cost savings; purely the MTTR target")
    assert holds(rs, "cost", goal="Not aimed at speed. Cost savings instead")


def test_regex_kind(rs):
    assert holds(rs, "pct", goal="FCR to 75 %")
    assert not holds(rs, "pct", description="FCR to 75%")
    assert not holds(rs, "pct-negatable", goal="not aimed at cost")
    assert holds(rs, "pct-negatable", goal="lower cost")


def test_field_kind(rs):
    assert holds(rs, "has-goal", goal="x")
    assert not holds(rs, "has-goal", goal="   ")
    assert not holds(rs, "long-desc", description="two words")
    assert holds(rs, "long-desc", description="now three words")
    (e,) = result(rs, "has-goal", goal="  keep  ").evidence
    assert (e.text, e.start, e.end) == ("keep", 2, 6)


def test_near_kind_distance_order_and_clause(rs):
    assert holds(rs, "consumer-effect", goal="Patients wait less")
    assert not holds(rs, "consumer-effect", goal="Patients in the north east region wait less")
    assert not holds(rs, "consumer-effect", goal="Patients are happy. Nobody will wait")
    assert holds(rs, "role-first", goal="patients wait")
    assert not holds(rs, "role-first", goal="wait for patients")


def test_near_unless_blocks_labels(rs):
    assert holds(rs, "near-unless", goal="customers wait less")
    assert not holds(rs, "near-unless", goal="customers incidents wait")


def test_any_all_not(rs):
    assert holds(rs, "value", goal="cost savings")
    assert holds(rs, "value", goal="patients wait less")
    assert not holds(rs, "value", goal="MTTR down")
    assert holds(rs, "both", goal="MTTR down so patients wait less")
    assert not holds(rs, "both", goal="patients wait less")
    assert holds(rs, "no-value", goal="MTTR down")
    assert not holds(rs, "no-value", goal="cost savings")
    assert holds(rs, "value-in-goal", goal="cost savings")
    assert not holds(rs, "value-in-goal", description="cost savings")


def test_requires_fires_when_a_holds_without_b(rs):
    m = result(rs, "process-needs-value", goal="Fewer incidents and lower MTTR")
    assert m.holds and [e.text for e in m.evidence] == ["incidents", "MTTR"]
    assert not holds(rs, "process-needs-value", goal="Fewer incidents so patients wait less")
    assert not holds(rs, "process-needs-value", goal="patients wait less")


def test_leads_kind_wants_a_subject_not_a_label(rs):
    assert holds(rs, "subject", goal="Patients see results sooner")
    assert holds(rs, "subject", goal="MTTR down, so patients see results sooner")
    assert not holds(rs, "subject", goal="We will tell the patients later")
    assert not holds(rs, "subject", goal="Customer incidents down 20%")


def test_scope_by_source_and_container(rs):
    assert not holds(rs, "scoped", goal="patients")
    assert not holds(rs, "scoped", goal="patients", source="jira-prod", container="OPS")
    assert holds(rs, "scoped", goal="patients", source="jira-prod", container="CSI")


def test_disabled_rule_never_holds(rs):
    assert not holds(rs, "off", goal="patients")


def test_kind_registry_is_explicit():
    assert set(rules.KINDS) >= {"vocab", "regex", "field", "requires", "all", "any", "not", "near", "leads"}
    for name, module in rules.KINDS.items():
        assert callable(module.build) and isinstance(module.PARAMS, dict), name


def test_field_scoped_caller_gets_the_same_answer_as_a_filter(rs):
    from csi_coach.model import Record
    from csi_coach.rules.engine import Context

    rec = Record(source="t", key="k", number="k", url="", title="patients wait", description="cost savings", goal="MTTR")
    whole = Context(rec, rs).result("value")
    scoped = Context(rec, rs).result("value", frozenset({"title"}))
    assert whole.holds and scoped.holds
    assert {e.field for e in scoped.evidence} == {"title"}
    assert not Context(rec, rs).result("value", frozenset({"goal"})).holds
    # "not" is about the whole record, whatever scope its caller asks for.
    assert not Context(rec, rs).result("no-value", frozenset({"goal"})).holds


def test_near_unless_clause_blocks_anywhere_in_the_clause(tmp_path):
    body = BASE + """
[vocab.desk]
terms = ["call was handled"]
[rule.role]
kind = "vocab"
vocab = "role"
[rule.effect]
kind = "vocab"
vocab = "effect"
[rule.desk]
kind = "vocab"
vocab = "desk"
[rule.pair]
kind = "near"
a = "role"
b = "effect"
unless_clause = "desk"
"""
    rs = rules.load_ruleset(write_rules(tmp_path, body))
    assert holds(rs, "pair", goal="patients wait less")
    assert not holds(rs, "pair", goal="patients wait less now the call was handled")
    assert holds(rs, "pair", goal="patients wait less. The call was handled")


SENTENCE_RULES = """
[rule.figure]
kind = "regex"
pattern = '\\d+%?'
[rule.person]
kind = "regex"
pattern = '\\b(?:members|guests)\\b'
[rule.process]
kind = "regex"
pattern = '\\b(?:incidents|MTTR)\\b'
[rule.line]
kind = "sentence"
has = "figure"
with = "person"
unless = "process"
fields = ["description"]
"""


def test_sentence_kind_wants_all_three_in_one_sentence(tmp_path):
    rs = rules.load_ruleset(write_rules(tmp_path, SENTENCE_RULES))
    m = result(rs, "line", description="Background first. Members paid on the run | 92% | 99%\nIncidents | 40 | 10")
    assert m.holds
    assert [e.text for e in m.evidence] == ["Members paid on the run | 92% | 99%"]
    # the evidence is the sentence as it stands in the field
    e = m.evidence[0]
    text = "Background first. Members paid on the run | 92% | 99%\nIncidents | 40 | 10"
    assert text[e.start:e.end] == e.text
    # a figure and a person in different sentences do not pair
    assert not holds(rs, "line", description="Members complain. Target 90%.")
    # a process measure in the same sentence blocks it
    assert not holds(rs, "line", description="Members see fewer incidents: 40 to 10")
    # only the listed fields count
    assert not holds(rs, "line", goal="Members paid on the run | 92% | 99%")


def test_sentence_kind_reads_a_heading_with_the_line_under_it(tmp_path):
    body = SENTENCE_RULES.replace("[rule.line]", """[rule.goal-line]
kind = "regex"
pattern = 'Goal:\\s*\\d+%'
[rule.line]""").replace('has = "figure"', 'has = "goal-line"')
    rs = rules.load_ruleset(write_rules(tmp_path, body))
    m = result(rs, "line", description="Goal:\n90% of guests check in on the app")
    assert m.holds and m.evidence[0].text == "Goal:\n90% of guests check in on the app"
