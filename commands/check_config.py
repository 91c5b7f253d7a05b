"""`csi-coach check-config`: validate the config, the rule set (and its examples), the templates.

Meant to be run after every edit, before the nightly run finds the mistake:

    ok    config /etc/csi-coach/config.toml: 2 sources (servicenow, jira)
    warn  [sources.jira.auth.token_env] CSI_JIRA_TOKEN is not set in this environment ...
    FAIL  rules.toml:12 [rule.x] ...

Exit 0 all good (warnings allowed), 1 when rule examples fail, 2 for config, rule
or template errors. A config file that cannot be loaded raises ConfigError, listing
every error of it and of the rules file it names, which bot.py prints one per line
and turns into exit 2.

``--connect`` also checks each source live, writing nothing (``connect_check``): a
failure there is exit 2 when the config file is what to fix (a table, query, JQL or
field name) and 1 when something outside it is (credentials, permissions, the network).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from csi_coach import redact
from csi_coach.commands.config_gate import load_config_listing_rules
from csi_coach.config import ENV_KEYS, Config, JiraSettings, ServiceNowSettings
from csi_coach.config.paths import writable_problem
from csi_coach.errors import ConfigError

EXIT_OK, EXIT_EXAMPLES, EXIT_CONFIG = 0, 1, 2


@dataclass
class Report:
    """What check-config found, printed as ok / warn / FAIL lines (scrubbed of secrets, redact.py)."""

    out: TextIO | None = None  # None: whatever sys.stdout is when a line is printed
    problems: int = 0
    example_failures: int = 0
    remote_failures: int = 0  # --connect: failed on the server's side (credentials, permissions, network)
    warnings: list[str] = field(default_factory=list)

    def ok(self, text: str) -> None:
        print(f"  ok    {redact.scrub(text)}", file=self.out or sys.stdout)

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        print(f"  warn  {redact.scrub(text)}", file=self.out or sys.stdout)

    def fail(self, text: str, *, example: bool = False, remote: bool = False) -> None:
        if example:
            self.example_failures += 1
        elif remote:
            self.remote_failures += 1
        else:
            self.problems += 1
        print(f"  FAIL  {redact.scrub(text)}", file=self.out or sys.stdout)

    def exit_code(self) -> int:
        if self.problems:
            return EXIT_CONFIG
        return EXIT_EXAMPLES if self.example_failures or self.remote_failures else EXIT_OK

    def summary(self) -> str:
        if not self.problems and not self.example_failures and not self.remote_failures:
            tail = f" ({len(self.warnings)} warning{'s' if len(self.warnings) != 1 else ''})" if self.warnings else ""
            return f"All good{tail}: csi-coach can run with this configuration."
        parts = []
        if self.problems:
            parts.append(f"{self.problems} error{'s' if self.problems != 1 else ''}")
        if self.example_failures:
            parts.append(f"{self.example_failures} failing rule example{'s' if self.example_failures != 1 else ''}")
        if self.remote_failures:
            parts.append(f"{self.remote_failures} failed source check{'s' if self.remote_failures != 1 else ''}")
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning{'s' if len(self.warnings) != 1 else ''}")
        return "Not ready: " + ", ".join(parts) + ". Fix the FAIL lines above and run check-config again."


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_warnings(config: Config, environ: dict[str, str] | None = None) -> list[str]:
    """Things that are valid but probably not what the admin wants. Never fatal."""
    env = os.environ if environ is None else environ
    warnings: list[str] = []
    if not config.sources:
        warnings.append("no [sources] configured: `scan` has nothing to read (explain --text still works)")
    for s in config.sources:
        key = f"sources.{s.name}"
        for attr in ENV_KEYS:
            name = getattr(s.auth, attr)
            if name and not env.get(name):
                warnings.append(f"[{key}.auth.{attr}] environment variable {name} is not set here; "
                                f"the bot needs it when it connects to {s.name}")
        parts = urlsplit(s.url)
        if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
            warnings.append(f"[{key}.url] {s.url} is plain http: credentials and tickets would cross the network unencrypted")
        if not s.verify_tls:
            warnings.append(f"[{key}.verify_tls] TLS certificates are not verified for {s.name}")
        if isinstance(s, JiraSettings) and not s.fields.goal:
            warnings.append(f"[{key}.fields.goal] no goal field mapped for {s.name}: only summary and description are judged "
                            '(set goal = "customfield_NNNNN", the id of your site\'s goal field)')
        if isinstance(s, ServiceNowSettings) and s.journal_field == "comments":
            warnings.append(f"[{key}.journal_field] \"comments\" is visible to the requester; \"work_notes\" stays internal")
    if config.comments.max_writes_per_run == 0:
        warnings.append("[comments.max_writes_per_run] is 0: scans judge records but write no comments")
    return warnings


def path_problems(config: Config) -> list[str]:
    """FAIL lines for the files a scan writes: the state file and the log file."""
    wanted = [("state.path", config.state.path, True)]
    if config.logging.file.strip():
        wanted.append(("logging.file", config.logging.file, False))
    problems = []
    for key, value, needs_folder in wanted:
        path = config.resolve(value).absolute()
        problem = writable_problem(path, needs_folder=needs_folder)
        if problem:
            problems.append(f"[{key}] {value!r}: {problem}")
    return problems


def _describe_source(s: ServiceNowSettings | JiraSettings) -> str:
    if isinstance(s, ServiceNowSettings):
        return f"{s.name} (ServiceNow {s.url}, table {s.table}, {s.auth.method} auth)"
    return f"{s.name} (Jira {s.flavor} {s.url}, {s.auth.method} auth)"


def check(config: Config, report: Report) -> None:
    """Run every check on a loaded config, reporting into ``report``."""
    from csi_coach import rules  # imported here: check-config on a bad config file never needs the engine
    from csi_coach.render import TARGETS, Renderer

    sources = "; ".join(_describe_source(s) for s in config.sources)
    report.ok(f"config {config.path}: " + (f"{len(config.sources)} source(s): {sources}" if sources else "no sources"))
    report.ok(f"schedule: cron \"{config.schedule.cron}\" in {config.schedule.timezone}")
    for text in config_warnings(config):
        report.warn(text)
    files = path_problems(config)
    for text in files:
        report.fail(text)
    if not files:
        log_file = f", log file {config.resolve(config.logging.file)}" if config.logging.file.strip() else ""
        report.ok(f"state file {config.resolve(config.state.path)}{log_file}: writable")

    try:
        ruleset = rules.load_ruleset(config.rules_spec())
    except ConfigError as exc:
        for error in exc.errors:  # every error of the rules files, one line each
            report.fail(f"rules: {error}")
    else:
        enabled = [r for r in ruleset.rules if getattr(r, "enabled", True)]
        report.ok(f"rules {config.rules!r}: {len(enabled)} of {len(ruleset.rules)} rules enabled, version {ruleset.version}")
        count = sum(len(getattr(r, "examples_flag", ())) + len(getattr(r, "examples_pass", ())) for r in enabled)
        for text in backtracking_warnings(ruleset):
            report.warn(text)
        failures = rules.run_examples(ruleset)  # the same run as scan's gate (commands/config_gate.py)
        for message in failures:
            report.fail(f"rule example: {message}", example=True)
        if not failures:
            report.ok(f"rule examples: all {count} pass")

    try:
        renderer = Renderer.from_config(config)
        errors = renderer.check()
    except ConfigError as exc:
        errors = [exc]
    for err in errors:
        report.fail(f"template: {err}")
    if not errors:
        where = f"{config.templates_path()} over the shipped ones" if config.templates_path() else "shipped"
        report.ok(f"templates ({where}): {', '.join(TARGETS)} comments render safely with hostile ticket text")


def backtracking_warnings(ruleset) -> list[str]:
    """WARN lines, as hints, for enabled regex rules whose pattern can cut one run of text
    into repeats in many ways (rules.backtracking). A pattern an admin writes runs on RE2,
    where that costs nothing more (rules.patterns): the hint is that a backtracking engine
    (Python's re, most other tools) would stall on it. A shipped pattern runs on re; the
    tests keep every one of them clear of this (tests/rules/test_rules_patterns.py), so
    they are not read again here (a second of parsing on each check)."""
    import re

    from csi_coach.rules.backtracking import nested_repeats
    from csi_coach.rules.loader import vetted_patterns

    out = []
    shipped = vetted_patterns()
    for r in ruleset.rules:
        cond = r.condition if r.kind == "regex" and r.enabled else None
        if cond is None or cond.regex.pattern in shipped:
            continue
        if not nested_repeats(cond.regex.pattern, re.IGNORECASE if cond.ignore_case else 0):
            continue
        shape = (f"rules: [rule.{r.id}] pattern '{cond.regex.pattern}' repeats a repeat or a choice that overlaps itself "
                 f"(like \"(a+)+\" or \"(a|aa)+\"): one run of text can be cut into its turns in many ways")
        if isinstance(cond.regex, re.Pattern):
            out.append(f"{shape}, and Python's re tries them all: on a long ticket it can backtrack for minutes and "
                       f"stall the scan. Make the inner repeat possessive (\"a++\", \"a*+\") or atomic (\"(?>...)\"), "
                       f"or measure it with bench/hostile_text.py --rules <rules file>")
        else:
            out.append(f"{shape}. A hint only: rules you write run on RE2, in time linear in the ticket, so it cannot "
                       f"stall a scan; a backtracking engine (Python's re, most other tools) would. Simpler: one way "
                       f"per turn (\"a+\" for \"(a+)+\" or \"(a|aa)+\")")
    return out


def cli(args: argparse.Namespace) -> int:
    from csi_coach import rules

    path = Path(args.config)
    # A ConfigError here (with the errors of the rules file it names) is printed by bot.py, one line each (exit 2).
    config = load_config_listing_rules(path, lambda broken: rules.load_ruleset(broken.rules_spec()))
    config.register_secrets()
    print(f"csi-coach check-config: {path}")
    report = Report()
    check(config, report)
    if getattr(args, "connect", False):
        from csi_coach.commands.connect_check import check_sources

        check_sources(config, report)
    print(report.summary())
    return report.exit_code()
