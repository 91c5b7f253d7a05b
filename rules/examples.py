"""Run each rule's own examples like a test suite: flag texts must fire, pass texts must not."""

from __future__ import annotations

from typing import Any

from csi_coach.model import Record
from csi_coach.rules.engine import Context, Rule, RuleSet


def example_record(example: Any, rule: Rule) -> Record:
    """A record for one example: a text is the goal field; a table sets fields by name."""
    source = next(iter(sorted(rule.sources)), "example")
    container = next(iter(sorted(rule.containers)), "")
    if isinstance(example, str):
        return Record(source=source, key="example", number="example", url="", title="", goal=example, container=container)
    fields = dict(example)
    return Record(
        source=fields.pop("source", source), key="example", number="example", url="",
        title=fields.pop("title", ""), container=fields.pop("container", container), **fields,
    )


def _show(example: Any) -> str:
    if isinstance(example, str):
        return repr(example)
    return "{" + ", ".join(f"{k} = {v!r}" for k, v in example.items()) + "}"


def run_examples(ruleset: RuleSet) -> list[str]:
    """One message per example that does not behave as its rule says; [] when all pass."""
    failures: list[str] = []
    where = ruleset.files[0] if ruleset.files else "<rules>"
    for rule in ruleset.rules:
        if not rule.enabled:
            continue
        for expect, examples in ((True, rule.examples_flag), (False, rule.examples_pass)):
            for ex in examples:
                ctx = Context(example_record(ex, rule), ruleset)
                if ctx.result(rule.id).holds != expect:
                    want = "flag (the rule should fire)" if expect else "pass (the rule should not fire)"
                    failures.append(f"{where}: [rule.{rule.id}.examples] {_show(ex)} should {want}")
    return failures
