"""scan and run refuse rules whose own examples fail (issue 14, item 4): exit 2, each failing
example named by file and line with what the rule matched; --allow-failing-examples runs them
with a warning; run's SIGHUP reload keeps the rules it had."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from csi_coach.commands.run import ScheduledScan
from csi_coach.config import load_config
from csi_coach.scan.runner import load_ruleset
from support.paths import ROOT

CONFIG = """\
rules = "rules.toml"

[state]
path = "state/s.sqlite"

[sources.snow]
type = "servicenow"
url = "http://127.0.0.1:9"
timeout_seconds = 2

[sources.snow.auth]
method = "basic"
username_env = "CSI_TEST_USER"
password_env = "CSI_TEST_PASSWORD"
"""

# Line 5 should flag and does not; line 6 should pass and the rule fires on "patients".
FAILING = """\
extends = "default"

[rule.consumer-role]
examples = { flag = [
  "Reduce P1 incidents by a third",
], pass = ["Patients can book online"] }
"""


def run(tmp_path: Path, command: str, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CSI_TEST_USER": "u", "CSI_TEST_PASSWORD": "p"}
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), command, "--config", str(tmp_path / "config.toml"), *extra],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )


def write(tmp_path: Path, rules: str = FAILING) -> Path:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "rules.toml").write_text(rules, encoding="utf-8")
    return tmp_path / "rules.toml"


def test_scan_refuses_rules_whose_examples_fail(tmp_path):
    rules = write(tmp_path).resolve()
    proc = run(tmp_path, "scan", "--json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr.splitlines()
    assert err[0] == (f"csi-coach: config error: {rules}:5: [rule.consumer-role.examples] "
                      "'Reduce P1 incidents by a third' should flag (the rule should fire): nothing matched")
    assert err[1] == (f"csi-coach: config error: {rules}:6: [rule.consumer-role.examples] "
                      "'Patients can book online' should pass (the rule should not fire): matched 'Patients' in goal")
    assert "2 rule examples fail" in err[2] and "--allow-failing-examples" in err[2]
    assert len(err) == 3 and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["status"] == "config_error"
    assert not (tmp_path / "state").exists()  # refused before anything was opened


def test_allow_failing_examples_runs_the_scan_with_a_warning_per_example(tmp_path):
    rules = write(tmp_path).resolve()
    proc = run(tmp_path, "scan", "--json", "--allow-failing-examples")
    # The scan ran: its one source is unreachable (exit 1, the source failed), not refused (2).
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["sources"]["snow"]["status"] == "failed"
    warnings = [line for line in proc.stderr.splitlines() if "rule example fails" in line]
    assert len(warnings) == 2, proc.stderr
    assert f"{rules}:5: [rule.consumer-role.examples]" in warnings[0] and "WARNING" in warnings[0]
    assert "--allow-failing-examples" in warnings[0]


def test_check_config_shows_the_same_located_failures(tmp_path):
    rules = write(tmp_path).resolve()
    proc = run(tmp_path, "check-config")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # check-config's own code for failing examples
    assert (f"  FAIL  rule example: {rules}:6: [rule.consumer-role.examples] 'Patients can book online' should pass "
            "(the rule should not fire): matched 'Patients' in goal") in proc.stdout.splitlines()


def test_run_refuses_at_start(tmp_path):
    rules = write(tmp_path).resolve()
    proc = run(tmp_path, "run")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{rules}:5: [rule.consumer-role.examples]" in proc.stderr and "Traceback" not in proc.stderr


def test_run_keeps_the_rules_it_has_when_a_reload_brings_failing_examples(tmp_path, capsys):
    rules = write(tmp_path, 'extends = "default"\n')
    config = load_config(tmp_path / "config.toml")
    job = ScheduledScan(str(tmp_path / "config.toml"), config, threading.Event(), ruleset=load_ruleset(config))
    assert job.reload("reloading on SIGHUP")
    good = job.ruleset
    rules.write_text(FAILING, encoding="utf-8")
    capsys.readouterr()
    assert not job.reload("reloading on SIGHUP")
    assert job.ruleset is good
    logged = capsys.readouterr().err  # run logs to stderr ([logging] unset)
    assert "ERROR" in logged and "stays in use" in logged and ":5: [rule.consumer-role.examples]" in logged
    job.allow_failing_examples = True  # with the flag, the new rules are taken
    assert job.reload("reloading on SIGHUP") and job.ruleset is not good
