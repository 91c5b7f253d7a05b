"""`csi-coach demo` end to end: sandboxes, a real scan, a summary with comments read back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from demo import EXAMPLE, demo_config_text

ROOT = Path(__file__).resolve().parent.parent


def test_demo_config_points_at_the_sandbox_and_a_private_state_file(tmp_path):
    text = demo_config_text(EXAMPLE.read_text(), snow_url="http://127.0.0.1:5001", jira_url="http://127.0.0.1:5002",
                            state_file=tmp_path / 'a "quoted" dir' / "s.sqlite")
    import tomllib

    data = tomllib.loads(text)
    assert data["sources"]["servicenow"]["url"] == "http://127.0.0.1:5001"
    assert data["sources"]["jira"]["url"] == "http://127.0.0.1:5002"
    assert data["state"]["path"] == str(tmp_path / 'a "quoted" dir' / "s.sqlite")


def test_demo_runs_a_real_scan_and_shows_comments_as_written(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "demo", "--records", "20", "--state-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "servicenow: 20 records read" in out and "jira: 20 records read" in out
    assert "exactly as they now read on the tickets" in out
    assert out.count("csi-coach:") >= 2  # comments read back from the sandboxes carry their markers
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["records"] == sum(s["records"] for s in report["sources"].values()) >= 40
    assert report["written"] > 0 and report["failed"] == 0
    assert (tmp_path / "csi-coach.sqlite").exists() and (tmp_path / "report" / "report.html").exists()
