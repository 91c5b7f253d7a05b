"""The rule engine: TOML rule sets compiled once, then pure evaluation of records.

    ruleset = load_ruleset("default")          # or a path; raises errors.ConfigError
    verdict = evaluate(record, ruleset)        # model.Verdict, deterministic, no I/O
    ruleset.version                            # short hash of the effective rules
    run_examples(ruleset)                      # failure messages of the rules' own examples
"""

from csi_coach.rules.engine import RuleSet, evaluate, evaluate_text
from csi_coach.rules.examples import run_examples
from csi_coach.rules.kinds import REGISTRY as KINDS
from csi_coach.rules.loader import DEFAULT_PATH, load_ruleset

__all__ = ["RuleSet", "evaluate", "evaluate_text", "run_examples", "load_ruleset", "KINDS", "DEFAULT_PATH"]
