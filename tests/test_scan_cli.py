"""`csi-coach scan` as a command: exit codes, lock message, dry run output, JSON last line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from locking import ScanLock

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """
[state]
path = "state/s.sqlite"
[sources.snow]
type = "servicenow"
url = "http://127.0.0.1:9"
[sources.snow.auth]
method = "basic"
username_env = "CSI_TEST_USER"
password_env = "CSI_TEST_PASSWORD"
"""


def run(tmp_path, *args, env=None):
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "scan", "--config", str(tmp_path / "config.toml"), *args],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**os.environ, **(env or {})},
    )


def test_missing_secret_is_a_config_error_exit_2(tmp_path):
    (tmp_path / "config.toml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSI_TEST_")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "scan", "--config", str(tmp_path / "config.toml")],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
    )
    assert proc.returncode == 2, proc.stderr
    assert "CSI_TEST_USER" in proc.stderr and "Traceback" not in proc.stderr


def test_a_second_scan_exits_with_a_clear_message_while_one_runs(tmp_path):
    (tmp_path / "config.toml").write_text(CONFIG)
    with ScanLock(tmp_path / "state" / "s.sqlite"):
        proc = run(tmp_path, env={"CSI_TEST_USER": "u", "CSI_TEST_PASSWORD": "p"})
    assert proc.returncode == 1
    assert "another scan is running" in proc.stderr and "Traceback" not in proc.stderr


def test_unreachable_source_fails_the_source_not_the_command(tmp_path):
    (tmp_path / "config.toml").write_text(CONFIG.replace('url = "http://127.0.0.1:9"', 'url = "http://127.0.0.1:9"\ntimeout_seconds = 2'))
    proc = run(tmp_path, "--json", env={"CSI_TEST_USER": "u", "CSI_TEST_PASSWORD": "sekret-value"})
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["sources"]["snow"]["status"] == "failed"
    assert {"records", "flagged", "written", "deferred", "failed"} <= set(summary)
    assert "sekret-value" not in proc.stdout + proc.stderr
