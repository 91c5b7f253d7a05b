"""JiraConnector.get_in_scope(key): one search for that key within the admin's JQL."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from csi_coach.config import JIRA_FIELDS, AuthSettings, JiraSettings
from csi_coach.connectors.base import Connector
from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.connectors.jira.jql import scope_jql
from csi_coach.connectors.jira.mapping import issue_to_record
from csi_coach.connectors.transport import Limiters
from csi_coach.errors import BadRequest
from csi_coach.model import Record
from csi_coach.sandbox.jira.server import JiraSandbox
from support.jira import CLOUD, DC, load, query, set_secrets, settings

FIELDS = "summary,description,customfield_10050,components,assignee,status,updated,labels"
SEARCH = {"cloud": f"{CLOUD}/rest/api/2/search/jql", "server": f"{DC}/rest/api/2/search"}



@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    set_secrets(monkeypatch)


def an_issue(key: str = "CSI-1") -> dict:
    issue = copy.deepcopy(load("search_jql_page1.json")["issues"][0])
    issue["key"] = key
    return issue


def answer(flavor: str, issues: list[dict]) -> dict:
    if flavor == "cloud":
        return {"issues": issues, "isLast": True}
    return {"startAt": 0, "maxResults": 1, "total": len(issues), "issues": issues}


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_in_scope_is_one_search_for_the_key_within_the_admin_jql(rsps, flavor):
    issue = an_issue("CSI-1")
    rsps.get(SEARCH[flavor], json=answer(flavor, [issue]))
    s = settings(flavor, jql="project = CSI AND issuetype = Improvement ORDER BY created DESC")
    with JiraConnector(s, None) as jira:
        got = jira.get_in_scope(" CSI-1 ")
    assert len(rsps.calls) == 1
    expected = {"jql": 'key = "CSI-1" AND (project = CSI AND issuetype = Improvement)', "fields": FIELDS,
                "maxResults": "1"}
    if flavor == "server":
        expected["startAt"] = "0"
    assert query(rsps.calls[0]) == expected
    assert got == issue_to_record(issue, source="jira-test", base_url=s.url, fields=s.fields)


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_out_of_scope_is_none(rsps, flavor):
    rsps.get(SEARCH[flavor], json=answer(flavor, []))
    with JiraConnector(settings(flavor), None) as jira:
        assert jira.get_in_scope("CSI-7") is None


@pytest.mark.parametrize("message", ["An issue with key 'CSI-404' does not exist for field 'key'.",
                                     "The issue key 'CSI-404' for field 'key' is invalid."])
def test_data_center_400_for_an_unknown_key_is_none(rsps, message):
    rsps.get(SEARCH["server"], status=400, json={"errorMessages": [message], "errors": {}})
    with JiraConnector(settings("server"), None) as jira:
        assert jira.get_in_scope("CSI-404") is None


@pytest.mark.parametrize("message", ["Error in the JQL Query: The character '%' is a reserved JQL character.",
                                     "An issue with key 'OTHER-1' does not exist for field 'key'.",
                                     "The value 'CSI-404' does not exist for the field 'project'."])
def test_other_400s_are_raised(rsps, message):
    rsps.get(SEARCH["server"], status=400, json={"errorMessages": [message], "errors": {}})
    with JiraConnector(settings("server"), None) as jira:
        with pytest.raises(BadRequest):
            jira.get_in_scope("CSI-404")


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_a_moved_issue_keeps_the_key_jira_answers(rsps, flavor):
    rsps.get(SEARCH[flavor], json=answer(flavor, [an_issue("NEW-12")]))
    with JiraConnector(settings(flavor), None) as jira:
        got = jira.get_in_scope("CSI-3")
    assert query(rsps.calls[0])["jql"] == 'key = "CSI-3" AND (project = CSI)'
    assert isinstance(got, Record) and got.key == "NEW-12" and got.url.endswith("/browse/NEW-12")


@pytest.mark.parametrize("key", ["", "  ", 'CSI-1" OR key != "x', "CSI-1\\", "CSI-1\nOR"])
def test_a_key_that_would_change_the_jql_reads_nothing(rsps, key):
    with JiraConnector(settings("cloud"), None) as jira:
        assert jira.get_in_scope(key) is None
    assert len(rsps.calls) == 0


def test_scope_jql_parenthesises_the_admin_jql_so_its_or_cannot_escape():
    assert scope_jql("project = A OR project = B order by key", "A-1") == \
        'key = "A-1" AND (project = A OR project = B)'


def test_jira_meets_the_connector_interface_with_get_in_scope():
    with JiraConnector(settings("cloud"), None) as jira:
        assert isinstance(jira, Connector)


# -- over HTTP, against the sandbox ---------------------------------------------------------------

@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_sandbox_in_scope_equals_fetch_out_of_scope_and_unknown_are_none(flavor, monkeypatch):
    monkeypatch.setenv("CSI_SCOPE_JIRA_EMAIL", "csi-coach@example.com")
    monkeypatch.setenv("CSI_SCOPE_JIRA_TOKEN", "sandbox-jira-token")

    def settings_for(url: str, jql: str) -> JiraSettings:
        return JiraSettings(
            name="jira-scope", url=url, flavor=flavor, jql=jql, page_size=50,
            auth=AuthSettings(method="basic", username_env="CSI_SCOPE_JIRA_EMAIL", token_env="CSI_SCOPE_JIRA_TOKEN"),
            fields=replace(JIRA_FIELDS, goal=("customfield_10050",)),
        )

    with JiraSandbox(flavor=flavor, records=30, seed=6).start() as sandbox:
        assert sandbox.wait_ready(60)
        with JiraConnector.open(settings_for(sandbox.url, "project = CSI"), limiters=Limiters()) as everything:
            every = {r.key for r in everything.fetch(None)}
        scoped = settings_for(sandbox.url, 'project = CSI AND statusCategory != "Done" ORDER BY key')
        with JiraConnector.open(scoped, limiters=Limiters()) as jira:
            fetched = {r.key: r for r in jira.fetch(None)}
            outside = sorted(every - set(fetched))
            assert fetched and outside
            for key, record in list(fetched.items())[:5]:
                assert jira.get_in_scope(key) == record
            for key in outside[:5]:
                assert jira.get_in_scope(key) is None
                assert jira.get(key) is not None  # get ignores the JQL (explain --ticket)
            assert jira.get_in_scope("CSI-9999") is None  # Data Center: 400 naming the key; Cloud: no issues
