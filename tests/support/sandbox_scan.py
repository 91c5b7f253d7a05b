"""The real `csi-coach` commands against both sandboxes over 127.0.0.1 (no tests here):
a config written from config.example.toml pointing at them, the commands run as
subprocesses with the sandboxes' credentials, and what the tickets hold read back
over HTTP from the sandboxes themselves."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import requests

from support.paths import BOT


def start(records: int, seed: int):
    from csi_coach.sandbox.cli import start_sandbox

    return start_sandbox("127.0.0.1", 0, 0, "cloud", records, seed)


def write_config(folder: Path, info: dict, *, extra: str = "", **settings) -> Path:
    """config.example.toml on the sandboxes, its state file in ``folder``; ``settings``
    replace keys set in the example (each must appear exactly once), ``extra`` is
    put in front of the first table (top-level keys and tables of its own)."""
    from csi_coach.commands.demo import EXAMPLE, demo_config_text

    text = demo_config_text(
        EXAMPLE.read_text(encoding="utf-8"),
        snow_url=info["servicenow"]["url"], jira_url=info["jira"]["url"],
        state_file=folder / "state.sqlite",
    )
    for key, value in settings.items():
        text, n = re.subn(rf'(?m)^{key}\s*=\s*("[^"\n]*"|\S+)', f"{key} = {json.dumps(value)}", text)
        assert n == 1, key
    if extra:
        text = text + "\n" + extra
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def env_for(info: dict) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CSI_COACH_CONFIG"}
    env.update(info["env"])
    return env


def bot(config: Path, info: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``csi-coach COMMAND --config CONFIG ...`` run to its end."""
    command, *rest = args
    return subprocess.run([sys.executable, str(BOT), command, "--config", str(config), *rest],
                          capture_output=True, text=True, env=env_for(info), timeout=timeout, cwd=config.parent)


def scan_json(config: Path, info: dict, *args: str) -> tuple[int, dict, str]:
    proc = bot(config, info, "scan", "--json", *args)
    lines = proc.stdout.strip().splitlines()
    return proc.returncode, (json.loads(lines[-1]) if lines else {}), proc.stderr


def bot_comments(info: dict) -> dict[tuple[str, str], list[str]]:
    """(source, record key) -> the bodies of the comments carrying the bot's marker, oldest
    first, read over HTTP from the sandboxes (ServiceNow's journal, each Jira issue's list)."""
    snow, jira = info["servicenow"], info["jira"]
    found: dict[tuple[str, str], list[str]] = {}
    rows = requests.get(f"{snow['url']}/api/now/table/sys_journal_field", auth=(snow["username"], snow["password"]),
                        params={"sysparm_query": "valueLIKEcsi-coach:^ORDERBYsys_created_on",
                                "sysparm_fields": "element_id,value", "sysparm_limit": "10000"}, timeout=30)
    for row in rows.json()["result"]:
        found.setdefault(("servicenow", row["element_id"]), []).append(row["value"])
    auth = (jira["username"], jira["token"])
    keys, token = [], None
    while True:
        params = {"jql": "project = CSI", "fields": "updated", "maxResults": "100", **({"nextPageToken": token} if token else {})}
        page = requests.get(f"{jira['url']}/rest/api/3/search/jql", auth=auth, params=params, timeout=30).json()
        keys += [issue["key"] for issue in page["issues"]]
        if page.get("isLast", True):
            break
        token = page["nextPageToken"]
    for key in keys:
        data = requests.get(f"{jira['url']}/rest/api/2/issue/{key}/comment", auth=auth, params={"maxResults": "1000"},
                            timeout=30).json()
        for comment in data["comments"]:
            body = comment["body"] if isinstance(comment["body"], str) else json.dumps(comment["body"])
            if "csi-coach:" in body:
                found.setdefault(("jira", key), []).append(body)
    return found


def tree(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file and folder under ``folder``: its mode and (files) a hash of its bytes."""
    out: dict[str, tuple[int, str]] = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else ""
        out[str(path.relative_to(folder))] = (st.st_mode, digest)
    return out
