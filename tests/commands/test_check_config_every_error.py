"""check-config and scan list every error of the config and rules files in one run (issue 14,
item 3): three located lines, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.paths import ROOT

CONFIG = """\
rules = "rules.toml"

[state]
path = "state/s.sqlite"

[schedule]
timezone = "Europe/Berln"

[comments]
cooldown_days = "seven"

[sources.snow]
type = "servicenow"
url = "http://127.0.0.1:9"

[sources.snow.auth]
method = "basic"
username_env = "CSI_TEST_USER"
password_env = "CSI_TEST_PASSWORD"
"""

RULES = """\
extends = "default"

[rule.measurable]
severity = "loud"
"""


def run(tmp_path: Path, command: str, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CSI_TEST_USER": "u", "CSI_TEST_PASSWORD": "p"}
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), command, "--config", str(tmp_path / "config.toml"), *extra],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )


def write(tmp_path: Path, config: str = CONFIG, rules: str = RULES) -> None:
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    (tmp_path / "rules.toml").write_text(rules, encoding="utf-8")


def expected_lines(tmp_path: Path) -> list[str]:
    config, rules = tmp_path / "config.toml", (tmp_path / "rules.toml").resolve()
    return [
        f"csi-coach: config error: {config}:7 [schedule.timezone]: unknown time zone (got 'Europe/Berln'); "
        "did you mean 'Europe/Berlin'? expected an IANA time zone name such as \"UTC\" or \"Europe/Berlin\"",
        f"csi-coach: config error: {config}:10 [comments.cooldown_days]: 'cooldown_days' must be a whole number "
        "(got 'seven'); expected an integer from 0 to 3650",
        f"csi-coach: config error: {rules}:4 [rule.measurable.severity]: bad value for 'severity' (got 'loud'); "
        "expected one of \"error\", \"warning\", \"info\", \"off\"",
        "csi-coach: 3 config errors; fix them and run check-config again",
    ]


def test_check_config_lists_two_config_errors_and_one_rules_error(tmp_path):
    write(tmp_path)
    proc = run(tmp_path, "check-config")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == expected_lines(tmp_path)
    assert "Traceback" not in proc.stdout + proc.stderr


def test_scan_lists_the_same_three_errors_and_reads_no_source(tmp_path):
    write(tmp_path)
    proc = run(tmp_path, "scan", "--json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == expected_lines(tmp_path)
    assert '"status": "config_error"' in proc.stdout.splitlines()[-1]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "state").exists()  # nothing was opened, let alone scanned


def test_check_config_with_a_good_config_gives_one_fail_line_per_rules_error(tmp_path):
    good = CONFIG.replace('timezone = "Europe/Berln"', 'timezone = "Europe/Berlin"').replace('"seven"', "7")
    write(tmp_path, good, RULES + '\n[rule.value-gaol]\nseverity = "info"\n')
    proc = run(tmp_path, "check-config")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    fails = [line for line in proc.stdout.splitlines() if line.startswith("  FAIL")]
    assert len(fails) == 2, proc.stdout
    assert fails[0].startswith("  FAIL  rules: ") and ":4 [rule.measurable.severity]" in fails[0]
    assert ":6 [rule.value-gaol]: unknown rule id 'value-gaol'" in fails[1]
    assert "did you mean 'value-goal'? expected one of: " in fails[1]
