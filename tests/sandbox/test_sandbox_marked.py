"""marked_keys over real HTTP against both sandboxes, and the query support it needs there:
ServiceNow's sys_journal_field rows (name = table, from PATCH and PUT) and Jira's ``comment ~``."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import requests

from csi_coach.config import JIRA_FIELDS, AuthSettings, JiraSettings, ServiceNowSettings
from csi_coach.connectors import open_connector
from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.connectors.transport import Limiters, RetryPolicy
from csi_coach.model import Record
from csi_coach.sandbox.jira.jql import Catalog, parse
from csi_coach.sandbox.jira.server import JiraSandbox
from csi_coach.sandbox.servicenow.server import ServiceNowSandbox
from support.sandbox_jira import BASIC, get, post, schema_errors

MARKER = "csi-coach:0123456789abcdef"
FAST = RetryPolicy(attempts=3, backoff_base=0.01, backoff_cap=0.05, max_wait=5)


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("MK_SN_USER", "csi-coach")
    monkeypatch.setenv("MK_SN_PASSWORD", "sandbox-snow-password")
    monkeypatch.setenv("MK_JIRA_EMAIL", "csi-coach@example.com")
    monkeypatch.setenv("MK_JIRA_TOKEN", "sandbox-jira-token")


# --------------------------------------------------------------------------- ServiceNow


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def snow_settings(url: str, **changes) -> ServiceNowSettings:
    auth = AuthSettings(method="basic", username_env="MK_SN_USER", password_env="MK_SN_PASSWORD")
    return replace(ServiceNowSettings(name="snow", url=url, auth=auth, timeout_seconds=10), **changes)


def test_servicenow_keys_of_records_with_bot_entries_since(env):
    clock = Clock(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    with ServiceNowSandbox(records=12, seed=5, clock=clock) as snow:
        with open_connector(snow_settings(snow.url, page_size=1), limiters=Limiters(), policy=FAST) as c:
            recs = [r for r in c.fetch(None) if isinstance(r, Record)][:6]
            assert c.marked_keys(None) == set()  # no journal entries yet

            c.post(recs[0], f"Old coaching\n\n{MARKER}", MARKER)  # 10:00, before `since`
            clock.now += timedelta(hours=1)
            c.post(recs[1], f"New coaching\n\n{MARKER}-ack", MARKER + "-ack")  # 11:00
            c.post(recs[2], "x", MARKER)  # the connector adds the marker
            c.post(recs[2], f"again\n\n{MARKER}", MARKER)  # a second entry, same record
            # a person's note without the marker, and the marker in the other journal field
            auth = ("csi-coach", "sandbox-snow-password")
            url = f"{snow.url}/api/now/table/sn_cim_register"
            assert requests.patch(f"{url}/{recs[3].key}", json={"work_notes": "plain note"}, auth=auth,
                                  timeout=10).status_code == 200
            assert requests.patch(f"{url}/{recs[4].key}", json={"comments": MARKER}, auth=auth,
                                  timeout=10).status_code == 200
            # a PUT appends a journal row too
            assert requests.put(f"{url}/{recs[5].key}", json={"work_notes": f"put {MARKER}"}, auth=auth,
                                timeout=10).status_code == 200

            assert c.marked_keys(None) == {recs[0].key, recs[1].key, recs[2].key, recs[5].key}
            assert c.marked_keys(datetime(2026, 3, 1, 10, 30, tzinfo=UTC)) == {
                recs[1].key, recs[2].key, recs[5].key}
            assert c.marked_keys(datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) == set()

        # the configured journal field decides which entries count
        with open_connector(snow_settings(snow.url, journal_field="comments"), limiters=Limiters(),
                            policy=FAST) as c:
            assert c.marked_keys(None) == {recs[4].key}


def test_servicenow_journal_rows_carry_the_table_name(env):
    with ServiceNowSandbox(records=3, seed=5) as snow:
        auth = ("csi-coach", "sandbox-snow-password")
        url = f"{snow.url}/api/now/table"
        sys_id = requests.get(f"{url}/sn_cim_register", params={"sysparm_limit": 1, "sysparm_fields": "sys_id"},
                              auth=auth, timeout=10).json()["result"][0]["sys_id"]
        requests.patch(f"{url}/sn_cim_register/{sys_id}", json={"work_notes": "a"}, auth=auth, timeout=10)
        requests.put(f"{url}/sn_cim_register/{sys_id}", json={"work_notes": "b"}, auth=auth, timeout=10)
        rows = requests.get(f"{url}/sys_journal_field", auth=auth, timeout=10, params={
            "sysparm_query": f"element_id={sys_id}^ORDERBYvalue", "sysparm_fields": "name,element,value"}).json()
        assert rows["result"] == [{"name": "sn_cim_register", "element": "work_notes", "value": "a"},
                                  {"name": "sn_cim_register", "element": "work_notes", "value": "b"}]
        other = requests.get(f"{url}/sys_journal_field", auth=auth, timeout=10,
                             params={"sysparm_query": "name=incident"}).json()
        assert other["result"] == []


# --------------------------------------------------------------------------- Jira JQL


CATALOG = Catalog(projects=("CSI",), issue_types=("Improvement",), statuses=("Open", "Done"),
                  status_categories=("To Do",))


class View:
    def __init__(self, comment: str = "", status: str = "Open") -> None:
        self.values = {"key": "CSI-1", "project": "CSI", "status": status, "comment": comment,
                       "summary": "Faster checkout"}

    def value(self, name):
        return self.values.get(name)


def matches(jql: str, view: View) -> bool:
    return parse(jql, CATALOG).matches(view)


def test_comment_contains_a_phrase_in_escaped_quotes():
    bot = View("h4. Coaching\n\n{color:#97a0af}csi-coach:0123456789abcdef{color}")
    assert matches('comment ~ "\\"csi-coach\\""', bot)
    assert matches('comment ~ "\\"CSI-Coach\\""', bot)  # case-insensitive
    assert matches('comment ~ "\\"csi coach\\""', bot)  # the hyphen splits words, as Jira's analyzer does
    apart = View("csi is how we call the coach")
    assert not matches('comment ~ "\\"csi-coach\\""', apart)
    assert matches('comment ~ "csi-coach"', apart)  # without inner quotes: both words, anywhere
    assert not matches('comment ~ "\\"csi-coach\\""', View(""))
    assert not matches('comment ~ "\\"csi-coach\\""', View("the coach-csi pairing"))


def test_comment_clause_combines_with_and_or_not():
    bot = View("see csi-coach:abc", status="Open")
    assert matches('project = CSI AND comment ~ "\\"csi-coach\\""', bot)
    assert not matches('(project = CSI AND status = Done) AND comment ~ "\\"csi-coach\\""', bot)
    assert matches('status = Done OR comment ~ "\\"csi-coach\\""', bot)
    assert not matches('NOT comment ~ "\\"csi-coach\\""', bot)
    assert matches('comment !~ "\\"csi-coach\\""', View("plain"))
    assert matches("comment is EMPTY", View("")) and not matches("comment is EMPTY", bot)
    assert matches('comment ~ "\\"csi-coach\\"" AND summary ~ "checkout"', bot)


# --------------------------------------------------------------------------- Jira over HTTP


def jira_settings(url: str, flavor: str, **changes) -> JiraSettings:
    auth = AuthSettings(method="basic", username_env="MK_JIRA_EMAIL", token_env="MK_JIRA_TOKEN")
    return replace(JiraSettings(name="jira", url=url, flavor=flavor, jql="project = CSI", auth=auth,
                                fields=replace(JIRA_FIELDS, goal=("customfield_10050",)), timeout_seconds=10),
                   **changes)


def issue(key: str) -> Record:
    return Record(source="jira", key=key, number=key, url="", title="")


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_jira_keys_of_issues_with_bot_comments_since(flavor):
    offset = [0.0]
    base = time.time()
    with JiraSandbox(flavor=flavor, records=20, seed=4, clock=lambda: base + offset[0]).start() as sandbox:
        assert sandbox.wait_ready(60)
        with JiraConnector.open(jira_settings(sandbox.url, flavor, page_size=1), limiters=Limiters(),
                                policy=FAST) as jira:
            assert jira.marked_keys(None) == set()
            jira.post(issue("CSI-1"), f"Old coaching {MARKER}", MARKER)  # before `since`
            offset[0] = 3600.0
            since = datetime.fromtimestamp(base + 1800, UTC)
            for key in ("CSI-3", "CSI-7", "CSI-12"):
                jira.post(issue(key), f"h4. Coaching\n\n{{color:#97a0af}}{MARKER}{{color}}", MARKER)
                offset[0] += 120  # a minute apart each: keyset restarts between the pages of one
            # people writing "CSI" are over-reported (a comment read before a write, no harm)
            assert post(sandbox.url, "/rest/api/2/issue/CSI-5/comment", {"body": "csi and coach, apart"},
                        auth=BASIC).status_code == 201
            assert post(sandbox.url, "/rest/api/2/issue/CSI-6/comment", {"body": "a coaching note"},
                        auth=BASIC).status_code == 201
            if flavor == "cloud":  # an ADF body (REST v3) is searched as its text
                doc = {"type": "doc", "version": 1, "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": f"Quoted: {MARKER}"}]}]}
                assert post(sandbox.url, "/rest/api/3/issue/CSI-9/comment", {"body": doc}).status_code == 201
            cloud_extra = {"CSI-9"} if flavor == "cloud" else set()

            assert jira.marked_keys(None) == {"CSI-1", "CSI-3", "CSI-5", "CSI-7", "CSI-12"} | cloud_extra
            assert jira.marked_keys(since) == {"CSI-3", "CSI-5", "CSI-7", "CSI-12"} | cloud_extra
            assert jira.marked_keys(datetime.fromtimestamp(base + 7200, UTC)) == set()


def test_jira_marked_search_answers_in_the_schema():
    with JiraSandbox(flavor="cloud", records=10, seed=4) as sandbox:
        assert post(sandbox.url, "/rest/api/2/issue/CSI-2/comment", {"body": f"x {MARKER}"}).status_code == 201
        resp = get(sandbox.url, "/rest/api/2/search/jql", {
            "jql": '(project = CSI) AND comment ~ "\\"csi-coach\\"" ORDER BY updated ASC, key ASC',
            "fields": "updated", "maxResults": 50})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert schema_errors(body, "SearchAndReconcileResults") == []
        assert [i["key"] for i in body["issues"]] == ["CSI-2"] and body["isLast"] is True
        bad = get(sandbox.url, "/rest/api/2/search/jql", {"jql": "project = CSI ORDER BY comment"})
        assert bad.status_code == 400 and "does not support sorting" in bad.text


def test_the_connectors_clause_finds_every_marker_whatever_its_digest_starts_with():
    from csi_coach.connectors.jira.jql import MARKED_CLAUSE

    for digest in ("0123456789abcdef", "abcdef0123456789", "ffffffffffffffff"):
        assert matches(MARKED_CLAUSE, View(f"{{color:#97a0af}}csi-coach:{digest}{{color}}"))
        assert matches(MARKED_CLAUSE, View(f"Thanks!\n\ncsi-coach:{digest}-ack"))
    assert not matches(MARKED_CLAUSE, View("a comment about the coach"))
