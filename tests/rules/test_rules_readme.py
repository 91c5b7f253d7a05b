"""The README's tuning example is a working rule file: it loads on top of the default
rules and every example in it passes (a README that lies to admins is a defect)."""

from __future__ import annotations

import re

from csi_coach import rules
from support.paths import ROOT


def test_the_readme_tuning_example_loads_and_its_examples_pass(tmp_path):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Tuning: extend, never copy"):]
    block = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    assert "[vocab.provider_internal]" in block and "[rule.goal-heading]" in block
    path = tmp_path / "my-rules.toml"
    path.write_text(block, encoding="utf-8")
    ruleset = rules.load_ruleset(str(path))
    assert rules.run_examples(ruleset) == []
    # The overlay changes verdicts as the README says it does.
    tuned = rules.evaluate_text("Restore under 20 min so our quarterly scorecard stays green", ruleset)
    shipped = rules.evaluate_text("Restore under 20 min so our quarterly scorecard stays green", rules.load_ruleset("default"))
    assert (shipped.category.value, tuned.category.value) == ("unsure", "process_only")
