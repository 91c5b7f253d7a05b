"""Small helpers for the rules tests (write a rule file, judge a text with it), and a small
rule set for the tests whose subject is not the rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

from csi_coach import rules
from csi_coach.model import Record
from csi_coach.rules.engine import Context

# Every standalone rule file needs a [classify] table; these three rules make one.
TRAILER = """
[rule.t-value]
kind = "field"
fields = ["goal"]
min_chars = 100000
[rule.t-process]
kind = "field"
fields = ["goal"]
min_chars = 100000
[rule.t-measurable]
kind = "regex"
pattern = '\\d'
[classify]
value = "t-value"
process = "t-process"
measurable = "t-measurable"
"""


def write_rules(tmp_path: Path, body: str, name: str = "rules.toml", trailer: bool = True) -> Path:
    path = tmp_path / name
    path.write_text(body + (TRAILER if trailer else ""), encoding="utf-8")
    return path


def holds(ruleset: rules.RuleSet, rule_id: str, **fields: str) -> bool:
    return result(ruleset, rule_id, **fields).holds


def result(ruleset: rules.RuleSet, rule_id: str, **fields: str):
    rec = Record(source=fields.pop("source", "test"), key="k", number="k", url="",
                 title=fields.pop("title", ""), container=fields.pop("container", ""), **fields)
    return Context(rec, ruleset).result(rule_id)


def small_rules(folder: Path) -> Path:
    """A rule set for tests whose subject is not the rules (exit codes, config errors, paths,
    connect checks, TLS, budgets): it loads in milliseconds, where the shipped one costs
    every command a test starts about a second. No value or process rule ever holds, so
    every record is "no goal" and coached: scans still write."""
    return write_rules(folder, "", name="small-rules.toml")


def with_small_rules(config_text: str, folder: Path) -> str:
    """``config_text`` with its rules (the shipped ones, named or by default) replaced by
    :func:`small_rules`, written into ``folder``."""
    line = f"rules = {json.dumps(str(small_rules(folder)))}"
    text, n = re.subn(r'(?m)^rules\s*=\s*"default".*$', lambda _: line, config_text)
    assert n == 1 or not re.search(r"(?m)^rules\s*=", config_text), "rules of its own: not replaced"
    return text if n else line + "\n" + config_text
