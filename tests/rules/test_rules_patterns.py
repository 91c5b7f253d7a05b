r"""Regex rules an admin writes run on RE2: no ticket text can stall a scan (issue 13, item 3).

Under Python's re, "(a|aa)+$" took 6.3 s on 36 characters and 40.7 s on 40; "(a+)+$"
and "\s*.*\s*=\s*.*\s*;" are as bad on longer text. The admin's patterns are compiled by
RE2 (rules.patterns), what RE2 cannot run is refused at load with a located error, and
the shipped patterns, which keep Python's re, are vetted.
"""

from __future__ import annotations

import glob
import json
import re
import time

import pytest

from csi_coach import rules
from csi_coach.errors import ConfigError
from csi_coach.model import Record
from csi_coach.rules import patterns
from csi_coach.rules.backtracking import nested_repeats
from csi_coach.rules.document import plain_text
from csi_coach.rules.kinds.regex import RegexCondition
from csi_coach.rules.patterns import LinearPattern
from support.paths import ROOT
from support.rules import result, write_rules

# The patterns, and two whose every match reads to the end of the field (the
# cost the match limit bounds).
HOSTILE_PATTERNS = [r"(a+)+$", r"(a|aa)+$", r"\s*.*\s*=\s*.*\s*;", r"(?:a.*b|a)", r"(?s)a(?:.*b)?"]
# About 100 KB each: what makes a backtracking engine try every way of matching.
HOSTILE_TEXTS = {
    "a run of a's": "a" * 100_000 + "!",
    "assignments without a semicolon": " a = b " * 14_300,
    "a's, equals and spaces": ("aaaa = " + " " * 20) * 3_700,
    "spaces": " " * 100_000 + "=",
}
# The time each record may take: "well under a second" is the aim, measured and printed;
# the bound is generous so that a busy machine does not fail the test.
BOUND_SECONDS = 2.0


def record(**fields: str) -> Record:
    values = {"title": "", "description": "", "goal": "", "service": "svc", **fields}
    return Record(source="s", key="K-1", number="K-1", url="", **values)


def load_error(path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        rules.load_ruleset(path)
    return info.value


def admin_rules(tmp_path, *patterns_: str, extra: str = ""):
    body = 'extends = "default"\n'
    for i, p in enumerate(patterns_):
        body += f"[rule.mine-{i}]\nkind = \"regex\"\npattern = '{p}'\nseverity = \"info\"\n{extra}"
    return rules.load_ruleset(write_rules(tmp_path, body, trailer=False))


@pytest.fixture(scope="module")
def hostile_ruleset(tmp_path_factory):
    return admin_rules(tmp_path_factory.mktemp("hostile"), *HOSTILE_PATTERNS)


def test_admin_patterns_are_compiled_by_re2(hostile_ruleset):
    for i, p in enumerate(HOSTILE_PATTERNS):
        rx = hostile_ruleset.rule(f"mine-{i}").condition.regex
        assert isinstance(rx, LinearPattern) and rx.pattern == p


@pytest.mark.parametrize("name", HOSTILE_TEXTS)
@pytest.mark.parametrize("field", ["goal", "description", "title"])
def test_hostile_patterns_on_long_hostile_text_finish_well_under_a_second(hostile_ruleset, name, field):
    text = HOSTILE_TEXTS[name]
    start = time.perf_counter()
    verdict = rules.evaluate(record(**{field: text}), hostile_ruleset)
    took = time.perf_counter() - start
    print(f"\n{name} in the {field} ({len(text):,} characters), the shipped rules and {len(HOSTILE_PATTERNS)} hostile "
          f"patterns: {took:.3f} s")
    assert took < BOUND_SECONDS, f"{name} in the {field}: {took:.2f} s"
    # The patterns ran: the ones that can match here found their matches.
    found = {f.rule for f in verdict.findings}
    if name == "a run of a's":
        assert {"mine-3", "mine-4"} <= found and not {"mine-0", "mine-1", "mine-2"} & found


def test_each_hostile_pattern_alone_takes_milliseconds_on_100_kb():
    for p in HOSTILE_PATTERNS[:3]:
        rx = patterns.compile_linear(p, True)
        for name, text in HOSTILE_TEXTS.items():
            start = time.perf_counter()
            spans = list(rx.spans(text))
            took = time.perf_counter() - start
            print(f"{p!r} over {name}: {took * 1000:.1f} ms, {len(spans)} matches")
            assert took < 0.5, (p, name, took)


def test_python_re_would_stall_on_these_patterns():
    # The test above is worth something only if these texts are hostile: Python's re on
    # a 24-character piece of one already takes longer than RE2 on 100 KB of it.
    text = "a" * 24 + "!"
    start = time.perf_counter()
    assert re.search(r"(a|aa)+$", text) is None
    slow = time.perf_counter() - start
    rx = patterns.compile_linear(r"(a|aa)+$", False)
    start = time.perf_counter()
    assert list(rx.spans("a" * 100_000 + "!")) == []
    fast = time.perf_counter() - start
    print(f"Python's re, 25 characters: {slow * 1000:.1f} ms; RE2, 100,001 characters: {fast * 1000:.1f} ms")
    assert slow > fast


def test_matches_looked_for_in_one_field_are_limited_by_its_length():
    rx = patterns.compile_linear(r"\d", False)
    assert len(list(rx.spans("1" * 5_000))) == patterns.MAX_MATCHES
    assert len(list(rx.spans("1" * 100_000))) == patterns.MATCH_BUDGET // 100_000 == 200
    assert len(list(rx.spans("1" * 1_000_000))) == patterns.MIN_MATCHES
    assert len(list(rx.spans("1" * 50))) == 50


# (pattern, what the message names, what it suggests instead)
REFUSED = [
    (r"(?<=so )that", "a lookbehind (?<=...)", "match the text before it too"),
    (r"(?<!not )costs", "a negative lookbehind", '"near" with "unless"'),
    (r"\bcost(?=s\b)", "a lookahead (?=...)", "match the text that follows too"),
    (r"\bcost(?!ly)", "a negative lookahead", '"not"'),
    (r"(\w+) \1", "a back-reference", "alternatives"),
    (r"(?P<w>\w+) (?P=w)", "a back-reference (?P=name)", "alternatives"),
    (r"\w++ saved", "a possessive repeat", "a+ for a++"),
    (r"(?>\w+) saved", "an atomic group", "plain group"),
    (r"(a)?(?(1)b|c)", "a conditional", '"any"'),
    (r"cost\Z", r"\Z", r"write \z"),
    (r"(?x) cost  # a comment", "the verbose flag (?x)", "without spaces and comments"),
    (r"\u2014", r"a character escape \uXXXX", r"\x{XXXX}"),
    (r"a{,3}", "a count with no lower bound", "{0,n}"),
    (r"a{2000}", "a repeat count over 1,000", "a smaller count"),
]


@pytest.mark.parametrize("pattern, what, instead", REFUSED, ids=[r[0] for r in REFUSED])
def test_a_pattern_re2_cannot_run_is_refused_with_file_line_key_feature_why_and_rewrite(tmp_path, pattern, what, instead):
    path = write_rules(tmp_path, f'extends = "default"\n\n[rule.mine]\nkind = "regex"\npattern = \'{pattern}\'\n', trailer=False)
    err = load_error(path)
    message = str(err)
    assert err.file == str(path) and err.line == 5 and err.key == "rule.mine.pattern", message
    assert f"the pattern uses {what}" in message, message
    assert "RE2" in message and instead in message, message
    assert repr(pattern) in message  # the value got


def test_a_broken_pattern_is_a_located_syntax_error(tmp_path):
    err = load_error(write_rules(tmp_path, 'extends = "default"\n[rule.mine]\nkind = "regex"\npattern = "[a-"\n', trailer=False))
    assert err.line == 4 and err.key == "rule.mine.pattern"
    assert "bad regular expression: missing ]" in str(err) and "RE2 syntax" in str(err)


def test_refused_patterns_stop_check_config_and_the_scan_with_exit_2(tmp_path):
    # The loader's error is a ConfigError: bot.py prints it as one line, exit 2, before
    # any source is read.
    import os
    import subprocess
    import sys

    from csi_coach import bot
    from support.config import SNOW

    write_rules(tmp_path, 'extends = "default"\n[rule.mine]\nkind = "regex"\npattern = \'(?<=a)b\'\n', trailer=False)
    config = tmp_path / "config.toml"
    config.write_text('rules = "rules.toml"\n' + SNOW, encoding="utf-8")
    assert bot.main(["check-config", "--config", str(config)]) == 2
    env = {**os.environ, "SNOW_USER": "u", "SNOW_PASSWORD": "p"}
    res = subprocess.run([sys.executable, str(ROOT / "bot.py"), "scan", "--config", str(config), "--json"],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    line = json.loads(res.stdout.strip().splitlines()[-1])
    assert line["status"] == "config_error" and "rules.toml:4 [rule.mine.pattern]" in line["error"]
    assert "a lookbehind" in res.stderr and "Traceback" not in res.stderr


def test_shipped_patterns_keep_python_re_and_are_vetted():
    ruleset = rules.load_ruleset("default")
    regex_rules = [r for r in ruleset.rules if r.kind == "regex"]
    assert len(regex_rules) > 10
    for r in regex_rules:
        rx = r.condition.regex
        assert isinstance(rx, re.Pattern) and rx.pattern in rules.loader.vetted_patterns(), r.id
        # Vetted: no repeat in it cuts text more than one way (rules.backtracking) ...
        assert not nested_repeats(rx.pattern, rx.flags), r.id
    # ... and some use lookaround or possessive repeats, which RE2 has not.
    assert sorted(r.id for r in regex_rules if patterns.refusal(r.condition.regex.pattern)) == [
        "agreement-term", "arrow-target", "call-count", "causal-link", "figure", "figure-pair", "forward-link", "goal-label-line", "goal-of-four-words",
        "goal-section-statement", "line-end-target", "money", "person-who", "reason-label", "stop-word", "story-with-benefit",
        "target-phrase", "target-wording"]


def test_a_shipped_pattern_copied_into_an_admin_rule_keeps_re_and_a_changed_one_goes_to_re2(tmp_path):
    ruleset = rules.load_ruleset("default")
    lookaround = ruleset.rule("person-who").condition.regex.pattern
    body = 'extends = "default"\n[rule.mine]\nkind = "regex"\npattern = """' + lookaround.replace("\\", "\\\\") + '"""\n'
    copied = rules.load_ruleset(write_rules(tmp_path, body, trailer=False))
    assert isinstance(copied.rule("mine").condition.regex, re.Pattern)
    assert result(copied, "mine", goal="growers who deliver late").holds
    changed = write_rules(tmp_path, body.replace("every|each|", "every|each|whichever|"), trailer=False)
    assert "lookahead" in str(load_error(changed))
    money = ruleset.rule("money").condition.regex.pattern
    mine = admin_rules(tmp_path, money.replace("{0,40}+", "{0,40}") + "|zł")
    assert isinstance(mine.rule("mine-0").condition.regex, LinearPattern)
    assert result(mine, "mine-0", goal="save 40 zł a month").holds


HOSTILE_UNITS = ["a", " ", "1", "1 2 3 ", "1.", "$1", "so so that which ", "the people who ", "from 1 to ", "Goal:\n",
                 "if we then ", "at least at most ", "a-", "a'", "so-", "then ", "users who ", "or so ", "% -> "]


def test_shipped_patterns_on_long_hostile_text_take_well_under_a_second():
    # Vetted also by time: each shipped pattern over 100 KB of text made of its own words,
    # figures, spaces, hyphen chains and link words, and the same with a trigger at the end
    # (bench/hostile_text.py measures the whole engine). "person-who" took 11 s on 20 KB of
    # "a-" before its words were bounded, "money" 43 s on 20,000 digits and a "USD".
    ruleset = rules.load_ruleset("default")
    for r in ruleset.rules:
        if r.kind != "regex":
            continue
        worst = (0.0, "")
        for unit in HOSTILE_UNITS:
            body = unit * (100_000 // len(unit))
            # A figure before the run too: "arrow-target" once let two runs of spaces after
            # a figure give spaces to each other (a figure and 8,000 spaces took 1.7 s).
            for text in (body + " x USD", body + "s who", "1" + body + " x -> y"):
                start = time.perf_counter()
                for _ in r.condition.regex.finditer(text):
                    pass
                worst = max(worst, (time.perf_counter() - start, unit))
        print(f"{r.id}: slowest {worst[0] * 1000:.1f} ms ({worst[1]!r} repeated)")
        assert worst[0] < BOUND_SECONDS, (r.id, worst)


def test_the_shipped_rules_judge_the_hostile_texts_that_once_stalled_them_quickly():
    ruleset = rules.load_ruleset("default")
    for text in ("1" * 100_000 + " x USD", "a-" * 50_000 + "s who", "1." * 50_000 + " x USD"):
        for field in ("goal", "description", "title"):
            start = time.perf_counter()
            rules.evaluate(record(**{field: text}), ruleset)
            took = time.perf_counter() - start
            print(f"{text[:6]!r}... in the {field}: {took:.3f} s")
            assert took < BOUND_SECONDS, (text[:10], field, took)


def _bench_texts() -> list[str]:
    texts = []
    for path in sorted(glob.glob(str(ROOT / "bench" / "records" / "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                texts.extend(plain_text(row[k]) for k in ("title", "description", "goal") if isinstance(row.get(k), str) and row[k])
    return texts


def test_re2_finds_what_python_re_finds_for_the_shipped_patterns_it_can_run():
    # The README's claim that RE2 reads a pattern as Python's re does for what rules need
    # (ASCII text aside): every shipped pattern RE2 can compile finds the same spans under
    # both engines in every bench record.
    texts = _bench_texts()
    assert len(texts) > 1000
    compared = 0
    for r in rules.load_ruleset("default").rules:
        if r.kind != "regex":
            continue
        rx = r.condition.regex
        if patterns.refusal(rx.pattern) is not None:
            continue  # lookaround
        linear = patterns.compile_linear(rx.pattern, r.condition.ignore_case)
        for text in texts:
            want = [m.span() for m in rx.finditer(text) if m.end() > m.start()]
            got = [(s, e) for s, e in linear.spans(text) if e > s]
            assert got == want[: patterns.match_limit(len(text))], (r.id, text[:80])
        compared += 1
    assert compared >= 10


def test_re2_reads_word_boundaries_as_ascii_which_is_why_shipped_patterns_keep_re():
    # Python's \b sees no boundary between the Arabic-Indic digit and "so"; RE2's does.
    text = "meaningbecause20\u0663so that!"
    rx = rules.load_ruleset("default").rule("measure-led-goal").condition.regex
    assert rx.search(text) is None
    assert next(patterns.compile_linear(rx.pattern, True).spans(text), None) == (0, 24)


def test_offsets_are_character_offsets_in_any_text(tmp_path):
    ruleset = admin_rules(tmp_path, r"cost\w*|€\d+|🙂+")
    texts = ["plain cost and costs", "café cost €40 — naïve costs 🙂🙂 then costly",
             "\ud800 lone surrogate then cost €5", "𝔘𝔫𝔦 cost 🙂"]
    for text in texts:
        ev = result(ruleset, "mine-0", goal=text).evidence
        assert ev, text
        for e in ev:
            assert text[e.start:e.end] == e.text and e.field == "goal", (text, e)
        want = [(m.start(), m.end()) for m in re.finditer(r"cost\w*|€\d+|🙂+", text)]
        assert [(e.start, e.end) for e in ev] == want, text


def test_case_flags_and_inline_flags(tmp_path):
    ruleset = admin_rules(tmp_path, r"\bKPI\b", r"(?m)^goal:", r"(?s)start.+end")
    assert result(ruleset, "mine-0", goal="our kpi is up").holds  # ignore_case defaults to true
    assert result(ruleset, "mine-1", description="notes\nGoal: faster").holds
    assert not result(ruleset, "mine-1", description="notes Goal: faster").holds
    assert result(ruleset, "mine-2", description="start\nthen end").holds
    strict = admin_rules(tmp_path, r"\bKPI\b", extra="ignore_case = false\n")
    assert not result(strict, "mine-0", goal="our kpi is up").holds
    assert result(strict, "mine-0", goal="our KPI is up").holds


def test_re2_word_classes_are_ascii_as_the_readme_says(tmp_path):
    ruleset = admin_rules(tmp_path, r"\w+", r"\pL+")
    assert [e.text for e in result(ruleset, "mine-0", goal="café").evidence] == ["caf"]
    assert [e.text for e in result(ruleset, "mine-1", goal="café").evidence] == ["café"]


def test_negation_and_max_evidence_apply_to_re2_patterns(tmp_path):
    ruleset = admin_rules(tmp_path, r"\bcost\w*", extra="negation = true\nmax_evidence = 2\n")
    cond = ruleset.rule("mine-0").condition
    assert isinstance(cond, RegexCondition) and isinstance(cond.regex, LinearPattern)
    ev = result(ruleset, "mine-0", goal="not aimed at cost. Lower costs, costly runs and costing").evidence
    assert [e.text for e in ev] == ["costs", "costly"]


@pytest.mark.parametrize("rule_id, unbounded, pieces", [
    ("person-who", lambda p: p.replace("{0,60}", "*").replace("{1,60}", "+"),
     ("users", "growers", "a", "-", "'", "s", " ", " ", " who", " whose", "the ", "every ", "shows", "x", "\n", "1")),
    ("money", lambda p: p.replace("{0,40}+", "*"),
     ("1", "20", "3.5", ",", ".", " ", "USD", "GBP", "dollars", "k", "m", "$", "£", "x", "\n")),
    ("target-phrase", lambda p: p.replace("{0,40}+", "*"),
     ("1", "20", "3.5", ",", ".", "%", " ", " -> ", "%→", "from ", " to ", "to at least ", "x", "\n")),
])
def test_bounded_shipped_patterns_match_as_the_unbounded_ones_did(rule_id, unbounded, pieces):
    # The three shipped patterns bounded for issue 13 find the same spans as before on
    # text whose words and figures are within the bounds (61 and 41 characters).
    import random

    rx = rules.load_ruleset("default").rule(rule_id).condition.regex
    before = re.compile(unbounded(rx.pattern), rx.flags)
    assert before.pattern != rx.pattern
    rng = random.Random(rule_id)
    hits = 0
    for _ in range(6000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        want = [m.span() for m in before.finditer(text)]
        assert [m.span() for m in rx.finditer(text)] == want, text
        hits += bool(want)
    assert hits > 200, hits
