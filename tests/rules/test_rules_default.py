"""The shipped rule set: its own examples, the guide's decided cases, evidence, purity."""

from __future__ import annotations

import pytest

from csi_coach import rules
from csi_coach.model import TEXT_FIELDS, Category, Record
from support.paths import ROOT


@pytest.fixture(scope="module")
def rs():
    return rules.load_ruleset("default")


def test_default_rules_own_examples_pass(rs):
    assert rules.run_examples(rs) == []


def test_run_examples_reports_a_failing_example(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('extends = "default"\n[rule.no-goal]\nexamples = { flag = ["Patients book online at any hour"] }\n')
    failures = rules.run_examples(rules.load_ruleset(path))
    assert len(failures) == 1
    assert "rule.no-goal" in failures[0] and "Patients book online" in failures[0] and "should flag" in failures[0]


GUIDE = [
    ("Branch staff open a new account in one visit instead of three", Category.VALUE),
    ("Cut MTTR for till outages so stores lose under 1% of Saturday sales", Category.LINKED),
    ("Reduce P1 incidents by 20% and raise FCR to 75%", Category.PROCESS_ONLY),
    ("Review the change process", Category.NO_GOAL),
    ("Improve monitoring", Category.NO_GOAL),
    ("Reduce customer tickets by 30%", Category.PROCESS_ONLY),
    ("Saves the service desk 40 hours a month", Category.PROCESS_ONLY),
    ("99.9% availability SLA met every month", Category.PROCESS_ONLY),
    ("Not aimed at cost savings; purely to hit the MTTR target", Category.PROCESS_ONLY),
    ("Clinicians wait under 2 s for a patient record", Category.VALUE),
    ("Ticket CSAT from shift workers to 4.2 by June", Category.PROCESS_ONLY),
    ("Cut the annual licence bill by £18k from the April renewal", Category.VALUE),
]


@pytest.mark.parametrize("text,category", GUIDE)
def test_guide_cases(rs, text, category):
    assert rules.evaluate_text(text, rs).category is category


# Who experiences the change is found by structure, not by a list of trades: none of
# these roles is in [vocab.consumer_role].
ROLES_BY_STRUCTURE = [
    "Every skipper who lands before 05:00 gets the morning price",  # noun before "who"
    "Conveyancers get register updates within 5 working days",  # plural agent noun
    "No detainee misses a review",  # "*ee"
    "Detectives get CCTV footage the same day",  # "*ives"
]


@pytest.mark.parametrize("text", ROLES_BY_STRUCTURE)
def test_a_role_missing_from_the_vocabulary_still_counts(rs, text):
    for word in ("skipper", "conveyancer", "detainee", "detective"):
        assert word not in rs.vocabs["consumer_role"]
    assert rules.evaluate_text(text, rs).value_goal


# A role word matches its stem's inflections, so roles whose stem is a common word stay
# out of the vocabulary: these name no person and no value.
NOT_PEOPLE = [
    "Applications get processed in under 2 days",  # not "applicant"
    "Reporting runs finish by 06:00 every day",  # not "reporter"
    "Hosting moves to the new cluster by March",  # not "host"
    "Objectives get agreed by Q2",  # "*ives" that is not a person
    "The audit log shows who changed each record by June",  # a "who" question, not a person
]


@pytest.mark.parametrize("text", NOT_PEOPLE)
def test_words_that_only_look_like_roles_name_no_value(rs, text):
    assert not rules.evaluate_text(text, rs).value_goal


def test_a_value_goal_anywhere_counts(rs):
    rec = Record(source="s", key="k", number="k", url="", title="Reduce P1 incidents on the portal",
                 description="Lots of incidents last quarter.", goal="Patients can book appointments online at any hour.")
    assert rules.evaluate(rec, rs).value_goal


def test_measurable_is_separate_from_category(rs):
    assert rules.evaluate_text("Patients book hygiene visits online by the end of Q3", rs).measurable
    assert not rules.evaluate_text("Patients book hygiene visits online whenever they like", rs).measurable


def test_every_finding_has_evidence_pointing_into_the_record(rs):
    rec = Record(source="s", key="k", number="k", url="", title="Reduce P1s",
                 description="MTTR is 6h.", goal="Cut MTTR so guests never wait more than 10 minutes to cash out")
    verdict = rules.evaluate(rec, rs)
    assert verdict.findings
    for f in verdict.findings:
        assert f.evidence, f.rule
        for e in f.evidence:
            assert e.field in TEXT_FIELDS and rec.text(e.field)[e.start : e.end] == e.text


def test_evaluate_is_deterministic_and_pure(rs):
    rec = Record(source="s", key="k", number="k", url="", title="t", goal="Reduce MTTR; patients wait less")
    first = rules.evaluate(rec, rs)
    for _ in range(3):
        again = rules.evaluate(rec, rules.load_ruleset("default"))
        assert again == first and again.digest() == first.digest()


def test_default_exempt_label(rs):
    rec = Record(source="s", key="k", number="k", url="", title="", goal="Review it", labels=("csi-coach-skip",))
    verdict = rules.evaluate(rec, rs)
    assert verdict.exempt and not verdict.flagged


def test_hostile_text_does_not_break_the_engine(rs):
    nasty = "\x00\ud800 {{ 7*7 }} " + "customers " * 2000 + "é" * 1000
    verdict = rules.evaluate_text(nasty, rs)
    assert verdict.category in set(Category)


def test_engine_speed_bench_runs(capsys):
    # Not a timing assertion: the bench must keep working and print its figures.
    import importlib.util

    path = ROOT / "bench" / "engine_speed.py"
    spec = importlib.util.spec_from_file_location("engine_speed", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--records", "20", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "records/s" in out and "ratio" in out
    records = mod.build_records(5, 1024)
    assert all(900 <= len(r.title) + len(r.description) + len(r.goal) + len(r.service) <= 1100 for r in records)


DESCRIPTION_WITH_GOAL = ("Members redeeming points are told to phone us when the ledger call times out.\n"
                         "What we want:\nMembers get a confirmed seat online in one go, by the end of Q2.")


@pytest.mark.parametrize("placeholder", ["See description", "see the description below", "As above.", "TBC", "N/A",
                                         "- see attached business case -", "To be confirmed"])
def test_a_goal_field_that_points_elsewhere_is_read_as_no_goal_field(rs, placeholder):
    # The owner put the goal in the description and a pointer in the mandatory goal
    # field: judged as if the goal field were empty, not told "no goal is stated".
    def verdict(goal):
        return rules.evaluate(Record(source="t", key="k", number="", url="", title="Loyalty redemption failures",
                                     description=DESCRIPTION_WITH_GOAL, goal=goal), rs)

    empty = verdict("")
    assert empty.value_goal and not any(f.rule == "no-goal" for f in empty.findings)
    got = verdict(placeholder)
    assert (got.category, got.value_goal, got.measurable) == (empty.category, empty.value_goal, empty.measurable)


@pytest.mark.parametrize("goal", ["See customers book online without calling", "None of our members miss a payment",
                                  "As above, plus patients wait under 10 minutes", "See ticket volumes halve",
                                  "See notes filed same day", "See title deeds issued faster",
                                  "See attachment rates double", "See details captured once",
                                  "See description fields validated", "See description\nFaster refunds",
                                  "See attached\nNo missed payments", "TBC: patients get results in 2 days"])
def test_a_goal_that_only_starts_like_a_pointer_is_a_goal(rs, goal):
    ctx = rules.engine.Context(Record(source="t", key="k", number="", url="", title="", description="", goal=goal), rs)
    assert ctx.holds("has-goal-field")


def test_no_other_vocabulary_claims_a_consumers_name(rs):
    # A term claims its inflections ("accounts" would claim "accountants", "supported"
    # "supporters"), and the longest term wins: a provider-side term added carelessly
    # can take a consumer's name from the consumer vocabularies without any rule test
    # noticing. Every consumer role, and common people named by what they do, must
    # still scan as people.
    import tomllib

    roles = tomllib.loads((ROOT / "rules" / "default.toml").read_text(encoding="utf-8"))["vocab"]["consumer_role"]["terms"]
    doers = ["supporters", "accountants", "surveyors", "builders", "callers", "viewers", "drivers", "riders",
             "sellers", "buyers", "renters", "borrowers", "lenders", "investors", "donors", "visitors", "vendors",
             "minors", "growers", "farmers", "dealers", "retailers", "hauliers", "operators", "inspectors",
             "adjusters", "volunteers", "trainees", "claimants", "subscribers", "listeners", "readers", "players"]
    people = {"consumer_role", "agent_noun"}
    lost = [w for w in [*roles, *doers]
            if not (tokens := rs.scanner.scan(w)) or tokens[0].text.lower() != w.lower() or not tokens[0].vocabs & people]
    assert lost == []
