"""End to end over HTTPS: `csi-coach scan` against the TLS sandbox, for each TLS setting.

- verify_tls = true with the sandbox's CA as ca_bundle: the scan works, even with a
  machine-wide $REQUESTS_CA_BUNDLE that does not hold that CA;
- no ca_bundle, or another CA's: the source fails at once with a plain message, each
  request tried once (the sandbox counts the refused handshakes);
- verify_tls = false: the scan works; it says so in the bot's log at every scan, and
  urllib3's own warning goes through the same log handlers, once, nothing on stderr.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import trustme
from urllib3.exceptions import InsecureRequestWarning

from csi_coach.commands.demo import EXAMPLE, demo_config_text
from csi_coach.sandbox.cli import start_sandbox
from support.paths import BOT
from support.rules import with_small_rules

RECORDS = 12


@pytest.fixture(scope="module")
def pair():
    with start_sandbox("127.0.0.1", 0, 0, "cloud", RECORDS, 5, None, tls=True) as started:
        assert started.jira.wait_ready(60)
        yield started


def write_config(folder: Path, pair, *, ca_bundle: Path | None, verify_tls: bool = True, log_file: Path | None = None) -> Path:
    info = pair.info()
    text = demo_config_text(EXAMPLE.read_text(encoding="utf-8"), snow_url=info["servicenow"]["url"],
                            jira_url=info["jira"]["url"], state_file=folder / "state.sqlite", ca_bundle=ca_bundle)
    if not verify_tls:
        text, n = re.subn(r"(?m)^verify_tls = true", "verify_tls = false", text)
        assert n == 2
    if log_file is not None:
        text, n = re.subn(r'(?m)^file = ""', f'file = "{log_file}"', text)
        assert n == 1
        text, n = re.subn(r'(?m)^format = "plain"', 'format = "json"', text)
        assert n == 1
    text = with_small_rules(text, folder)  # TLS is the subject, not the rules
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def scan(config: Path, pair, **env: str) -> tuple[int, dict, str]:
    """`csi-coach scan --json` in a subprocess (stderr a pipe: no terminal)."""
    proc = subprocess.run([sys.executable, str(BOT), "scan", "--config", str(config), "--json"],
                          capture_output=True, text=True, timeout=180, cwd=config.parent,
                          env={**os.environ, **pair.info()["env"], **env})
    lines = proc.stdout.strip().splitlines()
    return proc.returncode, json.loads(lines[-1]) if lines else {}, proc.stderr


def refused(pair) -> tuple[int, int]:
    return pair.servicenow.tls_refused, pair.jira.tls_refused


# A machine-wide bundle, as corporate machines set: requests would let it replace a
# session's verify (requests issue 3829); the connectors pin theirs.
MACHINE_BUNDLE = {"REQUESTS_CA_BUNDLE": requests.certs.where(), "CURL_CA_BUNDLE": requests.certs.where()}


def test_with_the_sandbox_ca_as_ca_bundle_the_scan_works(tmp_path, pair):
    before = refused(pair)
    code, summary, stderr = scan(write_config(tmp_path, pair, ca_bundle=pair.ca_file), pair, **MACHINE_BUNDLE)
    assert code == 0, stderr
    for name in ("servicenow", "jira"):
        source = summary["sources"][name]
        assert source["status"] == "ok" and source["records"] == RECORDS, source
        assert source["written"] > 0
    assert refused(pair) == before  # every handshake succeeded


@pytest.mark.parametrize("which", ["none", "another"])
def test_an_unknown_ca_fails_the_source_at_once_with_a_plain_message(tmp_path, pair, which):
    ca_bundle = None
    if which == "another":  # a valid CA file, but not the one that signed the sandbox's certificate
        ca_bundle = tmp_path / "other-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(ca_bundle))
    before = refused(pair)
    code, summary, stderr = scan(write_config(tmp_path, pair, ca_bundle=ca_bundle), pair)
    assert code == 1, stderr
    assert summary["status"] == "failed"
    for name in ("servicenow", "jira"):
        source = summary["sources"][name]
        assert source["status"] == "failed" and source["records"] == 0, source
        assert "certificate verify failed for 127.0.0.1" in source["error"], source["error"]
    # Each request the scan makes to a source is tried once: its list of marked records and
    # its first page (a retry would be five refused handshakes for one request).
    after = refused(pair)
    assert 1 <= after[0] - before[0] <= 2 and 1 <= after[1] - before[1] <= 2, (before, after)
    assert "Traceback" not in stderr


def test_verify_tls_false_works_and_says_so_through_the_bots_log_only(tmp_path, pair):
    log_file = tmp_path / "bot.log"
    config = write_config(tmp_path, pair, ca_bundle=None, verify_tls=False, log_file=log_file)
    code, summary, stderr = scan(config, pair, **MACHINE_BUNDLE)
    assert code == 0, stderr
    assert all(s["status"] == "ok" and s["records"] == RECORDS for s in summary["sources"].values())
    # A log file and no terminal: everything goes to the file, through the bot's JSON formatter.
    assert stderr == ""
    entries = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    ours = [e for e in entries if e["logger"] == "csi_coach.connectors.tls"]
    assert [(e["level"], e["message"].split(":")[0]) for e in ours] == [("warning", "servicenow"), ("warning", "jira")]
    assert all("verify_tls = false" in e["message"] and "not checked" in e["message"] for e in ours)
    urllib3s = [e for e in entries if "InsecureRequestWarning" in e["message"]]
    assert len(urllib3s) == 1, urllib3s  # once per host (both sandboxes are 127.0.0.1), not per request
    assert urllib3s[0]["logger"] == "py.warnings" and urllib3s[0]["level"] == "warning"
    assert "'127.0.0.1'" in urllib3s[0]["message"]

    # The next scan says it again (and urllib3 once again: a new process).
    code, _, stderr = scan(config, pair)
    assert code == 0 and stderr == ""
    entries = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    assert sum(e["logger"] == "csi_coach.connectors.tls" for e in entries) == 4


def test_every_scan_in_one_process_warns_again(tmp_path, pair, caplog, monkeypatch):
    """`csi-coach run` scans many times in one process: each scan says it."""
    from csi_coach.config import load_config
    from csi_coach.scan.runner import run_scan

    for name, value in pair.info()["env"].items():
        monkeypatch.setenv(name, value)
    config = load_config(write_config(tmp_path, pair, ca_bundle=None, verify_tls=False))
    with caplog.at_level(logging.WARNING, logger="csi_coach.connectors.tls"), pytest.warns(InsecureRequestWarning):
        for _ in range(2):
            result = run_scan(config)
            assert all(s.status == "ok" for s in result.sources), [s.error for s in result.sources]
    said = [r.getMessage().split(":")[0] for r in caplog.records if r.name == "csi_coach.connectors.tls"]
    assert said == ["servicenow", "jira", "servicenow", "jira"]
