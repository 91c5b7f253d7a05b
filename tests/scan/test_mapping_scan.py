"""A wrong field mapping coaches no one (issue 14, item 2): the real ``csi-coach scan`` in a
subprocess against the sandboxes over 127.0.0.1.

Before: a Jira goal field the site lacks (customfield_10500) gave no warning and a dry run
would have written 82 comments; a misspelt ServiceNow goal field gave a raw log warning
and coaching went on. Now that source fails with a config error naming the field and
the closest fields there are, nothing is written to it, the other source is scanned, and
the scan exits 2 (config_error). A goal field present but empty on every record is a
warning in the summary and the report, and the scan goes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from csi_coach.commands.demo import EXAMPLE, demo_config_text
from csi_coach.sandbox.cli import SandboxPair, start_sandbox
from support.paths import ROOT
from support.rules import with_small_rules


@pytest.fixture
def pair():
    p = start_sandbox("127.0.0.1", 0, 0, "cloud", 200, 1, None)
    yield p
    p.stop()


def config_for(folder: Path, pair: SandboxPair, *edits: tuple[str, str]) -> Path:
    info = pair.info()
    text = demo_config_text(EXAMPLE.read_text(encoding="utf-8"), snow_url=info["servicenow"]["url"],
                            jira_url=info["jira"]["url"], state_file=folder / "state.sqlite")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    text = with_small_rules(text, folder)  # the mapping is the subject, not the rules
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def scan(config: Path, pair: SandboxPair, *args: str) -> tuple[int, dict, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSI_")} | pair.info()["env"]
    proc = subprocess.run([sys.executable, str(ROOT / "bot.py"), "scan", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, cwd=config.parent, timeout=300)
    lines = proc.stdout.strip().splitlines()
    summary = json.loads(lines[-1]) if "--json" in args and lines else {}
    return proc.returncode, summary, proc.stdout, proc.stderr


def journal_entries(pair: SandboxPair) -> int:
    info = pair.info()["servicenow"]
    rows = requests.get(f"{info['url']}/api/now/table/sys_journal_field",
                        params={"sysparm_query": "valueLIKEcsi-coach:", "sysparm_fields": "sys_id"},
                        auth=(info["username"], info["password"]), timeout=30).json()["result"]
    return len(rows)


WRONG_JIRA_GOAL = ('goal = "customfield_10050"', 'goal = "customfield_10500"')
WRONG_SNOW_GOAL = ('goal = "benefit"', 'goal = "benfit"')


def test_a_wrong_jira_goal_field_writes_nothing_there_and_fails_the_source_with_a_config_error(tmp_path, pair):
    config = config_for(tmp_path, pair, WRONG_JIRA_GOAL)
    code, dry, _, _ = scan(config, pair, "--dry-run", "--json", "--summary")
    assert code == 2 and dry["status"] == "config_error"
    assert dry["sources"]["jira"]["written"] == 0 and dry["sources"]["jira"]["records"] == 0  # before: every flagged issue

    code, summary, _, stderr = scan(config, pair, "--json")
    assert code == 2, stderr
    jira, snow = summary["sources"]["jira"], summary["sources"]["servicenow"]
    assert summary["status"] == "config_error"
    assert jira["status"] == "failed" and jira["written"] == 0 and jira["records"] == 0
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "customfield_10500" in text)
    assert jira["error"].startswith(f"{config}:{line} [sources.jira.fields.goal]: the goal field 'customfield_10500' "
                                    "is on none of the 100 record(s) of a page")
    assert "expected a field the source has, closest first: customfield_10050 (Value goal)," in jira["error"]
    assert pair.jira.notifications == 0  # not one comment written on Jira
    assert snow["status"] == "ok" and snow["written"] > 0 and journal_entries(pair) == snow["written"]

    # Fixed, the next scan reads and coaches Jira as if the failed one had never been.
    config.write_text(config.read_text().replace(*reversed(WRONG_JIRA_GOAL)))
    code, summary, _, stderr = scan(config, pair, "--json")
    assert code == 0, stderr
    assert summary["sources"]["jira"]["records"] == 200 and summary["sources"]["jira"]["written"] > 0


def test_a_wrong_servicenow_goal_field_fails_that_source_and_jira_is_still_scanned(tmp_path, pair):
    config = config_for(tmp_path, pair, WRONG_SNOW_GOAL)
    code, _, out, stderr = scan(config, pair)
    assert code == 2, stderr
    assert "Scan finished (config_error)." in out
    assert ("    could not be scanned: " in out and "[sources.servicenow.fields.goal]: the goal field 'benfit' is on "
            "none of the 200 record(s)" in out and "closest first: benefit," in out)
    assert journal_entries(pair) == 0
    assert pair.jira.notifications > 0  # Jira was coached as usual


def test_a_goal_empty_on_every_record_is_a_warning_in_the_summary_and_the_report(tmp_path, pair):
    config = config_for(tmp_path, pair, ('query = ""', 'query = "benefitISEMPTY"'))
    code, summary, _, stderr = scan(config, pair, "--dry-run", "--json", "--report", str(tmp_path / "report"))
    assert code == 0, stderr  # a warning, not a failure: such records can be right (no goal yet)
    snow = summary["sources"]["servicenow"]
    expected = (f"[sources.servicenow.fields.goal] 'benefit' is empty on all {snow['records']} record(s) read: no "
                "record has a goal there, so each is judged without one; check that it is the field owners write "
                "the goal in")
    assert snow["records"] > 0 and snow["warnings"] == [expected]
    assert summary["sources"]["jira"]["warnings"] == []
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "Field mapping: [sources.servicenow.fields.goal] &#39;benefit&#39; is empty on all" in html
    assert json.loads((tmp_path / "report" / "report.json").read_text())["sources"]["servicenow"]["warnings"] == [expected]

    code, _, out, _ = scan(config, pair, "--dry-run", "--summary")
    assert f"    warning: {expected}" in out
