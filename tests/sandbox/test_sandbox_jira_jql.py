"""The JQL subset: parsing, Jira's rules for empty fields and time zones, and its error wording."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from csi_coach.sandbox.jira.jql import Catalog, JqlError, parse
from csi_coach.sandbox.jira.server import JiraSandbox
from support.sandbox_jira import get

CATALOG = Catalog(projects=("CSI",), issue_types=("Improvement",), statuses=("Open", "In Progress", "Done"),
                  status_categories=("To Do", "In Progress", "Done"), current_user="CSI Coach")
BERLIN = ZoneInfo("Europe/Berlin")


class View:
    def __init__(self, key="CSI-1", **values):
        self.values = {"key": key, "project": "CSI", "issuetype": "Improvement", "status": "Open",
                       "labels": (), "updated": 0.0, **values}

    def value(self, name):
        return self.values.get(name)


def matches(jql: str, view: View, **kw) -> bool:
    return parse(jql, CATALOG, **kw).matches(view)


def test_boolean_structure_and_precedence():
    done_kaizen = View(status="Done", labels=("kaizen",))
    assert matches("status = Done AND labels = kaizen", done_kaizen)
    assert matches("status = Open OR labels = kaizen", done_kaizen)
    assert not matches("status = Open OR labels = kaizen AND labels = csi", done_kaizen)  # AND binds tighter
    assert not matches("(status = Open OR labels = kaizen) AND labels = csi", done_kaizen)
    assert matches("NOT status = Open", done_kaizen)
    assert matches('project in (CSI) AND issuetype = "Improvement" AND status in ("In Progress", done)', done_kaizen)


def test_not_equal_and_not_in_never_match_an_empty_field():
    bare, tagged = View(labels=()), View(labels=("csi",))
    assert not matches("labels != kaizen", bare)
    assert not matches("labels not in (kaizen, audit)", bare)
    assert matches("labels != kaizen", tagged) and matches("labels not in (kaizen)", tagged)
    assert not matches("labels not in (csi)", tagged)
    assert matches("labels is EMPTY", bare) and matches("labels IS NOT empty", tagged)


def test_dates_are_read_in_the_users_time_zone():
    # 09:30 UTC is 10:30 in Berlin (CET, UTC+1) on 2026-11-20
    view = View(updated=datetime(2026, 11, 20, 9, 30, tzinfo=UTC).timestamp())
    assert matches('updated >= "2026-11-20 10:30"', view, zone=BERLIN)
    assert not matches('updated > "2026-11-20 10:31"', view, zone=BERLIN)
    assert not matches('updated >= "2026-11-20 10:30"', view, zone=UTC)
    assert matches('updated >= "2026/11/20" AND updated < 2026-11-21', view, zone=BERLIN)
    assert matches('updated <= "2026-11-20 10:30"', view, zone=BERLIN)
    now = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    assert matches("updated >= -1d", view, now=now) and not matches("updated >= -23h", view, now=now)
    assert matches('updated >= "-1w 2d"', view, now=now)
    assert matches("updated < startOfDay()", view, now=now, zone=BERLIN)


def test_order_by_several_fields_and_directions():
    views = [View("CSI-2", updated=5.0), View("CSI-10", updated=5.0), View("CSI-3", updated=1.0)]
    q = parse("project = CSI ORDER BY updated DESC, key ASC", CATALOG)
    assert [v.value("key") for v in sorted(views, key=q.sort_key)] == ["CSI-2", "CSI-10", "CSI-3"]
    q = parse("project = CSI ORDER BY key DESC", CATALOG)
    assert [v.value("key") for v in sorted(views, key=q.sort_key)] == ["CSI-10", "CSI-3", "CSI-2"]


@pytest.mark.parametrize("jql, message", [
    ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
    ("status = Parked", "The value 'Parked' does not exist for the field 'status'."),
    ("colour = red", "Field 'colour' does not exist or you do not have permission to view it."),
    ("project ~ CSI", "The operator '~' is not supported by the 'project' field."),
    ('updated >= "2026-13-01"', "Date value '2026-13-01' for field 'updated' is invalid."),
    ("project CSI", "Error in the JQL Query: Expecting operator but got 'CSI'."),
    ("project = CSI AND", "Error in the JQL Query: Expecting a field name before the end of the query."),
    ("(project = CSI", "Error in the JQL Query: Expecting ')' before the end of the query."),
    ("labels in (a, OR)", "Error in the JQL Query: Expecting either a value, list or function but got 'OR'."),
    ('summary ~ "open', "Error in the JQL Query: The quoted string 'open' has not been completed."),
    ("labels = a@b", "Error in the JQL Query: The character '@' is a reserved JQL character."),
    ("project = CSI ORDER BY description", "Field 'description' does not support sorting."),
])
def test_bad_queries_carry_jiras_messages(jql, message):
    with pytest.raises(JqlError) as caught:
        parse(jql, CATALOG)
    assert any(m.startswith(message) for m in caught.value.messages), caught.value.messages


def test_syntax_errors_name_line_and_character():
    with pytest.raises(JqlError) as caught:
        parse("project = CSI labels = x", CATALOG)
    assert caught.value.messages == ["Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'labels'. "
                                     "(line 1, character 15)"]


@pytest.fixture(scope="module")
def site():
    with JiraSandbox(records=120, seed=6, time_zone="Europe/Berlin") as sandbox:
        yield sandbox


def search(site, jql: str, **params):
    return get(site.url, "/rest/api/2/search/jql", {"jql": jql, "maxResults": 100, **params})


def test_search_filters_match_the_fields_served(site):
    everything = search(site, "project = CSI", fields="labels,status,updated").json()["issues"]
    everything += search(site, "project = CSI", fields="labels,status,updated",
                         nextPageToken=search(site, "project = CSI").json()["nextPageToken"]).json()["issues"]
    assert len(everything) == 120
    by_key = {i["key"]: i["fields"] for i in everything}
    cases = {
        "labels in (kaizen, audit-action)": lambda f: {"kaizen", "audit-action"} & set(f["labels"]),
        "labels not in (csi)": lambda f: f["labels"] and "csi" not in f["labels"],
        'status != "In Progress" AND status != Open': lambda f: f["status"]["name"] not in ("In Progress", "Open"),
        "statusCategory = Done OR labels = kaizen": lambda f: f["status"]["statusCategory"]["name"] == "Done"
        or "kaizen" in f["labels"],
    }
    for jql, rule in cases.items():
        got = {i["key"] for i in search(site, f"project = CSI AND ({jql})", fields="key").json()["issues"]}
        want = {k for k, f in by_key.items() if rule(f)}
        assert got == want and got, jql


def test_updated_watermark_in_the_users_zone_matches_the_served_times(site):
    issues = search(site, "project = CSI ORDER BY updated ASC", fields="updated").json()["issues"]
    middle = datetime.fromisoformat(issues[50]["fields"]["updated"])
    literal = middle.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M")  # minute precision, rounded down
    found = search(site, f'project = CSI AND updated >= "{literal}" ORDER BY updated ASC', fields="updated")
    keys = [i["key"] for i in found.json()["issues"]]
    assert issues[50]["key"] in keys
    assert all(datetime.fromisoformat(i["fields"]["updated"]) >= middle.replace(second=0, microsecond=0)
               for i in found.json()["issues"])


def test_a_bad_query_answers_400_with_error_messages(site):
    resp = search(site, "project = CSI AND status = Parked")
    assert resp.status_code == 400
    assert resp.json() == {"errorMessages": ["The value 'Parked' does not exist for the field 'status'."],
                           "errors": {}}
    unbounded = search(site, "ORDER BY key")
    assert unbounded.status_code == 400 and "Unbounded" in unbounded.json()["errorMessages"][0]
