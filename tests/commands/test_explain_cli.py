"""`csi-coach explain` via the real CLI: verdict, evidence, and the exact comment."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import urllib.request
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from csi_coach.model import MARKER_RE, Record
from support.paths import ROOT

PROCESS = "Reduce P1 incidents by 20% and raise FCR to 75%"
VALUE = "Branch staff open a new account in one visit instead of three by June"


def explain(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CSI_COACH_CONFIG"}
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), "explain", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def explain_here(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """The same command in this process (the rule set compiles faster the second time)."""
    from csi_coach import bot

    old = os.getcwd()
    os.chdir(cwd)
    saved = os.environ.pop("CSI_COACH_CONFIG", None)
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = bot.main(["explain", *args])
    finally:
        os.chdir(old)
        if saved is not None:
            os.environ["CSI_COACH_CONFIG"] = saved
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def ok_json(cwd: Path, *args: str) -> dict:
    res = explain_here(cwd, *args, "--json")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_process_only_text_shows_verdict_evidence_and_comment(tmp_path):
    res = explain(tmp_path, "--text", PROCESS)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert re.search(r"Category\s+process_only", out) and re.search(r"Value goal\s+no", out)
    assert re.search(r"goal\[\d+:\d+\] '(P1|FCR|incidents)", out)  # field, offsets, words
    assert "Comment that would be written (servicenow)" in out
    assert MARKER_RE.search(out) and 'add the label "csi-coach-skip"' in out
    assert "no config file" in res.stderr  # runs on the shipped rules, and says so


def test_value_goal_gets_no_comment(tmp_path):
    res = explain_here(tmp_path, "--text", VALUE)
    assert res.returncode == 0, res.stderr
    assert "No comment:" in res.stdout and "service-value goal" in res.stdout
    assert not MARKER_RE.search(res.stdout)


def test_json_output_carries_verdict_and_exact_comment(tmp_path):
    data = ok_json(tmp_path, "--text", PROCESS, "--target", "jira")
    assert data["category"] == "process_only" and data["value_goal"] is False
    assert isinstance(data["measurable"], bool)
    ev = [e for f in data["findings"] for e in f["evidence"]]
    assert ev and all(PROCESS[e["start"]:e["end"]] == e["text"] for e in ev if e["field"] == "goal")
    assert data["comment"].rstrip().endswith("{color:#97a0af}" + data["marker"] + "{color}")


def test_hostile_text_is_escaped_in_the_comment(tmp_path):
    text = PROCESS + " {{ 7*7 }} [~admin] {html}<script>alert(1)</script>{html}"
    data = ok_json(tmp_path, "--text", text, "--target", "jira")
    body = data["comment"].replace(data["marker"], "")
    assert "49" not in body and "[~admin]" not in body and "{html}" not in body


def test_file_with_json_record_uses_its_fields_and_target(tmp_path):
    record = {"id": "T-1", "source": "jira", "number": "CSI-7", "title": "Incident reduction", "description": "",
              "goal": PROCESS, "service": "Point of Sale", "category": "process_only"}
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps({**record, "id": "T-2"}) + "\n", encoding="utf-8")
    data = ok_json(tmp_path, "--file", str(path))
    assert data["record"]["number"] == "CSI-7" and data["target"] == "jira"
    assert "Point of Sale" in data["comment"]


def test_file_with_plain_text_and_odd_characters(tmp_path):
    path = tmp_path / "goal.txt"
    path.write_bytes(b"\xef\xbb\xbf" + PROCESS.encode() + " \u202e caf\u00e9 \U0001f600 \x07\n".encode())
    data = ok_json(tmp_path, "--file", str(path))
    assert data["category"] == "process_only" and "\x07" not in data["comment"]
    assert data["record"]["goal"].startswith("Reduce P1")  # the UTF-8 BOM is not part of the text


def test_utf16_text_with_a_bom_is_read(tmp_path):
    path = tmp_path / "goal.txt"
    path.write_bytes(PROCESS.encode("utf-16"))  # what Windows editors save as "Unicode"
    data = ok_json(tmp_path, "--file", str(path))
    assert data["category"] == "process_only" and data["record"]["goal"] == PROCESS


@pytest.mark.parametrize("name, content, words", [
    ("nul bytes in text", PROCESS.encode() + b" \x00 more\n", "binary"),
    ("an image", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "binary"),
    ("latin-1 text", "Reduce P1 incidents at the caf\u00e9 by 20%".encode("latin-1"), "not UTF-8"),
    ("invalid bytes", PROCESS.encode() + b" \xff\xfe x", "not UTF-8"),
    ("empty", b"", "empty"),
    ("white space only", b" \n\t\r\n ", "white space"),
    ("json without text", b'{"id": "CIM1", "service": "Payroll"}', "no text to judge"),
])
def test_unusable_file_exits_2_naming_file_and_what_was_expected(tmp_path, name, content, words):
    path = tmp_path / "input.bin"
    path.write_bytes(content)
    res = explain_here(tmp_path, "--file", str(path))
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stdout == ""  # no verdict for garbage
    assert "config error" in res.stderr and str(path) in res.stderr and words in res.stderr
    assert "expected" in res.stderr and "Traceback" not in res.stderr


def test_json_record_with_lone_surrogate_does_not_crash(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"goal": "Reduce P1 incidents \\ud800 by 20%", "service": "Pay\\u0000roll"}', encoding="utf-8")
    res = explain_here(tmp_path, "--file", str(path))
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr


def test_opted_out_record_gets_no_comment(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"goal": PROCESS, "labels": ["csi-coach-skip"]}), encoding="utf-8")
    data = ok_json(tmp_path, "--file", str(path))
    assert data["comment"] is None and "opt" in data["reason"]


def test_config_rules_and_templates_are_used(tmp_path):
    (tmp_path / "tpl" / "servicenow").mkdir(parents=True)
    (tmp_path / "tpl" / "servicenow" / "comment.j2").write_text("Custom: {{ record.goal }}\n{{ marker }}\n", encoding="utf-8")
    (tmp_path / "config.toml").write_text('templates_dir = "tpl"\n[comments]\nopt_out_labels = []\n', encoding="utf-8")
    data = ok_json(tmp_path, "--text", PROCESS)
    assert data["comment"].startswith("Custom: Reduce P1")


@pytest.mark.parametrize("args,expected", [
    (["--ticket", "servicenow:CIM0001"], "not found"),  # --ticket needs a config
    (["--file", "absent.txt"], "cannot read"),
    (["--text", PROCESS, "--rules", "absent-rules.toml"], "absent-rules.toml"),
])
def test_errors_exit_2_without_traceback(tmp_path, args, expected):
    res = explain(tmp_path, *args)
    assert res.returncode == 2, res.stdout + res.stderr
    assert expected in res.stderr and "Traceback" not in res.stderr


def test_unknown_ticket_source_names_the_configured_ones(tmp_path):
    config = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    res = explain_here(tmp_path, "--ticket", "zendesk:42")
    assert res.returncode == 2 and "no source named 'zendesk'" in res.stderr and "servicenow, jira" in res.stderr


def test_help(tmp_path):
    res = explain(tmp_path, "--help")
    assert res.returncode == 0 and "--ticket" in res.stdout


def test_ticket_is_fetched_from_the_servicenow_sandbox(tmp_path):
    from csi_coach.sandbox.seed import generate
    from csi_coach.sandbox.servicenow.server import ServiceNowSandbox

    wanted = list(generate("servicenow", 12, 3))[-1]  # the last one: a scan would read all the others first
    config = (ROOT / "config.example.toml").read_text(encoding="utf-8").replace("page_size = 500", "page_size = 2", 1)
    with ServiceNowSandbox(records=12, seed=3) as snow:
        (tmp_path / "config.toml").write_text(config.replace("http://127.0.0.1:8801", snow.url), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "CSI_COACH_CONFIG"}
        env.update(CSI_SNOW_USER="csi-coach", CSI_SNOW_PASSWORD="sandbox-snow-password")
        res = subprocess.run([sys.executable, str(ROOT / "bot.py"), "explain", "--ticket", f"servicenow:{wanted.number}", "--json"],
                             capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
        with urllib.request.urlopen(snow.url + "/_sandbox/stats") as resp:
            reads = json.load(resp)["requests"]
    assert res.returncode == 0, res.stderr
    # One record is read with one request (ServiceNowConnector.get), not by paging through the source,
    # and its journal with one more (the bot's entries on it, for the history).
    assert reads.get("GET /api/now/table/{table}") == 2, reads
    assert "reading source" not in res.stderr
    data = json.loads(res.stdout.strip().splitlines()[-1])
    assert data["record"]["number"] == wanted.number and data["record"]["source"] == "servicenow"
    assert data["target"] == "servicenow"
    assert data["record"]["goal"] == wanted.goal.strip() or wanted.goal[:20] in data["record"]["goal"]
    if data["comment"] is not None:
        assert data["marker"] in data["comment"]


def test_ticket_from_a_connector_without_get_falls_back_to_reading_the_source(tmp_path, monkeypatch, capsys):
    from csi_coach import connectors
    from csi_coach.commands.explain import record_from_ticket
    from csi_coach.config import load_config

    wanted = Record.from_text("Reduce P1 incidents by 20%", key="k2", source="snow")

    class NoGet:  # a connector that predates get(): fetch only
        target = "servicenow"

        def __init__(self, *a, **k):
            self.fetched = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def fetch(self, since):
            for r in (Record.from_text("x", key="k1", source="snow"), wanted):
                self.fetched += 1
                yield r

    monkeypatch.setattr(connectors, "open_connector", lambda settings, limiters: NoGet())
    config = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    record, target = record_from_ticket(load_config(tmp_path / "config.toml"), "servicenow:k2")
    assert record == wanted and target == "servicenow"
    assert "no single-record read" in capsys.readouterr().err


def test_ticket_with_wrong_password_exits_1_with_a_clear_message(tmp_path):
    from csi_coach.sandbox.servicenow.server import ServiceNowSandbox

    config = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    with ServiceNowSandbox(records=3, seed=3) as snow:
        (tmp_path / "config.toml").write_text(config.replace("http://127.0.0.1:8801", snow.url), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "CSI_COACH_CONFIG"}
        env.update(CSI_SNOW_USER="csi-coach", CSI_SNOW_PASSWORD="wrong-password-x")
        res = subprocess.run([sys.executable, str(ROOT / "bot.py"), "explain", "--ticket", "servicenow:CIM0000001"],
                             capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "401" in res.stderr and "Traceback" not in res.stderr and "wrong-password-x" not in res.stderr
