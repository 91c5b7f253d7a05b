"""`csi-coach classify` end to end through bot.py: output contract and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.paths import ROOT

PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable


def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PY, str(ROOT / "bot.py"), "classify", *args],
        input=stdin, capture_output=True, cwd=cwd or ROOT, timeout=60,
        env={"PATH": "/usr/bin:/bin", "CSI_COACH_CONFIG": "/nonexistent/config.toml"},
    )


RECORDS = [
    {"id": "r1", "source": "jira", "title": "P1s", "description": "", "goal": "Reduce P1 incidents by 20% and raise FCR to 75%"},
    {"id": "r2", "source": "servicenow", "title": "Booking", "description": "", "goal": "Patients book hygiene visits online at any hour"},
    {"id": "r3", "title": "Review", "goal": "Review the change process"},
]


def jsonl(objs) -> bytes:
    return "".join(json.dumps(o) + "\n" for o in objs).encode()


def test_one_line_out_per_line_in_same_order(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl(RECORDS))
    proc = run("--input", str(src))
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    out = [json.loads(l) for l in proc.stdout.decode().splitlines()]
    assert [o["id"] for o in out] == ["r1", "r2", "r3"]
    for o in out:
        assert {"id", "category", "value_goal", "measurable", "findings"} <= set(o)
    assert [o["category"] for o in out] == ["process_only", "value", "no_goal"]
    assert [o["value_goal"] for o in out] == [False, True, False]
    assert out[0]["measurable"] is True
    finding = next(f for f in out[0]["findings"] if f["rule"] == "process-without-value")
    assert finding["severity"] == "warning" and finding["evidence"][0]["field"] == "goal"


def test_stdin_and_bad_lines_exit_1_without_traceback():
    data = jsonl(RECORDS[:1]) + b"{not json\n" + b"[1, 2]\n" + b"\n" + b'{"id": "x", "goal": {"a": 1}}\n' + b"\xff\xfe\n" + jsonl(RECORDS[1:2])
    proc = run("--input", "-", stdin=data)
    assert proc.returncode == 1
    assert b"Traceback" not in proc.stderr
    out = [json.loads(l) for l in proc.stdout.decode().splitlines()]
    assert len(out) == 6  # the blank line is skipped
    assert out[0]["id"] == "r1" and "error" not in out[0]
    assert [("error" in o) for o in out] == [False, True, True, True, True, False]
    assert out[1]["line"] == 2 and out[3]["id"] == "x" and "goal" in out[3]["error"]
    assert out[5]["id"] == "r2" and out[5]["value_goal"] is True


def test_missing_input_is_a_usage_error():
    proc = run("--input", "/nonexistent/records.jsonl")
    assert proc.returncode == 2
    assert b"input file not found" in proc.stderr and b"Traceback" not in proc.stderr


def test_bad_rules_file_exits_2_naming_file_and_key(tmp_path):
    bad = tmp_path / "rules.toml"
    bad.write_text('extends = "default"\n[rule.no-goal]\nseverity = "loud"\n')
    proc = run("--input", "-", "--rules", str(bad), stdin=jsonl(RECORDS))
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "rules.toml:3" in err and "[rule.no-goal.severity]" in err and "Traceback" not in err
    assert proc.stdout == b""


def test_custom_rules_change_the_verdict(tmp_path):
    tuned = tmp_path / "rules.toml"
    tuned.write_text('extends = "default"\n[vocab.process_metric]\nremove = ["incidents", "fcr"]\n[classify]\nprocess = "no-goal-field"\n')
    default = run("--input", "-", stdin=jsonl(RECORDS[:1]))
    assert json.loads(default.stdout)["category"] == "process_only"
    proc = run("--input", "-", "--rules", str(tuned), stdin=jsonl(RECORDS[:1]))
    assert proc.returncode == 0, proc.stderr
    # No process measure is left to coach on, and the goal field states a goal: the
    # rules cannot place it, so the bot stays silent rather than say "no goal".
    assert json.loads(proc.stdout)["category"] == "unsure"


def test_rules_come_from_the_config_when_it_exists(tmp_path):
    (tmp_path / "my-rules.toml").write_text('extends = "default"\n[exempt]\nlabels = ["quiet"]\n')
    cfg = tmp_path / "config.toml"
    cfg.write_text('rules = "my-rules.toml"\n')
    rec = dict(RECORDS[2], labels=["quiet"])
    proc = run("--config", str(cfg), "--input", "-", stdin=jsonl([rec]))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout).get("exempt") is True


def test_lone_surrogates_are_escaped_and_later_lines_still_come(tmp_path):
    # Valid JSON, but "\ud800" cannot be written as UTF-8: it must come out escaped,
    # in the id and in quoted evidence alike, and the following lines must not be lost.
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        b'{"id":"\\ud800x","goal":"reduce MTTR"}\n'
        b'{"id":"s2","goal":"reduce MTTR \\udfff for caf\\u00e9 staff"}\n'
        b'{"id":"ok","goal":"x"}\n'
    )
    proc = run("--input", str(src))
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    lines = proc.stdout.decode("utf-8").splitlines()
    out = [json.loads(l) for l in lines]
    assert [o["id"] for o in out] == ["\ud800x", "s2", "ok"]
    assert "\\ud800" in lines[0]
    assert out[0]["category"] == "process_only"
    assert any(e["text"] == "MTTR" for f in out[0]["findings"] for e in f["evidence"])
    # A line without surrogates keeps its UTF-8 text unescaped.
    assert "\\u" not in lines[2]
