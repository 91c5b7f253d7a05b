"""What `check-config`, `scan` and `run` check before anything is read from a source:
every error of the config and rules files at once, and the rules' own examples.

``load_config_listing_rules``: a config file with errors is read as far as it can be, and
the rules file it names is read too, so the admin sees the errors of both in one run (the
rules of a broken config would otherwise be checked only after the config is fixed).

``examples_gate``: a rule set whose examples fail is refused (``FailingExamples``, exit 2:
a rule that does not do what its own examples say would coach owners wrongly), unless
``--allow-failing-examples``; then each failure is a warning. The examples are run by
``rules.run_examples``, the same code check-config runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from csi_coach.config import Config, load_config
from csi_coach.config.reader import read_toml
from csi_coach.errors import ConfigError, FailingExamples, combine

ALLOW_FLAG = FailingExamples.ALLOW_FLAG


def rules_of_broken_config(path: str | Path) -> Config | None:
    """Enough of a config that did not load to find its rules file: None when that is the
    shipped default (it has no errors to add) or cannot be told."""
    try:
        _, data = read_toml(Path(path))
    except ConfigError:
        return None
    rules = data.get("rules", "default")
    if not isinstance(rules, str) or not rules.strip() or rules == "default":
        return None
    return Config(path=Path(path).absolute(), rules=rules)


def load_config_listing_rules(path: str | Path, load_rules: Callable[[Config], Any]) -> Config:
    """``load_config``; when it fails, the errors of the rules file the config names
    (``load_rules(config)``) are raised with the config's own, in one ConfigErrors."""
    try:
        return load_config(path)
    except ConfigError as exc:
        config = rules_of_broken_config(path)
        errors = [exc]
        if config is not None:
            try:
                load_rules(config)
            except ConfigError as rules_error:
                errors.append(rules_error)
        raise (combine(errors) or exc) from None


def examples_gate(ruleset: Any, *, allow: bool, warn: Callable[[str], None]) -> list[str]:
    """Run the rule set's examples; raise FailingExamples when one fails, unless ``allow``:
    then say each failure through ``warn`` and go on. Returns the failures."""
    from csi_coach import rules

    failures = rules.run_examples(ruleset)
    if failures and not allow:
        raise FailingExamples(failures)
    for text in failures:
        warn(f"rule example fails ({ALLOW_FLAG}: running the rules anyway): {text}")
    return failures
