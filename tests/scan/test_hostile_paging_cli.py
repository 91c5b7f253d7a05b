"""End to end: the real ``csi-coach scan`` against a ServiceNow that pages for ever (issue 13, finding 2).

The config is config.example.toml as the demo writes it, with its ServiceNow source
pointed at a small real server on 127.0.0.1 that answers every page with the same
records and ``Link: rel="next"`` (or, for SIGTERM, with empty pages: no record ever
reaches the pipeline), and its Jira source at the Jira sandbox. The scan must end by
itself within seconds, report the ServiceNow source failed with a message saying what
the server did, read Jira anyway, and exit 1 (README: a source that could not be read
is retried next scan). The first SIGTERM must end a scan paging such a server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.hostile_paging import HostileServer, servicenow_hidden_pages, servicenow_same_page
from support.paths import ROOT
from support.rules import with_small_rules

BOT = ROOT / "bot.py"


def write_config(folder: Path, snow_url: str, jira_url: str) -> Path:
    from csi_coach.commands.demo import EXAMPLE, demo_config_text

    text = demo_config_text(EXAMPLE.read_text(encoding="utf-8"), snow_url=snow_url, jira_url=jira_url,
                            state_file=folder / "state.sqlite")
    text = with_small_rules(text, folder)  # the paging is the subject, not the rules
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def last_json(out: str) -> dict:
    lines = out.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def test_scan_against_a_server_paging_for_ever_ends_reports_the_source_and_exits_1(tmp_path):
    from csi_coach.sandbox.cli import start_sandbox

    pair = start_sandbox("127.0.0.1", 0, 0, "cloud", 6, 3)
    try:
        info = pair.info()
        with HostileServer(servicenow_same_page()) as snow:
            config = write_config(tmp_path, snow.url, info["jira"]["url"])
            started = time.monotonic()
            proc = subprocess.run([sys.executable, str(BOT), "scan", "--config", str(config), "--json"],
                                  capture_output=True, text=True, env={**os.environ, **info["env"]},
                                  timeout=120, cwd=tmp_path)
            took = time.monotonic() - started
            pages = snow.count("/sn_cim_register")
    finally:
        pair.stop()
    summary = last_json(proc.stdout)
    assert proc.returncode == 1, proc.stderr
    assert took < 30  # interpreter start and rules included; the listing itself ends at page 2
    assert pages == 2
    assert summary["status"] == "failed"
    snow_result = summary["sources"]["servicenow"]
    assert snow_result["status"] == "failed"
    assert "read sn_cim_register" in snow_result["error"] and "paging would never end" in snow_result["error"]
    assert summary["sources"]["jira"]["status"] == "ok" and summary["sources"]["jira"]["records"] == 6
    assert "paging would never end" in proc.stderr  # the log says it too


def test_the_first_sigterm_ends_a_scan_paging_a_server_that_yields_no_record(tmp_path):
    with HostileServer(servicenow_hidden_pages(), delay=0.01) as snow:
        # Jira is never reached: the stop request ends the scan on the ServiceNow source
        config = write_config(tmp_path, snow.url, "http://127.0.0.1:9")
        env = {**os.environ, "CSI_SNOW_USER": "csi-coach", "CSI_SNOW_PASSWORD": "pw",
               "CSI_JIRA_EMAIL": "csi-coach@example.com", "CSI_JIRA_TOKEN": "tok"}
        proc = subprocess.Popen([sys.executable, str(BOT), "scan", "--config", str(config), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 60
            while snow.count("/sn_cim_register") < 20 and time.monotonic() < deadline:
                time.sleep(0.02)  # paging, with no record to reach the pipeline's own stop check
            assert snow.count("/sn_cim_register") >= 20
            proc.send_signal(signal.SIGTERM)
            asked = time.monotonic()
            out, err = proc.communicate(timeout=30)
            took = time.monotonic() - asked
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert took < 5, err
    assert proc.returncode == 1, err
    summary = last_json(out)
    assert summary["status"] == "interrupted"
    assert summary["sources"]["servicenow"]["status"] == "interrupted"
    assert "stopped on request between pages" in err
