"""Issue 13, finding 7, end to end: `csi-coach scan` with two sources, the first answering JSON
nested too deeply for the parser. Before the fix the RecursionError ended the process (exit 1
with a traceback, no summary, the second source never read); now that source fails with a
message saying why, the other is scanned, and the exit code and --json summary are those the
README documents for a source that could not be read (exit 1, status "failed")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.hostile_server import Call, HostileServer
from support.paths import ROOT
from support.rules import with_small_rules

NESTED = ('{"result": ' + "[" * 200_000 + "]" * 200_000 + "}").encode()


def nested(call: Call) -> None:
    call.reply(200, NESTED, headers={"X-Total-Count": "1"})


def config_text(state: Path, hostile_url: str, snow_url: str) -> str:
    def source(name: str, url: str) -> str:
        return (f'[sources.{name}]\ntype = "servicenow"\nurl = "{url}"\n\n'
                f'[sources.{name}.auth]\nmethod = "basic"\nusername_env = "CSI_SNOW_USER"\n'
                f'password_env = "CSI_SNOW_PASSWORD"\n\n')

    return f'[state]\npath = "{state}"\n\n' + source("hostile", hostile_url) + source("servicenow", snow_url)


def test_a_source_answering_deeply_nested_json_fails_alone_and_the_scan_goes_on(tmp_path):
    from csi_coach.sandbox.cli import start_sandbox

    with start_sandbox("127.0.0.1", 0, 0, "cloud", 6, 5) as pair, HostileServer(nested) as hostile:
        info = pair.info()
        config = tmp_path / "config.toml"
        config.write_text(with_small_rules(config_text(tmp_path / "state.sqlite", hostile.url, info["servicenow"]["url"]),
                                            tmp_path))
        proc = subprocess.run(
            [sys.executable, str(ROOT / "bot.py"), "scan", "--config", str(config), "--json"],
            capture_output=True, text=True, env={**os.environ, **info["env"]}, timeout=120, cwd=tmp_path,
        )
        assert hostile.seen  # the hostile source was really read
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 1  # a source could not be read: retried next scan
    assert summary["status"] == "failed"
    bad, good = summary["sources"]["hostile"], summary["sources"]["servicenow"]
    assert bad["status"] == "failed" and "nested too deeply" in bad["error"], bad
    assert good["status"] == "ok" and good["records"] == 6, good
    assert summary["records"] == 6
