"""``csi-coach check-config --connect`` and the start of ``scan --dry-run``, the real command
in a subprocess against the sandboxes over 127.0.0.1 (issue 14, item 1).

One ``ok`` / ``warn`` / ``FAIL`` line per check and source; exit 0 ready, 2 when the config
file is what to fix (table, JQL, field name), 1 when something outside it failed
(credentials, the account's permissions); no secret in the output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from csi_coach.commands.demo import EXAMPLE, demo_config_text
from csi_coach.sandbox.cli import SandboxPair
from csi_coach.sandbox.jira.server import JiraSandbox
from csi_coach.sandbox.servicenow.server import ServiceNowSandbox
from support.paths import ROOT
from support.rules import with_small_rules


def sandboxes(*, snow: dict | None = None, jira: dict | None = None, records: int = 40) -> SandboxPair:
    servicenow = ServiceNowSandbox(records=records, **(snow or {})).start()
    site = JiraSandbox(flavor="cloud", records=records, **(jira or {})).start()
    site.wait_ready()
    return SandboxPair(servicenow, site)


def config_for(folder: Path, pair: SandboxPair, *edits: tuple[str, str]) -> Path:
    """config.example.toml pointed at the sandboxes, with ``(old, new)`` text edits."""
    info = pair.info()
    text = demo_config_text(EXAMPLE.read_text(encoding="utf-8"), snow_url=info["servicenow"]["url"],
                            jira_url=info["jira"]["url"], state_file=folder / "state.sqlite")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    text = with_small_rules(text, folder)  # what is checked here is the sources, not the rules
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def bot(config: Path, pair: SandboxPair, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CSI_")} | pair.info()["env"] | (env or {})
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args, "--config", str(config)],
                          capture_output=True, text=True, env=full, cwd=config.parent, timeout=180)


def connect(config: Path, pair: SandboxPair, **kw) -> subprocess.CompletedProcess:
    return bot(config, pair, "check-config", "--connect", **kw)


def source_lines(out: str, source: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line[8:].startswith(f"{source}: ")]


@pytest.fixture(scope="module")
def pair():
    p = sandboxes()
    yield p
    p.stop()


def test_a_good_setup_is_ready_with_one_line_per_check_and_source(tmp_path, pair):
    res = connect(config_for(tmp_path, pair), pair)
    assert res.returncode == 0, res.stdout + res.stderr
    snow, jira = source_lines(res.stdout, "servicenow"), source_lines(res.stdout, "jira")
    assert [line.split()[0] for line in snow] == ["ok", "ok", "ok", "ok", "warn", "warn"]
    assert snow[1] == "ok    servicenow: table sn_cim_register, no query: 40 records in scope"
    assert snow[5].startswith("warn  servicenow: write: cannot be checked without writing. By hand:")
    assert [line.split()[0] for line in jira] == ["ok"] * 6
    assert jira[1] == "ok    jira: jql 'project = CSI': 40 issue(s) in scope"
    assert "All good (2 warnings)" in res.stdout and "Traceback" not in res.stderr


def test_without_connect_no_source_is_contacted(tmp_path, pair):
    res = bot(config_for(tmp_path, pair), pair, "check-config")
    assert res.returncode == 0 and not source_lines(res.stdout, "servicenow") and not source_lines(res.stdout, "jira")


def test_one_broken_setting_per_source_wrong_password_and_jql_error_is_exit_2(tmp_path, pair):
    config = config_for(tmp_path, pair, ('password_env = "CSI_SNOW_PASSWORD"', 'password_env = "CSI_WRONG_PASSWORD"'),
                        ("jql = 'project = CSI'", "jql = 'project = CSI AND statuss = Done'"))
    res = connect(config, pair, env={"CSI_WRONG_PASSWORD": "Not-The-Password-7"})
    assert res.returncode == 2, res.stdout + res.stderr
    snow, jira = source_lines(res.stdout, "servicenow"), source_lines(res.stdout, "jira")
    assert len(snow) == 1 and snow[0].startswith("FAIL  servicenow: login: HTTP 401 ")
    assert "User Not Authenticated" in snow[0] and "$CSI_WRONG_PASSWORD" in snow[0]
    assert jira[0].startswith("ok    jira: login: ok as 'CSI Coach'")
    assert jira[1].startswith("FAIL  jira: jql 'project = CSI AND statuss = Done': HTTP 400 ")
    assert jira[1].endswith("Field 'statuss' does not exist or you do not have permission to view it.")
    assert "Not ready: 1 error, 1 failed source check." in res.stdout
    assert "Not-The-Password-7" not in res.stdout + res.stderr


def test_failures_outside_the_config_alone_are_exit_1(tmp_path, pair):
    config = config_for(tmp_path, pair, ('password_env = "CSI_SNOW_PASSWORD"', 'password_env = "CSI_WRONG_PASSWORD"'))
    res = connect(config, pair, env={"CSI_WRONG_PASSWORD": "nope"})
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Not ready: 1 failed source check" in res.stdout


def test_wrong_table_is_exit_2(tmp_path, pair):
    res = connect(config_for(tmp_path, pair, ('table = "sn_cim_register"', 'table = "sn_cim_registr"')), pair)
    assert res.returncode == 2, res.stdout + res.stderr
    snow = source_lines(res.stdout, "servicenow")
    assert snow[0] == "ok    servicenow: login: ok (basic auth)"
    assert snow[1].startswith("FAIL  servicenow: table sn_cim_registr: HTTP 400") and "Invalid table" in snow[1]


def test_a_missing_goal_field_names_file_line_and_the_closest_fields(tmp_path, pair):
    config = config_for(tmp_path, pair, ('goal = "customfield_10050"', 'goal = "customfield_10500"'),
                        ('goal = "benefit"', 'goal = "benfit"'))
    res = connect(config, pair)
    assert res.returncode == 2, res.stdout + res.stderr
    line_of = {text.split('"')[1]: n for n, text in enumerate(config.read_text().splitlines(), 1)
               if text.startswith("goal = ")}
    jira = [line for line in source_lines(res.stdout, "jira") if line.startswith("FAIL")]
    assert len(jira) == 1
    assert f"{config}:{line_of['customfield_10500']} [sources.jira.fields.goal]: the goal field 'customfield_10500'" in jira[0]
    assert "closest first: customfield_10050 (Value goal)," in jira[0]
    snow = [line for line in source_lines(res.stdout, "servicenow") if line.startswith("FAIL")]
    assert len(snow) == 1 and f"{config}:{line_of['benfit']} [sources.servicenow.fields.goal]" in snow[0]
    assert "closest first: benefit," in snow[0]


def test_an_account_without_journal_read_or_add_comments_is_exit_1(tmp_path):
    p = sandboxes(snow={"unreadable": {"sys_journal_field"}}, jira={"denied_permissions": {"ADD_COMMENTS"}})
    try:
        res = connect(config_for(tmp_path, p), p)
    finally:
        p.stop()
    assert res.returncode == 1, res.stdout + res.stderr
    fails = [line for line in res.stdout.splitlines() if line.lstrip().startswith("FAIL")]
    assert len(fails) == 2
    assert "servicenow: journal: the bot's account may not read sys_journal_field (HTTP 403)" in fails[0]
    assert "jira: write: the account lacks 'Add comments' on CSI-" in fails[1]
    assert "Not ready: 2 failed source checks" in res.stdout


def test_an_unset_secret_is_a_failed_login_line_in_the_config(tmp_path, pair):
    config = config_for(tmp_path, pair, ('token_env = "CSI_JIRA_TOKEN"', 'token_env = "CSI_UNSET_TOKEN"'))
    res = connect(config, pair)
    assert res.returncode == 2, res.stdout + res.stderr
    jira = source_lines(res.stdout, "jira")
    assert len(jira) == 1 and jira[0].startswith("FAIL  jira: login: ") and "CSI_UNSET_TOKEN" in jira[0]


def test_a_dry_run_starts_with_the_same_checks(tmp_path, pair):
    config = config_for(tmp_path, pair, ('goal = "customfield_10050"', 'goal = "customfield_10500"'))
    res = bot(config, pair, "scan", "--dry-run", "--summary")
    assert res.returncode == 2, res.stdout + res.stderr  # the wrong goal field fails its source: config_error
    head, _, rest = res.stdout.partition("Sources: not ready")
    assert head.startswith("Checking the sources before the dry run (check-config --connect):")
    assert "  ok    servicenow: login: ok (basic auth)" in head
    assert "  FAIL  jira: fields: " in head and "'customfield_10500' is on none" in head
    assert "Dry run: nothing was written (config_error)." in rest
