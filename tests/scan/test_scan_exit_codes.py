"""Failures that will not fix themselves say so (issue 10): a state file that is corrupt,
unreadable or from a newer csi-coach is exit 2 ("needs a person", as a config error is),
and the --json summary line is printed on every exit path, its status saying what happened."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys

import pytest

from csi_coach.scan.locking import ScanLock
from csi_coach.scan.state import StateStore
from support.paths import ROOT
from support.rules import with_small_rules

CONFIG = """
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
SECRETS = {"CSI_TEST_USER": "u", "CSI_TEST_PASSWORD": "p"}


def scan(tmp_path, *args, env=None):
    (tmp_path / "config.toml").write_text(with_small_rules(CONFIG, tmp_path))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "scan", "--config", str(tmp_path / "config.toml"), "--json", *args],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env if env is not None else {**os.environ, **SECRETS},
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, proc.stderr  # the summary line is there whatever happened
    return proc.returncode, json.loads(lines[-1]), proc.stderr


def corrupt(path):
    path.write_bytes(b"this is not an SQLite database, it was overwritten" * 100)


def unreadable(path):
    path.mkdir()  # a folder where the file should be


def newer(path):
    with StateStore(path):
        pass
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = 999")
    db.commit()
    db.close()


@pytest.mark.parametrize("spoil", [corrupt, unreadable, newer])
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_state_file_problem_is_exit_2_with_the_summary_saying_so(tmp_path, spoil, dry_run):
    (tmp_path / "state").mkdir()
    spoil(tmp_path / "state" / "s.sqlite")
    code, summary, err = scan(tmp_path, *(["--dry-run"] if dry_run else []))
    assert code == 2, err
    # a folder in the file's place is already refused where [state] path is checked
    assert summary["status"] in ({"state_error", "config_error"} if spoil is unreadable else {"state_error"})
    assert "s.sqlite" in summary["error"]
    assert summary["written"] == 0 and summary["sources"] == {}
    assert "Traceback" not in err and "state" in err


def test_a_config_error_prints_the_summary_line_too(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSI_TEST_")}
    code, summary, err = scan(tmp_path, env=env)
    assert code == 2 and summary["status"] == "config_error" and "CSI_TEST_USER" in summary["error"]
    assert "CSI_TEST_USER" in err


def test_another_scan_running_exits_3_and_says_busy(tmp_path):
    (tmp_path / "config.toml").write_text(with_small_rules(CONFIG, tmp_path))
    with ScanLock(tmp_path / "state" / "s.sqlite"):
        code, summary, err = scan(tmp_path)
        text = subprocess.run(
            [sys.executable, str(ROOT / "bot.py"), "scan", "--config", str(tmp_path / "config.toml")],
            capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**os.environ, **SECRETS},
        )
    assert code == 3 and summary["status"] == "busy" and "another scan is running" in err
    assert f"held by pid {os.getpid()}" in summary["error"] and summary["written"] == 0
    assert text.returncode == 3 and "csi-coach: another scan is running" in text.stderr and text.stdout == ""
    assert not (tmp_path / "state" / "s.sqlite").exists()  # it touched nothing


def exit_codes_in(text: str) -> set[int]:
    """The codes a list of exit codes names: lines such as "  3    scan only: ..." or "- 3: ..."."""
    return {int(m) for m in re.findall(r"(?m)^\s*(?:- |\| )?`?(\d{1,3})`?(?::| {2,}| \|)", text)}


def test_help_and_the_readme_document_every_exit_code():
    from csi_coach import bot

    codes = {bot.EXIT_OK, bot.EXIT_FAILED, bot.EXIT_CONFIG, bot.EXIT_BUSY, bot.EXIT_INTERRUPTED}
    help_text = subprocess.run([sys.executable, str(ROOT / "bot.py"), "--help"], capture_output=True, text=True,
                               timeout=60).stdout
    assert exit_codes_in(help_text[help_text.index("exit codes:"):]) == codes
    scan_help = subprocess.run([sys.executable, str(ROOT / "bot.py"), "scan", "--help"], capture_output=True,
                               text=True, timeout=60).stdout
    assert all(f"{code} " in scan_help[scan_help.index("exit codes:"):] for code in codes)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Exit codes"):]
    section = section[: section.index("\n## ")]
    assert exit_codes_in(section) == codes
    assert 'status "busy"' in help_text and '`status` `"busy"`' in section


def test_a_source_that_cannot_be_read_stays_exit_1(tmp_path):
    code, summary, err = scan(tmp_path)
    assert code == 1 and summary["status"] == "failed" and summary["error"] == ""
