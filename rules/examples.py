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


def _evidence(ctx: Context, rule_id: str) -> str:
    """What the rule matched in the example, as the admin reads it: the words and their field."""
    match = ctx.result(rule_id)
    if not match.holds:
        return "nothing matched"
    seen = list(dict.fromkeys(f"{ev.text!r} in {ev.field}" for ev in match.evidence))
    if not seen:
        return "it matched (no words to show: the rule fired on what other rules found, or on an empty field)"
    more = f" and {len(seen) - 5} more" if len(seen) > 5 else ""
    return "matched " + ", ".join(seen[:5]) + more


def run_examples(ruleset: RuleSet) -> list[str]:
    """One message per example that does not behave as its rule says; [] when all pass.

    Each message names the file and line of the example, the rule, what it should do and
    what the rule matched in it (or that nothing matched), e.g.
    ``rules.toml:14: [rule.x.examples] 'text' should flag (the rule should fire): nothing matched``.
    """
    failures: list[str] = []
    top = ruleset.files[0] if ruleset.files else "<rules>"
    for rule in ruleset.rules:
        if not rule.enabled:
            continue
        examples = [(True, ex) for ex in rule.examples_flag] + [(False, ex) for ex in rule.examples_pass]
        for n, (expect, ex) in enumerate(examples):
            ctx = Context(example_record(ex, rule), ruleset)
            if ctx.result(rule.id).holds != expect:
                file, line = rule.example_lines[n] if n < len(rule.example_lines) else (top, None)
                where = f"{file}:{line}" if line is not None else file
                want = "flag (the rule should fire)" if expect else "pass (the rule should not fire)"
                failures.append(f"{where}: [rule.{rule.id}.examples] {_show(ex)} should {want}: {_evidence(ctx, rule.id)}")
    return failures
