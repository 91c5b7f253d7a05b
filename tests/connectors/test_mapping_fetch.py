"""A wrong field mapping coaches no one (issue 14, item 2), at the connector: a goal field no
record of a page carries fails ``fetch`` before any record of that page comes out, with a
config error naming the field and the fields the source has, closest first; a goal carried
but empty on every record, or another mapped field on none, is a ``mapping_warnings`` line.

ServiceNow and Jira (Cloud and Data Center) sandboxes over 127.0.0.1; one ServiceNow case
with ``responses`` for a page in the middle of a listing."""

from __future__ import annotations

from dataclasses import replace

import pytest
import responses

from csi_coach.config import JIRA_FIELDS, SERVICENOW_FIELDS, AuthSettings, JiraSettings
from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.connectors.transport import Limiters, RetryPolicy
from csi_coach.errors import ConfigError
from csi_coach.model import Record
from csi_coach.sandbox.jira.server import EMAIL, TOKEN, JiraSandbox
from csi_coach.sandbox.servicenow.server import ServiceNowSandbox
from support.servicenow import LAST, NEXT, TABLE_URL, connector, page, record_item
from support.servicenow_sandbox import ENV, open_for, stats

FAST = RetryPolicy(attempts=2, backoff_base=0.01, backoff_cap=0.05)


@pytest.fixture
def env(monkeypatch):
    for k, v in {**ENV, "MAP_JIRA_EMAIL": EMAIL, "MAP_JIRA_TOKEN": TOKEN}.items():
        monkeypatch.setenv(k, v)


def list_reads(snow) -> int:
    return sum(n for route, n in stats(snow).items() if route.startswith("GET /api/now/table/{table}") and "{sys_id}" not in route)


# --------------------------------------------------------------------------- ServiceNow


def test_servicenow_goal_field_on_no_record_fails_before_any_record_comes_out(env):
    with ServiceNowSandbox(records=30) as snow, \
            open_for(snow, page_size=10, fields=replace(SERVICENOW_FIELDS, goal=("benfit",))) as c:
        listing = c.fetch(None)
        with pytest.raises(ConfigError) as caught:
            next(listing)  # the first page already: not one record was yielded
    error = caught.value
    assert error.key == "sources.snow.fields.goal" and error.got == "benfit"
    assert "is on none of the 10 record(s) of a page read from ServiceNow table sn_cim_register" in str(error)
    assert "closest first: benefit," in str(error)  # from one row read without sysparm_fields


def test_servicenow_every_goal_field_must_be_there_not_just_one(env):
    with ServiceNowSandbox(records=5) as snow, \
            open_for(snow, fields=replace(SERVICENOW_FIELDS, goal=("benefit", "u_expected_value"))) as c:
        with pytest.raises(ConfigError, match="'u_expected_value' is on none of the 5 record"):
            list(c.fetch(None))


def test_servicenow_goal_empty_on_every_record_and_a_missing_field_are_warnings(env):
    fields = replace(SERVICENOW_FIELDS, labels="u_lables")
    with ServiceNowSandbox(records=40) as snow, open_for(snow, query="benefitISEMPTY", fields=fields) as c:
        records = list(c.fetch(None))
        warnings = c.mapping_warnings()
    assert records and all(isinstance(r, Record) and r.goal == "" for r in records)
    assert warnings == [
        f"[sources.snow.fields.goal] 'benefit' is empty on all {len(records)} record(s) read: no record has a goal "
        "there, so each is judged without one; check that it is the field owners write the goal in",
        f"[sources.snow.fields.labels] 'u_lables' is on none of the {len(records)} record(s) read (an unknown field "
        "is left out of the answer): every record's labels reads as empty; check the field name",
    ]


def test_servicenow_a_right_mapping_reads_as_before_with_no_warning_and_no_extra_request(env):
    with ServiceNowSandbox(records=25) as snow, open_for(snow, page_size=10) as c:
        records = list(c.fetch(None))
        assert c.mapping_warnings() == []
        assert list_reads(snow) == 3  # three pages: the census costs no request
    assert len(records) == 25 and any(r.goal for r in records)


def test_servicenow_a_later_page_without_the_goal_fails_before_its_records(rsps, monkeypatch):
    c, _ = connector(monkeypatch, page_size=2)
    first = [record_item(1, "2026-03-01 10:00:00", benefit="Shops sell more"),
             record_item(2, "2026-03-01 10:01:00", benefit="")]
    second = [record_item(3, "2026-03-01 10:02:00"), record_item(4, "2026-03-01 10:03:00")]
    for item in second:
        del item["benefit"]  # a page of another shape: a view, a proxy, a changed table
    rsps.add(responses.GET, TABLE_URL, json=page(first), headers=NEXT)
    rsps.add(responses.GET, TABLE_URL, json=page(second), headers=LAST)
    got = []
    with pytest.raises(ConfigError, match="'benefit' is on none of the 2 record"):
        for record in c.fetch(None):
            got.append(record.number)
    assert got == ["CIM0000001", "CIM0000002"]


# --------------------------------------------------------------------------- Jira


def jira(url: str, flavor: str, goal: str = "customfield_10050", **changes) -> JiraConnector:
    auth = AuthSettings(method="basic", username_env="MAP_JIRA_EMAIL", token_env="MAP_JIRA_TOKEN")
    values = dict(name="jira", url=url, auth=auth, flavor=flavor, jql="project = CSI", page_size=20,
                  timeout_seconds=10, fields=replace(JIRA_FIELDS, goal=(goal,)))
    return JiraConnector.open(JiraSettings(**(values | changes)), limiters=Limiters(), policy=FAST)


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_jira_unknown_goal_field_fails_before_any_issue_naming_the_site_fields(env, flavor):
    with JiraSandbox(flavor=flavor, records=60) as site:
        site.wait_ready()
        with jira(site.url, flavor, goal="customfield_10500") as c:
            listing = c.fetch(None)
            with pytest.raises(ConfigError) as caught:
                next(listing)
            assert site.notifications == 0
    text = str(caught.value)
    assert caught.value.key == "sources.jira.fields.goal" and caught.value.got == "customfield_10500"
    assert "is on none of the 20 record(s) of a page read from Jira" in text
    # GET /field: the site's ids with their names, the likeliest first
    assert "closest first: customfield_10050 (Value goal)," in text


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_jira_goal_empty_on_every_issue_is_a_warning(env, flavor):
    with JiraSandbox(flavor=flavor, records=60) as site:
        site.wait_ready()
        with jira(site.url, flavor, jql="project = CSI AND cf[10050] is EMPTY") as c:
            records = list(c.fetch(None))
            warnings = c.mapping_warnings()
    assert records and all(r.goal == "" for r in records)
    assert warnings == [f"[sources.jira.fields.goal] 'customfield_10050' is empty on all {len(records)} record(s) "
                        "read: no record has a goal there, so each is judged without one; check that it is the "
                        "field owners write the goal in"]


def test_jira_a_right_mapping_has_no_warning(env):
    with JiraSandbox(flavor="cloud", records=45) as site:
        site.wait_ready()
        with jira(site.url, "cloud") as c:
            records = list(c.fetch(None))
            assert c.mapping_warnings() == []
    assert len(records) == 45 and any(r.goal for r in records)
