"""`csi-coach demo` end to end: sandboxes, a real scan, a summary with comments read back."""

from __future__ import annotations

import json
import subprocess
import sys

from csi_coach.commands.demo import EXAMPLE, demo_config_text
from support.paths import ROOT


def test_demo_config_points_at_the_sandbox_and_a_private_state_file(tmp_path):
    text = demo_config_text(EXAMPLE.read_text(), snow_url="http://127.0.0.1:5001", jira_url="http://127.0.0.1:5002",
                            state_file=tmp_path / 'a "quoted" dir' / "s.sqlite")
    import tomllib

    data = tomllib.loads(text)
    assert data["sources"]["servicenow"]["url"] == "http://127.0.0.1:5001"
    assert data["sources"]["jira"]["url"] == "http://127.0.0.1:5002"
    assert data["state"]["path"] == str(tmp_path / 'a "quoted" dir' / "s.sqlite")
    assert data["sources"]["servicenow"]["ca_bundle"] == data["sources"]["jira"]["ca_bundle"] == ""


def test_demo_config_trusts_an_https_sandboxs_ca_in_every_source(tmp_path):
    import tomllib

    ca = tmp_path / 'a "quoted" dir' / "sandbox-ca.pem"
    text = demo_config_text(EXAMPLE.read_text(), snow_url="https://127.0.0.1:5001", jira_url="https://127.0.0.1:5002",
                            state_file=tmp_path / "s.sqlite", ca_bundle=ca)
    sources = tomllib.loads(text)["sources"]
    assert [s["url"] for s in sources.values()] == ["https://127.0.0.1:5001", "https://127.0.0.1:5002"]
    assert [s["ca_bundle"] for s in sources.values()] == [str(ca), str(ca)]
    assert all(s["verify_tls"] is True for s in sources.values())


def test_demo_runs_a_real_scan_and_shows_comments_as_written(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "demo", "--records", "20", "--state-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "sandboxes over HTTPS, with a throwaway CA" in out
    assert "servicenow: 20 records read" in out and "jira: 20 records read" in out
    assert "exactly as they now read on the tickets" in out
    assert out.count("csi-coach:") >= 2  # comments read back from the sandboxes carry their markers
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["records"] == sum(s["records"] for s in report["sources"].values()) >= 40
    assert report["written"] > 0 and report["failed"] == 0
    assert (tmp_path / "csi-coach.sqlite").exists() and (tmp_path / "report" / "report.html").exists()
    # The scan verified the sandboxes' certificates against the CA its config trusts.
    import tomllib

    sources = tomllib.loads((tmp_path / "config.toml").read_text())["sources"]
    ca = tmp_path / "sandbox-ca.pem"
    assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----") and f"sandbox CA      {ca}" in out
    assert all(s["url"].startswith("https://127.0.0.1:") and s["verify_tls"] and s["ca_bundle"] == str(ca)
               for s in sources.values())


def test_without_trustme_the_demo_runs_over_plain_http_and_says_so(tmp_path):
    # As an install without the sandbox extra: trustme cannot be imported.
    run = ("import sys; sys.modules['trustme'] = None; from csi_coach.bot import main; "
           f"sys.exit(main(['demo', '--records', '8', '--state-dir', {str(tmp_path)!r}]))")
    proc = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "over plain HTTP" in proc.stdout and "pip install 'csi-coach[sandbox]'" in proc.stdout
    assert "servicenow: 8 records read" in proc.stdout and "jira: 8 records read" in proc.stdout
    assert 'url = "http://127.0.0.1:' in (tmp_path / "config.toml").read_text()
    assert not (tmp_path / "sandbox-ca.pem").exists()


def test_demo_shows_jira_comments_as_wiki_markup_with_a_note(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "demo", "--records", "20", "--state-dir", str(tmp_path), "--show", "4"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    blocks = proc.stdout.split("\n--- ")[1:]
    jira = [b for b in blocks if b.startswith("jira ")]
    assert jira, "the demo showed no Jira comment"
    assert all(b.splitlines()[1].strip().startswith("(Jira wiki markup, as stored") for b in jira)
    assert not any("wiki markup" in b for b in blocks if b.startswith("servicenow "))


def test_the_by_hand_hint_exports_every_secret_the_example_config_reads(tmp_path, monkeypatch):
    """Do what the hint says: its export line, run on the sandbox's JSON line, sets every
    variable config.example.toml names, and the scan's secret check then passes."""
    import re
    import shlex

    from csi_coach.commands.demo import by_hand_hint
    from csi_coach.commands.scan import check_secrets
    from csi_coach.config import load_config
    from csi_coach.sandbox.cli import start_sandbox

    hint = by_hand_hint(EXAMPLE)
    assert '"env" object' in hint and "csi-coach sandbox > sandbox.json" in hint
    assert re.search(r"csi-coach scan --config \S*config\.example\.toml", hint)
    export = next(line.strip() for line in hint.splitlines() if line.strip().startswith("export $("))
    inner = export[len("export $("):-1]
    with start_sandbox("127.0.0.1", 0, 0, "cloud", 0, 1, None) as pair:
        (tmp_path / "sandbox.json").write_text(json.dumps(pair.info()) + "\n")
    words = subprocess.run(shlex.split(inner), cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()
    exported = dict(w.split("=", 1) for w in words)
    named = set(re.findall(r'(?m)^\s*\w+_env\s*=\s*"(\w+)"', EXAMPLE.read_text()))
    assert named and named <= set(exported)
    for name in named:
        monkeypatch.delenv(name, raising=False)
    config = load_config(EXAMPLE)
    import pytest

    from csi_coach.errors import ConfigError

    with pytest.raises(ConfigError):
        check_secrets(config)  # without the exports: refused
    for name, value in exported.items():
        monkeypatch.setenv(name, value)
    check_secrets(config)
