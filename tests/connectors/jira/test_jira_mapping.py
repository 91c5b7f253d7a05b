"""Jira issue JSON -> Record, field shapes, and the incremental JQL (pure functions)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from csi_coach.config import JIRA_FIELDS
from csi_coach.connectors.jira.jql import build_jql, jql_time, strip_order_by, user_zone
from csi_coach.connectors.jira.mapping import field_text, issue_to_record, parse_jira_time, requested_fields
from csi_coach.model import BrokenRecord, Record
from support.jira import CLOUD, DC, load

FIELDS = replace(JIRA_FIELDS, goal=("customfield_10050",))


def records(fixture: str, base: str = CLOUD) -> list[Record | BrokenRecord]:
    return [issue_to_record(i, source="jira-test", base_url=base, fields=FIELDS) for i in load(fixture)["issues"]]


def test_plain_string_goal_and_components_owner_labels_state():
    r = records("search_jql_page1.json")[0]
    assert isinstance(r, Record)
    assert (r.source, r.key, r.number) == ("jira-test", "CSI-1", "CSI-1")
    assert r.url == "https://example.atlassian.net/browse/CSI-1"
    assert r.title == "Cut incident volume on the POS service"
    assert r.description == "We see too many *P2 incidents* on POS."
    assert r.goal == "Reduce incidents by 20%"
    assert r.service == "Point of Sale"
    assert r.owner == "Mia Krystof"
    assert r.labels == ("csi", "retail")
    assert r.state == "In Progress"
    assert r.updated == datetime(2026, 11, 20, 8, 15, 30, tzinfo=UTC)
    assert r.container == "CSI"


def test_adf_goal_is_flattened_and_components_joined():
    r = records("search_jql_page1.json")[1]
    assert r.goal == "Store staff can serve customers faster at checkout.\nQueue time under 2 minutes"
    assert r.service == "Point of Sale, Payments"
    assert r.owner == "Ravi Patel"
    assert r.updated == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # +0100 kept as an instant


def test_option_goals_single_and_multi_and_empty_fields():
    single, multi = records("search_jql_page2.json")
    assert single.goal == "Lower cost per contact"
    assert (single.description, single.owner, single.service) == ("", "", "")
    assert single.labels == ("self-service",)
    assert multi.goal == "Fewer repeat calls, Happier callers"


def test_missing_goal_maps_to_empty_and_bad_timestamp_is_broken():
    ok, broken = records("search_jql_page3.json")
    assert isinstance(ok, Record) and ok.goal == ""
    assert isinstance(broken, BrokenRecord)
    assert broken.key == "CSI-6" and "updated" in broken.reason and "yesterday" in broken.reason


def test_data_center_users_show_display_name_not_login_and_cascading_select():
    first, second = records("search_page1.json", DC)
    assert first.owner == "Mia Krystof"  # not the login "mkrystof"
    assert first.url == "https://jira.example.com/browse/OPS-1"
    assert second.goal == "Lower cost per ticket - Tier 1"


def test_several_goal_fields_are_joined():
    fields = replace(FIELDS, goal=("customfield_10050", "customfield_10051"))
    issue = load("search_jql_page1.json")["issues"][0]
    issue["fields"]["customfield_10051"] = "Shoppers wait less"
    r = issue_to_record(issue, source="s", base_url=CLOUD + "/", fields=fields)
    assert r.goal == "Reduce incidents by 20%\n\nShoppers wait less"
    assert r.url == f"{CLOUD}/browse/CSI-1"


@pytest.mark.parametrize("issue,why", [
    ({"id": "1", "fields": {}}, "no key"),
    ({"key": "CSI-9"}, "no fields"),
    ({"key": "CSI-9", "fields": {"summary": "x"}}, "updated"),
])
def test_unmappable_issues_become_broken_records(issue, why):
    r = issue_to_record(issue, source="s", base_url=CLOUD, fields=FIELDS)
    assert isinstance(r, BrokenRecord) and why in r.reason


@pytest.mark.parametrize("value,text", [
    (None, ""),
    ("  text ", "text"),
    (3, "3"),
    ({"value": "Gold"}, "Gold"),
    ({"name": "Payments", "id": "1"}, "Payments"),
    ({"displayName": "Ana", "name": "ana01"}, "Ana"),
    ([{"value": "a"}, None, {"value": "b"}], "a, b"),
    ({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "line"}, {"type": "hardBreak"}, {"type": "text", "text": "two"}]}]}, "line\ntwo"),
    ({"unknown": 1}, ""),
])
def test_field_text_shapes(value, text):
    assert field_text(value) == text


def test_requested_fields_are_only_the_mapped_ones():
    assert requested_fields(FIELDS) == [
        "summary", "description", "customfield_10050", "components", "assignee", "status", "updated", "labels"]


def test_a_remapped_number_field_is_requested_and_used():
    fields = replace(FIELDS, number="customfield_10070")
    assert requested_fields(fields)[0] == "customfield_10070"
    issue = load("search_jql_page1.json")["issues"][0]
    issue = dict(issue, fields=dict(issue["fields"], customfield_10070="CSI-REG-0042"))
    record = issue_to_record(issue, source="jira-test", base_url=CLOUD, fields=fields)
    assert record.number == "CSI-REG-0042" and record.key == issue["key"]


def test_parse_jira_time_needs_an_offset():
    assert parse_jira_time("2026-11-20T08:15:30.000-0500") == datetime(2026, 11, 20, 13, 15, 30, tzinfo=UTC)
    assert parse_jira_time("2026-11-20T08:15:30") is None
    assert parse_jira_time(None) is None


# -- JQL ----------------------------------------------------------------------------------


def test_incremental_jql_exact_text():
    assert build_jql("project = CSI AND issuetype = Improvement", "2026-11-20 08:05") == (
        '(project = CSI AND issuetype = Improvement) AND updated >= "2026-11-20 08:05" '
        "ORDER BY updated ASC, key ASC")


def test_full_scan_jql_has_no_watermark_and_or_is_parenthesised():
    assert build_jql("project = A OR project = B", None) == (
        "(project = A OR project = B) ORDER BY updated ASC, key ASC")


def test_admin_order_by_is_dropped_but_not_inside_quotes():
    assert strip_order_by("project = CSI order by created DESC") == "project = CSI"
    assert strip_order_by('summary ~ "order by" AND project = X') == 'summary ~ "order by" AND project = X'


def test_watermark_is_in_the_users_zone_and_rounded_down():
    since = datetime(2026, 11, 20, 7, 5, 59, tzinfo=UTC)
    assert jql_time(since, user_zone("Europe/Berlin")) == "2026-11-20 08:05"
    assert jql_time(since, user_zone("America/New_York")) == "2026-11-20 02:05"
    assert jql_time(since, user_zone("UTC")) == "2026-11-20 07:05"


def test_unknown_zone_widens_the_window_so_no_zone_can_miss_records():
    since = datetime(2026, 11, 20, 7, 5, tzinfo=UTC)
    literal = jql_time(since, user_zone("Not/AZone"))
    assert literal == "2026-11-19 17:05"
    wall = datetime.strptime(literal, "%Y-%m-%d %H:%M")
    for hours in range(-12, 15):  # read in every offset from UTC-12 to UTC+14
        instant = wall.replace(tzinfo=timezone(timedelta(hours=hours)))
        assert instant <= since
