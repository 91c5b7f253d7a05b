"""End to end on the sandboxes: an owner disputes a comment, the bot listens.

A scan coaches; the owner of one coached record on each source replies "csi-coach: wrong
- ..." as another user (the sandboxes' own stores: their HTTP APIs let in only the bot's
account); the next scan records the dispute and acknowledges it once; two more scans
write nothing; `csi-coach disputes` lists it in each format, and its JSONL feeds
`classify --input`. What was written is read back from the sandboxes over HTTP.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

# The scan's end-to-end helpers (sandbox start, config, CLI run, comments read back).
_spec = importlib.util.spec_from_file_location("e2e_scan_helpers", Path(__file__).with_name("test_e2e_scan.py"))
assert _spec is not None and _spec.loader is not None
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
BOT, comments_on_tickets, expected_coaching = _helpers.BOT, _helpers.comments_on_tickets, _helpers.expected_coaching
get_json, scan_cli, start, write_config = _helpers.get_json, _helpers.scan_cli, _helpers.start, _helpers.write_config

REASON = "the goal is the members' payout time <b>really</b> & password=hunter2"
REPLY = f"csi-coach: wrong \u2013 {REASON}"


def run_bot(config, info, *args, stdin=None):
    import os

    env = {**os.environ, **info["env"]}
    return subprocess.run([sys.executable, str(BOT), *args, "--config", str(config)] if args[0] != "classify"
                          else [sys.executable, str(BOT), *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120, cwd=config.parent)


def snow_entries(info, sys_id):
    snow = info["servicenow"]
    return get_json(f"{snow['url']}/api/now/table/sys_journal_field", (snow["username"], snow["password"]),
                    {"sysparm_query": f"element_id={sys_id}^ORDERBYsys_created_on", "sysparm_limit": "1000"})["result"]


def jira_comments(info, key):
    jira = info["jira"]
    return get_json(f"{jira['url']}/rest/api/2/issue/{key}/comment", (jira["username"], jira["token"]),
                    {"maxResults": "1000"})["comments"]


def test_an_owners_dispute_is_recorded_acknowledged_once_and_never_coached_again(tmp_path):
    from csi_coach.sandbox.jira.data import BOT as BOT_ACCOUNT
    from csi_coach.sandbox.jira.data import account_for

    pair = start(30, seed=21)
    try:
        info = pair.info()
        config = write_config(tmp_path, info)
        code, first, err = scan_cli(config, info)
        assert code == 0 and first["written"] > 0, err
        want, jira_keys, _total = expected_coaching(config, info)
        coached = sorted(comments_on_tickets(info, jira_keys))
        snow_key = next(k for s, k in coached if s == "servicenow")
        jira_key = next(k for s, k in coached if s == "jira")

        snow_store = pair.servicenow.store
        table = snow_store.table("sn_cim_register")
        snow_store.update(table, snow_key, {"comments": f"<p>{REPLY}</p>"}, "beth.anglin")
        site = pair.jira.site
        # as Jira users reply: a mention of the bot, its comment quoted back (keyword and marker
        # in the quote are not the owner's words), then the reply
        quoted = "{quote}Not useful here? Reply \"csi-coach: wrong\" csi-coach:0123456789abcdef{quote}"
        site.add_comment(site.row(jira_key), account_for("Beth Anglin"),
                         f"[~accountid:{BOT_ACCOUNT.account_id}] {quoted}\n*{REPLY}*", None, {})
        before_snow = len(snow_entries(info, snow_key))
        before_jira = len(jira_comments(info, jira_key))

        code, second, err = scan_cli(config, info)
        assert code == 0, err
        assert second["written"] == 2 and second["failed"] == 0
        new_snow = snow_entries(info, snow_key)[before_snow:]
        assert len(new_snow) == 1 and "you replied that this coaching is wrong" in new_snow[0]["value"]
        assert new_snow[0]["sys_created_by"] == "csi-coach"
        new_jira = jira_comments(info, jira_key)[before_jira:]
        assert len(new_jira) == 1 and "you replied that this coaching is wrong" in new_jira[0]["body"]

        for _ in range(2):  # never again: the acknowledgement bumped the records, the replies are read once more
            code, later, err = scan_cli(config, info, "--report", str(tmp_path / "report"))
            assert code == 0 and later["written"] == 0 and later["failed"] == 0, err
        report = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
        disputed = [d for d in report["disputes_by_rule"] if d["disputed"]]
        assert disputed and all(d["coached"] >= d["disputed"] and 0 < d["rate"] <= 1 for d in disputed)
        html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
        assert "Owners' disputes per rule" in html and disputed[0]["rule"] in html
        assert len(snow_entries(info, snow_key)) == before_snow + 1
        assert len(jira_comments(info, jira_key)) == before_jira + 1

        listed = run_bot(config, info, "disputes", "--format", "jsonl")
        assert listed.returncode == 0, listed.stderr
        items = [json.loads(line) for line in listed.stdout.splitlines()]
        assert {(i["source"], i["key"]) for i in items} == {("servicenow", snow_key),
                                                           ("jira", jira_key)}
        for item in items:
            assert item["kind"] == "wrong" and item["rules"] and item["acknowledged"]
            assert item["reason"].startswith("the goal is the members' payout time")
            assert "hunter2" not in item["reason"]  # scrubbed before it was stored
            assert item["evidence"] and item["goal"] is not None

        as_json = run_bot(config, info, "disputes", "--format", "json")
        assert json.loads(as_json.stdout) == items
        as_table = run_bot(config, info, "disputes")
        assert as_table.returncode == 0 and "servicenow" in as_table.stdout and jira_key in as_table.stdout
        assert "2 dispute(s)" in as_table.stdout and "\n" not in REASON

        classified = run_bot(config, info, "classify", "--input", "-", stdin=listed.stdout)
        assert classified.returncode == 0, classified.stderr
        verdicts = [json.loads(line) for line in classified.stdout.splitlines()]
        assert [v["id"] for v in verdicts] == [i["id"] for i in items]
        assert all(v["category"] in ("process_only", "no_goal") for v in verdicts)

        one = tmp_path / "dispute.json"
        one.write_text(listed.stdout.splitlines()[0] + "\n", encoding="utf-8")
        explained = run_bot(config, info, "explain", "--file", str(one), "--json")
        assert explained.returncode == 0, explained.stderr
    finally:
        pair.stop()
