"""``Connector.probe`` (check-config --connect) against the sandboxes over 127.0.0.1: the lines
for a good source, and for a wrong password, table, JQL, goal field, an account without
journal read or without the Jira comment permissions; never a write, and few requests."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace

import pytest
import requests

from csi_coach.config import JIRA_FIELDS, SERVICENOW_FIELDS, AuthSettings, JiraSettings
from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.connectors.probe import SourceProbe
from csi_coach.connectors.transport import Limiters, RetryPolicy
from csi_coach.sandbox.jira.server import EMAIL, TOKEN, JiraSandbox
from csi_coach.sandbox.servicenow.server import ServiceNowSandbox
from support.servicenow_sandbox import ENV, open_for, stats

FAST = RetryPolicy(attempts=2, backoff_base=0.01, backoff_cap=0.05)


@pytest.fixture(autouse=True)
def env(monkeypatch):
    for k, v in {**ENV, "PROBE_JIRA_EMAIL": EMAIL, "PROBE_JIRA_TOKEN": TOKEN, "PROBE_WRONG": "not-it"}.items():
        monkeypatch.setenv(k, v)


def lines(probe: SourceProbe) -> list[tuple[str, bool, str]]:
    return [(c.status, c.in_config, c.text) for c in probe.checks]


def statuses(probe: SourceProbe) -> list[str]:
    return [c.status for c in probe.checks]


def snow_probe(snow, **changes) -> tuple[SourceProbe, int]:
    with open_for(snow, **changes) as c:
        return c.probe(), c.requests


# --------------------------------------------------------------------------- ServiceNow


def test_servicenow_good_source_reads_two_pages_worth_of_requests_and_writes_nothing():
    with ServiceNowSandbox(records=40) as snow:
        probe, sent = snow_probe(snow)
        assert set(stats(snow)) == {"GET /api/now/table/{table}"}  # reads only
    assert sent == 2  # one counted page of the table, one row of sys_journal_field
    got = lines(probe)
    assert got[0] == ("ok", False, "login: ok (basic auth)")
    assert got[1] == ("ok", False, "table sn_cim_register, no query: 40 records in scope")
    assert got[2][0] == "ok" and got[2][2].startswith("fields present on the 40 record(s) of the page: number, "
                                                      "title (short_description), description, goal (benefit)")
    assert got[3][0] == "ok" and got[3][2].startswith("goal field benefit: holds text on ")
    assert got[4][0] == "warn" and "no entry on sn_cim_register yet" in got[4][2]  # a fresh instance
    assert got[5][0] == "warn" and got[5][2].startswith("write: cannot be checked without writing. By hand:")
    assert "work_notes" in got[5][2]


def test_servicenow_wrong_password_is_one_failed_line_outside_the_config():
    with ServiceNowSandbox(records=5) as snow:
        probe, _ = snow_probe(snow, auth=AuthSettings(method="basic", username_env="E2E_SN_USER",
                                                      password_env="PROBE_WRONG"))
    assert len(probe.checks) == 1
    status, in_config, text = lines(probe)[0]
    assert (status, in_config) == ("fail", False)
    assert text.startswith("login: HTTP 401") and "$PROBE_WRONG" in text and "not-it" not in text


def test_servicenow_wrong_table_fails_in_the_config_after_a_good_login():
    with ServiceNowSandbox(records=5) as snow:
        probe, _ = snow_probe(snow, table="sn_cim_registr")
    assert lines(probe)[0] == ("ok", False, "login: ok (basic auth)")
    status, in_config, text = lines(probe)[1]
    assert (status, in_config) == ("fail", True) and "Invalid table sn_cim_registr" in text
    assert len(probe.checks) == 2  # nothing more to check on a table that is not there


def test_servicenow_missing_goal_field_fails_in_the_config_naming_the_closest_field():
    with ServiceNowSandbox(records=12) as snow:
        probe, sent = snow_probe(snow, fields=replace(SERVICENOW_FIELDS, goal=("benfit",)))
    failed = [c for c in probe.checks if c.status == "fail"]
    assert len(failed) == 1 and failed[0].in_config
    assert "[sources.snow.fields.goal]" in failed[0].text and "'benfit' is on none of the 12 record(s)" in failed[0].text
    assert "closest first: benefit," in failed[0].text
    assert sent == 3  # the table's columns, read once to name the closest


def test_servicenow_account_without_journal_read_fails_the_journal_line():
    with ServiceNowSandbox(records=5, unreadable={"sys_journal_field"}) as snow:
        probe, _ = snow_probe(snow)
    journal = next(c for c in probe.checks if c.text.startswith("journal:"))
    assert (journal.status, journal.in_config) == ("fail", False)
    assert "may not read sys_journal_field (HTTP 403)" in journal.text
    assert "Add a read ACL on sys_journal_field" in journal.text
    assert statuses(probe)[:2] == ["ok", "ok"]  # the table itself reads fine


def test_servicenow_journal_rows_hidden_by_a_row_acl_fail_and_readable_rows_pass():
    def note(snow) -> None:  # one journal entry on the table, as any owner's work note makes
        sys_id = requests.get(f"{snow.url}/api/now/table/sn_cim_register", params={"sysparm_limit": 1},
                              auth=("csi-coach", "sandbox-snow-password"), timeout=10).json()["result"][0]["sys_id"]
        resp = requests.patch(f"{snow.url}/api/now/table/sn_cim_register/{sys_id}", json={"work_notes": "hello"},
                              auth=("csi-coach", "sandbox-snow-password"), timeout=10)
        assert resp.status_code == 200

    with ServiceNowSandbox(records=5, hidden=lambda table, row: table == "sys_journal_field") as snow:
        note(snow)
        hidden, _ = snow_probe(snow)
    journal = next(c for c in hidden.checks if c.text.startswith("journal:"))
    assert journal.status == "fail" and "read ACLs hide all 1 sys_journal_field row(s)" in journal.text

    with ServiceNowSandbox(records=5) as snow:
        note(snow)
        readable, _ = snow_probe(snow)
    journal = next(c for c in readable.checks if c.text.startswith("journal:"))
    assert journal.status == "ok" and "written by 'csi-coach'" in journal.text


def test_servicenow_query_that_selects_the_whole_table_is_a_warning():
    # The sandbox, like an instance, reads "active=true^ORactive=false" as every record: the
    # probe cannot tell a query that narrows nothing from one whose terms were dropped.
    with ServiceNowSandbox(records=10) as snow:
        every, sent = snow_probe(snow, query="active=true^ORactive=false")
        narrow, _ = snow_probe(snow, query="active=true")
    scope = lines(every)[1]
    assert scope[0] == "warn" and "10 records in scope, which is every record of the table" in scope[2]
    assert sent == 3  # one more count, of the whole table
    assert lines(narrow)[1][0] == "ok" and "query 'active=true': " in lines(narrow)[1][2]


def test_servicenow_api_key_names_the_user_found_in_sys_user():
    with ServiceNowSandbox(records=5) as snow:
        probe, _ = snow_probe(snow, method="api_key")
    assert lines(probe)[0] == ("ok", False, "login: ok (api_key auth)")
    journal = next(c for c in probe.checks if c.text.startswith("journal:"))
    assert "written by 'csi-coach'" in journal.text


# --------------------------------------------------------------------------- Jira


def jira_probe(site, flavor: str, **changes) -> SourceProbe:
    auth = AuthSettings(method="basic", username_env="PROBE_JIRA_EMAIL", token_env="PROBE_JIRA_TOKEN")
    values = dict(name="jira", url=site.url, auth=auth, flavor=flavor, jql="project = CSI", page_size=25,
                  timeout_seconds=10, fields=replace(JIRA_FIELDS, goal=("customfield_10050",)))
    with JiraConnector.open(JiraSettings(**(values | changes)), limiters=Limiters(), policy=FAST) as c:
        return c.probe()


def jira_requests(site) -> dict[str, int]:
    with urllib.request.urlopen(site.url + "/_sandbox/stats") as resp:
        return json.load(resp)["requests"]


@pytest.fixture(params=["cloud", "server"])
def site(request):
    with JiraSandbox(flavor=request.param, records=60) as s:
        s.wait_ready()
        yield s


def test_jira_good_source(site):
    probe = jira_probe(site, site.flavor)
    got = lines(probe)
    assert got[0] == ("ok", False, f"login: ok as 'CSI Coach' (Jira {site.flavor}, basic auth)")
    count = "about 60" if site.flavor == "cloud" else "60"  # Cloud: POST search/approximate-count
    assert got[1] == ("ok", False, f"jql 'project = CSI': {count} issue(s) in scope")
    assert got[2][0] == "ok" and "goal (customfield_10050)" in got[2][2]
    assert got[3][0] == "ok" and got[3][2].startswith("goal field customfield_10050: holds text on ")
    assert got[4][0] == "ok" and got[4][2].startswith("comments: the account can read the comments of CSI-")
    assert got[5][0] == "ok" and "'Add comments' and 'Edit own comments' granted on CSI-" in got[5][2]
    sent = jira_requests(site)
    assert not [route for route in sent if route.split()[0] in ("PUT", "DELETE")
                or (route.startswith("POST") and "approximate-count" not in route)]
    assert sum(sent.values()) <= 6 and site.notifications == 0


def test_jira_wrong_token(site):
    probe = jira_probe(site, site.flavor, auth=AuthSettings(method="basic", username_env="PROBE_JIRA_EMAIL",
                                                            token_env="PROBE_WRONG"))
    assert [(c.status, c.in_config) for c in probe.checks] == [("fail", False)]
    assert probe.checks[0].text.startswith("login: HTTP 401") and "$PROBE_WRONG" in probe.checks[0].text


def test_jira_jql_error_fails_in_the_config_with_jiras_words(site):
    probe = jira_probe(site, site.flavor, jql="project = CSI AND statuss = Done")
    assert statuses(probe) == ["ok", "fail"]
    assert probe.checks[1].in_config
    assert "Field 'statuss' does not exist or you do not have permission to view it." in probe.checks[1].text


def test_jira_unknown_goal_field_fails_in_the_config_naming_the_site_field(site):
    probe = jira_probe(site, site.flavor, fields=replace(JIRA_FIELDS, goal=("customfield_10500",)))
    failed = [c for c in probe.checks if c.status == "fail"]
    assert len(failed) == 1 and failed[0].in_config
    assert "closest first: customfield_10050 (Value goal)," in failed[0].text


def test_jira_account_without_comment_permissions():
    with JiraSandbox(flavor="cloud", records=10, denied_permissions={"ADD_COMMENTS", "EDIT_OWN_COMMENTS"}) as s:
        s.wait_ready()
        probe = jira_probe(s, "cloud")
    write = [c for c in probe.checks if c.text.startswith("write:")]
    assert [(c.status, c.in_config) for c in write] == [("fail", False), ("warn", False)]
    assert "lacks 'Add comments' on CSI-" in write[0].text and "lacks 'Edit own comments'" in write[1].text


def test_jira_empty_scope_warns_and_asks_permissions_without_an_issue():
    with JiraSandbox(flavor="server", records=10) as s:
        s.wait_ready()
        probe = jira_probe(s, "server", jql="project = CSI AND summary ~ nothingmatchesthis")
    got = lines(probe)
    assert got[1][0] == "warn" and "0 issues in scope" in got[1][2]
    assert ("warn", False, "fields: not checked, the page held no record") in got
    assert ("warn", False, "comments: not checked, no issue in scope to read comments on") in got
    assert got[-1][0] == "warn" and "granted in some project (no issue in scope to ask about)" in got[-1][2]
