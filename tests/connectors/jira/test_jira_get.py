"""JiraConnector.get(key): one issue in one request, mapped as fetch maps it (explain --ticket)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import replace

import pytest

from csi_coach.config import JIRA_FIELDS, AuthSettings, JiraSettings
from csi_coach.connectors.base import Connector, RecordLookup
from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.connectors.transport import Limiters
from csi_coach.errors import AuthError
from csi_coach.model import BrokenRecord, Record
from csi_coach.sandbox.jira.server import JiraSandbox
from csi_coach.sandbox.seed import generate
from support.jira import CLOUD, load, path, query, set_secrets, settings
from support.paths import ROOT


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    set_secrets(monkeypatch)


def an_issue() -> dict:
    return load("search_jql_page1.json")["issues"][0]


def test_get_is_one_request_for_the_mapped_fields_and_maps_as_fetch_does(rsps):
    issue = an_issue()
    rsps.get(f"{CLOUD}/rest/api/2/issue/{issue['key']}", json=issue)
    s = settings("cloud")
    with JiraConnector(s, None) as jira:
        record = jira.get(f" {issue['key']} ")
    assert [(c.request.method, path(c)) for c in rsps.calls] == [("GET", f"/rest/api/2/issue/{issue['key']}")]
    assert query(rsps.calls[0])["fields"] == \
        "summary,description,customfield_10050,components,assignee,status,updated,labels"
    from csi_coach.connectors.jira.mapping import issue_to_record

    assert record == issue_to_record(issue, source="jira-test", base_url=CLOUD, fields=s.fields)
    assert isinstance(record, Record) and record.key == issue["key"] and record.url == f"{CLOUD}/browse/{issue['key']}"


def test_missing_or_hidden_issue_is_none(rsps):
    rsps.get(f"{CLOUD}/rest/api/2/issue/CSI-404", status=404, json=load("error_404.json"))
    with JiraConnector(settings("cloud"), None) as jira:
        assert jira.get("CSI-404") is None
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("key", ["", "  ", "CSI-1/comment", "CSI-1?fields=*all", "CSI-1#x", "../myself", "CSI 1", "%2e%2e", ".", ".."])
def test_a_key_that_would_address_another_url_reads_nothing(rsps, key):
    with JiraConnector(settings("cloud"), None) as jira:
        assert jira.get(key) is None
    assert len(rsps.calls) == 0


def test_unmappable_issue_is_a_broken_record(rsps):
    issue = an_issue()
    issue = dict(issue, fields=dict(issue["fields"], updated="yesterday"))
    rsps.get(f"{CLOUD}/rest/api/2/issue/{issue['key']}", json=issue)
    with JiraConnector(settings("cloud"), None) as jira:
        item = jira.get(issue["key"])
    assert isinstance(item, BrokenRecord) and "updated" in item.reason


def test_other_failures_are_raised_not_hidden_as_none(rsps):
    rsps.get(f"{CLOUD}/rest/api/2/issue/CSI-1", status=401, json=load("error_401.json"))
    with JiraConnector(settings("cloud"), None) as jira:
        with pytest.raises(AuthError):
            jira.get("CSI-1")


def test_jira_meets_the_connector_interface_including_get():
    with JiraConnector(settings("cloud"), None) as jira:
        assert isinstance(jira, Connector) and isinstance(jira, RecordLookup)


# -- over 127.0.0.1 --------------------------------------------------------------------


def requests_seen(sandbox: JiraSandbox) -> dict[str, int]:
    with urllib.request.urlopen(sandbox.url + "/_sandbox/stats") as resp:
        return json.load(resp)["requests"]


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_get_against_the_sandbox_equals_what_fetch_yields(flavor, monkeypatch):
    monkeypatch.setenv("CSI_GET_JIRA_EMAIL", "csi-coach@example.com")
    monkeypatch.setenv("CSI_GET_JIRA_TOKEN", "sandbox-jira-token")
    with JiraSandbox(flavor=flavor, records=8, seed=5).start() as sandbox:
        assert sandbox.wait_ready(60)
        s = JiraSettings(
            name="jira-get", url=sandbox.url, flavor=flavor, jql="project = CSI", page_size=50,
            auth=AuthSettings(method="basic", username_env="CSI_GET_JIRA_EMAIL", token_env="CSI_GET_JIRA_TOKEN"),
            fields=replace(JIRA_FIELDS, goal=("customfield_10050",)),
        )
        with JiraConnector.open(s, limiters=Limiters()) as jira:
            fetched = {r.key: r for r in jira.fetch(None)}
            before = requests_seen(sandbox)
            got = {key: jira.get(key) for key in fetched}
            missing = jira.get("CSI-9999")
            after = requests_seen(sandbox)
    assert len(fetched) == 8
    assert got == fetched  # same fields, same mapping
    assert missing is None
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
    assert delta == {"GET /rest/api/2/issue/{id}": 9}, delta  # one request per get, nothing else


def test_explain_ticket_reads_one_jira_issue_and_its_comments_only(tmp_path):
    wanted = list(generate("jira", 12, 3))[-1]  # the last one: a scan would read all the others first
    config = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    with JiraSandbox(flavor="cloud", records=12, seed=3).start() as sandbox:
        assert sandbox.wait_ready(60)
        (tmp_path / "config.toml").write_text(config.replace("http://127.0.0.1:8802", sandbox.url), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "CSI_COACH_CONFIG"}
        env.update(CSI_JIRA_EMAIL="csi-coach@example.com", CSI_JIRA_TOKEN="sandbox-jira-token")
        res = subprocess.run([sys.executable, str(ROOT / "bot.py"), "explain", "--ticket", f"jira:{wanted.number}", "--json"],
                             capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
        seen = requests_seen(sandbox)
    assert res.returncode == 0, res.stderr
    assert "reading source" not in res.stderr
    # The issue, its comments (explain tells the bot's history on it) and who the bot is
    # (to know its own comments): no serverInfo, no search, no other issue.
    assert seen == {"GET /rest/api/2/issue/{id}": 1, "GET /rest/api/2/issue/{id}/comment": 1,
                    "GET /rest/api/2/myself": 1}, seen
    data = json.loads(res.stdout.strip().splitlines()[-1])
    assert data["record"]["number"] == wanted.number and data["record"]["source"] == "jira"
    assert data["record"]["title"] == wanted.title
    assert data["target"] == "jira"
    if data["comment"] is not None:
        assert data["marker"] in data["comment"]
