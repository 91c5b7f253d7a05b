"""The rules loader: extends chains, admin tuning, and every error naming file, key, line."""

from __future__ import annotations

from pathlib import Path

import pytest

from csi_coach import rules
from csi_coach.errors import ConfigError
from csi_coach.model import Record, Severity
from support.rules import write_rules


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        rules.load_ruleset(path)
    return info.value


# (name, rule file text, substrings the message must contain, key path, line)
BROKEN = [
    ("syntax", 'extends = "default"\n[rule.value-goal\nseverity = "info"\n', ["not valid TOML"], None, 2),
    ("unknown-top-key", 'extends = "default"\n[rulez.x]\nkind = "vocab"\n', ["unknown top-level key 'rulez'", "did you mean 'rule'"], "rulez", 2),
    ("unknown-rule-id", 'extends = "default"\n\n[rule.value-gaol]\nseverity = "info"\n', ["unknown rule id 'value-gaol'", "did you mean 'value-goal'"], "rule.value-gaol", 3),
    ("bad-severity", 'extends = "default"\n[rule.no-goal]\nseverity = "loud"\n', ["bad value for 'severity'", "'loud'", '"error", "warning", "info", "off"'], "rule.no-goal.severity", 3),
    ("bad-regex", 'extends = "default"\n[rule.mine]\nkind = "regex"\npattern = "(unclosed"\n', ["bad regular expression", "(unclosed"], "rule.mine.pattern", 4),
    ("unknown-kind", 'extends = "default"\n[rule.mine]\nkind = "fuzzy"\nvocab = "x"\n', ["unknown rule kind 'fuzzy'", "vocab", "near", "requires"], "rule.mine.kind", 3),
    ("unknown-rule-key", 'extends = "default"\n[rule.no-goal]\nseverty = "info"\n', ["unknown key 'severty'", "severity"], "rule.no-goal.severty", 3),
    ("wrong-type-enabled", 'extends = "default"\n[rule.no-goal]\nenabled = "no"\n', ["bad value for 'enabled'", "true or false", "'no'"], "rule.no-goal.enabled", 3),
    ("missing-extends-target", 'extends = "nowhere.toml"\n', ["does not exist", "nowhere.toml"], "extends", 1),
    ("unknown-vocab", 'extends = "default"\n[rule.mine]\nkind = "vocab"\nvocab = "consumer_rols"\n', ["no vocabulary named 'consumer_rols'", "consumer_role"], "rule.mine.vocab", 4),
    ("unknown-ref", 'extends = "default"\n[rule.mine]\nkind = "requires"\nif = "process-metric"\nthen = "valu-goal"\n', ["refers to unknown rule 'valu-goal'", "value-goal"], "rule.mine.then", 5),
    ("remove-missing-term", 'extends = "default"\n[vocab.consumer_role]\nremove = ["martians"]\n', ["'martians' is not a term of vocabulary 'consumer_role'"], "vocab.consumer_role.remove", 3),
    ("add-to-unknown-vocab", 'extends = "default"\n[vocab.consumer_roles]\nadd = ["growers"]\n', ["vocabulary 'consumer_roles' does not exist", "did you mean 'consumer_role'", "terms = ["], "vocab.consumer_roles.add", 3),
    ("new-vocab-without-terms", 'extends = "default"\n[vocab.growers]\n', ["new vocabulary 'growers' has no terms", "terms = ["], "vocab.growers", 2),
    ("terms-not-list", 'extends = "default"\n[vocab.consumer_role]\nadd = "growers"\n', ["bad list of terms", "a list of words"], "vocab.consumer_role.add", 3),
    ("missing-param", 'extends = "default"\n[rule.mine]\nkind = "near"\na = "consumer-role"\n', ["missing key 'b'"], "rule.mine.b", None),
    ("bad-field-name", 'extends = "default"\n[rule.mine]\nkind = "vocab"\nvocab = "consumer_role"\nfields = ["summary"]\n', ["bad value for 'fields'", '"title", "description", "goal", "service"'], "rule.mine.fields", 5),
    ("bad-examples", 'extends = "default"\n[rule.no-goal]\nexamples = { flag = ["x"], fail = ["y"] }\n', ["unknown key 'fail' in examples", '"flag" or "pass"'], "rule.no-goal.examples.fail", 3),
    ("bad-exempt-field", 'extends = "default"\n[exempt]\nfields = { status = ["closed"] }\n', ["unknown record field 'status'", "state"], "exempt.fields.status", 3),
    ("classify-unknown-rule", 'extends = "default"\n[classify]\nvalue = "nope"\n', ["[classify] value names no rule"], "classify.value", 3),
    ("negative-window", 'extends = "default"\n[settings]\nnegation_window = -1\n', ["bad value for 'negation_window'", "whole number"], "settings.negation_window", 3),
    ("huge-within", 'extends = "default"\n[rule.consumer-subject]\nunless_within = 5000000000\n', ["bad value for 'unless_within'", "from 0 to 1000", "5000000000"], "rule.consumer-subject.unless_within", 3),
]


@pytest.mark.parametrize("name,text,needles,key,line", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_rule_files_name_file_key_line_and_fix(tmp_path, name, text, needles, key, line):
    path = write_rules(tmp_path, text, trailer=False)
    err = load_error(path)
    message = str(err)
    assert str(path) in message
    for needle in needles:
        assert needle in message, message
    if key is not None:
        assert err.key == key and f"[{key}]" in message
    if line is not None:
        assert err.line == line, message


def test_rule_cycle_is_an_error(tmp_path):
    path = write_rules(tmp_path, '[rule.a]\nkind = "not"\nrule = "b"\n[rule.b]\nkind = "any"\nrules = ["a"]\n')
    message = str(load_error(path))
    assert "cycle" in message and ("a -> b -> a" in message or "b -> a -> b" in message)


def test_extends_cycle_is_an_error(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    message = str(load_error(tmp_path / "a.toml"))
    assert "cycle" in message and "a.toml" in message


def test_new_rule_without_kind_in_a_base_file(tmp_path):
    path = write_rules(tmp_path, '[rule.lonely]\nseverity = "info"\n')
    assert "a new rule needs a kind" in str(load_error(path))


def test_missing_rules_file(tmp_path):
    err = load_error(tmp_path / "absent.toml")
    assert "rules file not found" in str(err) and "absent.toml" in str(err)


def test_error_in_a_base_file_names_the_base(tmp_path):
    (tmp_path / "base.toml").write_text('extends = "default"\n[rule.no-goal]\nseverity = "shout"\n')
    (tmp_path / "site.toml").write_text('extends = "base.toml"\n[rule.process-without-value]\nseverity = "error"\n')
    err = load_error(tmp_path / "site.toml")
    assert err.file == str((tmp_path / "base.toml").resolve()) and err.line == 3


def test_extends_chain_with_vocab_add_remove_and_rule_overrides(tmp_path):
    sub = tmp_path / "teams"
    sub.mkdir()
    (tmp_path / "org.toml").write_text(
        'extends = "default"\n[vocab.consumer_role]\nadd = ["wombat keepers"]\n'
        '[rule.process-without-value]\nseverity = "error"\n'
    )
    (sub / "site.toml").write_text(
        'extends = "../org.toml"\n[vocab.consumer_role]\nremove = ["patients"]\n'
        '[rule.no-goal]\nenabled = false\n[exempt]\nlabels = ["no-coaching"]\nfields = { state = ["Closed"] }\n'
    )
    rs = rules.load_ruleset(sub / "site.toml")
    assert "wombat keepers" in rs.vocabs["consumer_role"]
    assert "patient" not in rs.vocabs["consumer_role"]  # removal matches the term's inflections
    assert rs.rule("process-without-value").severity is Severity.ERROR
    assert not rs.rule("no-goal").enabled
    assert rs.files[0].endswith("site.toml") and rs.files[-1].endswith("default.toml")
    assert rs.version != rules.load_ruleset("default").version
    rec = Record(source="s", key="k", number="k", url="", title="", goal="Review the process", labels=("No-Coaching",))
    assert rules.evaluate(rec, rs).exempt
    rec2 = Record(source="s", key="k", number="k", url="", title="", goal="Review the process", state="closed")
    assert rules.evaluate(rec2, rs).exempt
    assert not rules.evaluate(Record(source="s", key="k", number="k", url="", title="", goal="x"), rs).exempt


def test_version_is_stable_and_tracks_the_effective_rules(tmp_path):
    a = rules.load_ruleset("default").version
    assert a == rules.load_ruleset("default").version and len(a) == 12
    same = write_rules(tmp_path, 'extends = "default"\n', name="same.toml", trailer=False)
    assert rules.load_ruleset(same).version == a
    changed = write_rules(tmp_path, 'extends = "default"\n[rule.no-goal]\nseverity = "info"\n', name="c.toml", trailer=False)
    assert rules.load_ruleset(changed).version != a


def test_replacing_a_rule_with_another_kind(tmp_path):
    path = write_rules(tmp_path, 'extends = "default"\n[rule.measurable]\nkind = "regex"\npattern = "\\\\bKPI\\\\b"\n', trailer=False)
    rs = rules.load_ruleset(path)
    assert rules.evaluate_text("KPI agreed", rs).measurable
    assert not rules.evaluate_text("under 20 minutes", rs).measurable


def test_a_new_vocabulary_made_with_terms_may_also_add(tmp_path):
    path = write_rules(tmp_path, 'extends = "default"\n[vocab.growers]\nterms = ["growers"]\nadd = ["hauliers"]\n', trailer=False)
    rs = rules.load_ruleset(path)
    assert rs.vocabs["growers"] == ("growers", "hauliers")
