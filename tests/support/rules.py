"""Small helpers for the rules tests: write a rule file, judge a text with it."""

from __future__ import annotations

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
