"""`csi-coach check-config` via the real CLI: exit codes 0 / 1 / 2, friendly text, no tracebacks."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from support.config import SNOW
from support.paths import ROOT


def run(config: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SNOW_", "CSI_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "check-config", "--config", str(config), *extra],
        capture_output=True, text=True, cwd=config.parent, env=full_env, timeout=120,
    )


def run_here(config: Path, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The same command in this process (the rule set compiles faster the second time)."""
    from csi_coach import bot

    saved = {k: v for k, v in os.environ.items() if k.startswith(("SNOW_", "CSI_"))}
    for k in saved:
        del os.environ[k]
    os.environ.update(env or {})
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = bot.main(["check-config", "--config", str(config)])
    finally:
        for k in env or {}:
            os.environ.pop(k, None)
        os.environ.update(saved)
    return subprocess.CompletedProcess([], code, out.getvalue(), err.getvalue())


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_is_all_good_with_env_set():
    env = {"CSI_SNOW_USER": "u", "CSI_SNOW_PASSWORD": "p", "CSI_JIRA_EMAIL": "e", "CSI_JIRA_TOKEN": "t"}
    res = run_here(ROOT / "config.example.toml", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "All good" in res.stdout and "FAIL" not in res.stdout
    assert "rule examples: all" in res.stdout and "templates (shipped)" in res.stdout
    assert "Traceback" not in res.stderr


def test_unset_secret_variables_warn_but_do_not_fail(tmp_path):
    res = run_here(write(tmp_path, SNOW))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "warn" in res.stdout and "SNOW_PASSWORD is not set" in res.stdout
    assert "All good (2 warnings)" in res.stdout


def test_secret_values_never_printed(tmp_path):
    res = run_here(write(tmp_path, SNOW), env={"SNOW_USER": "alice", "SNOW_PASSWORD": "Very-Secret-42"})
    assert res.returncode == 0
    assert "Very-Secret-42" not in res.stdout + res.stderr


BROKEN = {
    "syntax": ("rules = 'default\n", "config.toml:1"),
    "unknown key": (SNOW.replace('type = "servicenow"', 'type = "servicenow"\ntabel = "x"'), "[sources.snow.tabel]"),
    "inline secret": (SNOW.replace('password_env = "SNOW_PASSWORD"', 'password = "hunter2"'), "environment variable"),
    "bad page size": (SNOW.replace('type = "servicenow"', 'type = "servicenow"\npage_size = 20000'), "from 1 to 10000"),
    "bad cron": ('[schedule]\ncron = "every night"\n', "[schedule.cron]"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_config_exits_2_with_one_clear_line(tmp_path, name):
    text, expected = BROKEN[name]
    path = write(tmp_path, text)
    res = run(path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    assert "config error" in res.stderr and expected in res.stderr and str(path) in res.stderr
    assert "hunter2" not in res.stderr


def test_missing_config_file_exits_2(tmp_path):
    res = run(tmp_path / "absent.toml")
    assert res.returncode == 2 and "not found" in res.stderr and "Traceback" not in res.stderr


def test_broken_rules_file_exits_2(tmp_path):
    write(tmp_path, 'extends = "default"\n[rule.no-such-rule]\nseverity = "loud"\n', "rules.toml")
    res = run(write(tmp_path, 'rules = "rules.toml"\n'))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "FAIL" in res.stdout and "rules.toml" in res.stdout and "Traceback" not in res.stderr


def test_failing_rule_example_exits_1(tmp_path):
    # A rule that flags "MTTR" can never pass a text full of MTTR: its example must fail.
    write(tmp_path, 'extends = "default"\n[rule.my-mttr]\nkind = "regex"\npattern = "MTTR"\nseverity = "info"\n'
                    'examples = { flag = ["lower MTTR"], pass = ["MTTR below 2 h"] }\n', "rules.toml")
    res = run(write(tmp_path, 'rules = "rules.toml"\n'))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "rule example" in res.stdout and "MTTR below 2 h" in res.stdout and "Traceback" not in res.stderr


def test_broken_admin_template_exits_2_naming_file_and_line(tmp_path):
    (tmp_path / "tpl" / "jira").mkdir(parents=True)
    (tmp_path / "tpl" / "jira" / "comment.j2").write_text("Hi\n{% for x in verdict.findings %}\n{{ marker }}\n", encoding="utf-8")
    res = run_here(write(tmp_path, 'templates_dir = "tpl"\n'))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "FAIL  template" in res.stdout and "jira/comment.j2:" in res.stdout
    assert "Traceback" not in res.stderr


def test_help():
    res = subprocess.run([sys.executable, str(ROOT / "bot.py"), "check-config", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "--config" in res.stdout


def test_warnings_for_valid_but_risky_settings(tmp_path):
    from csi_coach.commands.check_config import config_warnings
    from csi_coach.config import load_config

    text = SNOW.replace("https://example", "http://example").replace('type = "servicenow"', 'type = "servicenow"\nverify_tls = false\njournal_field = "comments"')
    text += '\n[sources.jira]\ntype = "jira"\nurl = "https://x.atlassian.net"\n[sources.jira.auth]\nmethod = "pat"\ntoken_env = "JIRA_PAT"\n'
    text += '\n[comments]\nmax_writes_per_run = 0\n'
    warnings = config_warnings(load_config(write(tmp_path, text)), environ={"SNOW_USER": "u", "SNOW_PASSWORD": "p"})
    joined = "\n".join(warnings)
    assert "plain http" in joined and "not verified" in joined and "visible to the requester" in joined
    assert "JIRA_PAT is not set" in joined and "SNOW_PASSWORD" not in joined
    assert "no goal field mapped for jira" in joined and "write no comments" in joined


def test_no_warnings_for_loopback_http_with_env_set(tmp_path):
    from csi_coach.commands.check_config import config_warnings
    from csi_coach.config import load_config

    text = SNOW.replace("https://example.service-now.com", "http://127.0.0.1:8801")
    assert config_warnings(load_config(write(tmp_path, text)), environ={"SNOW_USER": "u", "SNOW_PASSWORD": "p"}) == []


def test_a_pattern_that_repeats_a_repeat_is_warned_about_not_failed(tmp_path):
    # A hint, not an error: the rules an admin writes run on RE2, where such a pattern
    # cannot stall a scan (rules.patterns); the warning says so, and what is simpler.
    write(tmp_path, 'extends = "default"\n[rule.words-then-end]\nkind = "regex"\npattern = \'(?:\\w+\\s?)+$\'\n'
                    'severity = "info"\n[rule.safe-list]\nkind = "regex"\npattern = \'(?:\\d+,)+\'\nseverity = "info"\n'
                    '[rule.overlapping-choice]\nkind = "regex"\npattern = \'(a|aa)+$\'\nseverity = "info"\n',
          "rules.toml")
    res = run(write(tmp_path, 'rules = "rules.toml"\n' + SNOW), env={"SNOW_USER": "u", "SNOW_PASSWORD": "p"})
    assert res.returncode == 0, res.stdout + res.stderr
    warns = [line for line in res.stdout.splitlines() if "repeats a repeat" in line]
    assert len(warns) == 2, warns
    assert "[rule.words-then-end] pattern '(?:\\w+\\s?)+$'" in warns[0]
    assert "[rule.overlapping-choice] pattern '(a|aa)+$'" in warns[1]
    assert all("A hint only" in w and "RE2" in w and "cannot stall a scan" in w for w in warns)
    assert "All good (2 warnings" in res.stdout


def test_a_shipped_pattern_that_repeats_a_repeat_would_be_warned_about_as_a_risk():
    # The shipped patterns run on Python's re: were one of them risky, the warning would
    # say it can stall the scan (the test below keeps every shipped one clear of it).
    import dataclasses
    import re
    from types import SimpleNamespace

    from csi_coach import rules
    from csi_coach.commands.check_config import backtracking_warnings

    ruleset = rules.load_ruleset("default")
    rule = next(r for r in ruleset.rules if r.kind == "regex" and r.enabled)
    risky = dataclasses.replace(rule, condition=dataclasses.replace(rule.condition, regex=re.compile(r"(a|aa)+$")))
    warns = backtracking_warnings(SimpleNamespace(rules=(risky,)))
    assert len(warns) == 1 and "backtrack for minutes" in warns[0] and "possessive" in warns[0]


@pytest.mark.parametrize("pattern, risky", [
    (r"(a+)+b", True), (r"(?:\w+\s?)*$", True), (r"(x*y*)+", True), (r"(?:a|b+)+", True), (r"(a+?)+", True),
    (r"foo(?:(\s*\w+)+)?bar", True), (r"(?=(a+)+)", True), (r"(?:a+){2}", True),
    # bounded repeats, outer or inner
    (r"(?:\w+\s?){1,30}$", True), (r"(?:\w+\s?){0,8}$", True), (r"(?:\w{1,50}\s?)+$", True),
    # inside atomic groups, possessive repeats and conditionals: they backtrack inside
    (r"(?>(\w+\s?)+!)", True), (r"(?:(?:\w+\s?)+!)++", True), (r"(a)?(?(1)(?:b+)+|c)$", True),
    # a choice beside optional pieces; a required piece the inner repeat also matches
    (r"(?:\s?(?:\w+|-))+$", True), (r"(?:(?:\w+|-)\s?)+$", True), (r"(?:\w+\w)+$", True),
    (r"(?:\w+[a-z])+$", True), (r"(.+,)*x", True),
    (r"(\d+,)*", False), (r"(\w+\s)+x", False), (r"(?:a++)+", False), (r"(?>a+)+", False), (r"x{2,}", False),
    (r"(a|b)+", False), (r"(?:[a-z][\w'-]*\s+)?", False), (r"(?:(?:cat|dog)s?)+", False),
    (r"[£$€¥]\s?\d[\d,.]*", False), ("(" * 200 + "a" + ")" * 200, False),
    # each turn cut one way only: pieces that meet share no character
    (r"(?:\s+\w+){0,3}", False), (r"(?:\s+\w+)*$", False), (r"(a+b+)+c", False),
    (r"(a+a+)+c", True), (r"(\w+\s?\w+)+", True), (r"(\s+\d?\w+)+", True),
    # turns cut many ways without an inner "+": optional pieces, choices, two empty ways
    (r"(?:\d\d?[/.-]?)+\b", True), (r"(?:\w\w?)+$", True), (r"(?:a?a?)+$", True), (r"(?:.|\s)*?goal", True),
    (r"(?:[^\n]|\s)*x", True), (r"(a|a)+$", True),
    # a few fixed strings, one run of which is spelt two ways: "aa" is one turn or two
    (r"(a|aa)+$", True), (r"(?:ab|a|b)+", True), (r"(?:ab|ba|a)+x", True), (r"(?:foo|foobar|bar)+$", True),
    (r"(?:x|y{1,3})+$", True), (r"(?:[ab]|ab)+$", True),
    (r"(a|ab)+$", False), (r"(?:cat|cats)+$", False), (r"(?:ab|cd)+$", False), (r"(?:a|b){1,4}$", False),
    # characters beyond Latin, named in the pattern
    (r"(?:\w+中)+$", True), (r"(?:\s+\u205f)+x", True), (r"(?i)(?:\u0400+\u0450)+$", True),
    (r"(?:[\u0400-\u04ff]+[\u0450-\u045f])+$", True),
    # a fixed piece at each end of a turn: cut one way only
    (r"(?:\d*,)+x", False), (r"(?:[\w-]*\.)+com", False), (r"(?:\s*;)+x", False), (r"(?:a*b)+$", False),
])
def test_nested_repeats_are_found_in_the_parse_tree(pattern, risky):
    from re import _parser

    from csi_coach.rules import backtracking

    assert backtracking.nested_repeats(pattern) is risky
    # The same answer without the guard that turns an internal error into "not risky":
    # a crash must fail this test, not pass it as a safe pattern.
    tree = _parser.parse(pattern, 0)
    assert backtracking._risky(list(tree), tree.state.flags) is risky


def test_shipped_patterns_are_not_read_again_by_check_config():
    # tests/rules/test_rules_patterns.py keeps every shipped pattern clear of nested
    # repeats; check-config reads only the patterns an admin wrote.
    from csi_coach import rules
    from csi_coach.commands import check_config
    from csi_coach.rules import backtracking

    asked = []
    real = backtracking.nested_repeats
    backtracking.nested_repeats = lambda pattern, flags=0: asked.append(pattern) or real(pattern, flags)
    try:
        assert check_config.backtracking_warnings(rules.load_ruleset("default")) == []
    finally:
        backtracking.nested_repeats = real
    assert asked == []
