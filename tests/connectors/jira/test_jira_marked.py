"""JiraConnector.marked_keys: one search for the issues whose comments carry the bot marker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
import responses

from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.connectors.jira.jql import MARKED_CLAUSE
from csi_coach.errors import BadRequest, PermissionDenied, TransientError
from support.jira import CLOUD, DC, load, path, query, set_secrets, settings

ORDER = "ORDER BY updated ASC, key ASC"



@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    set_secrets(monkeypatch)


def issue(base: str, n: int, updated: str = "2026-11-20T08:15:30.000+0000") -> dict:
    """A search hit as fields=updated returns it: id, key, self and the one field."""
    return {"id": str(10000 + n), "key": f"CSI-{n}", "self": f"{base}/rest/api/2/issue/{10000 + n}",
            "fields": {"updated": updated}}


def cloud_search(rsps, issues, *, token=None, next_token=None, jql=None):
    body = {"issues": issues, "isLast": next_token is None}
    if next_token:
        body["nextPageToken"] = next_token
    want = {} if token is None else {"nextPageToken": token}
    if jql is not None:
        want["jql"] = jql
    matchers = [responses.matchers.query_param_matcher(want, strict_match=False)] if want else []
    rsps.get(f"{CLOUD}/rest/api/2/search/jql", json=body, match=matchers)


def test_the_clause_is_a_phrase_search_for_the_marker_prefix():
    assert MARKED_CLAUSE == 'comment ~ "csi"'


def test_cloud_query_is_exact_and_three_pages_give_every_key(rsps):
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=load("myself_cloud.json"))
    # every hit in one minute: the token is followed (a restart would read the same page again)
    cloud_search(rsps, [issue(CLOUD, 1), issue(CLOUD, 2)], next_token="tok-2")
    cloud_search(rsps, [issue(CLOUD, 3), issue(CLOUD, 4)], token="tok-2", next_token="tok-3")
    cloud_search(rsps, [issue(CLOUD, 7)], token="tok-3")
    with JiraConnector(settings("cloud", jql="project = CSI ORDER BY created DESC"), None) as jira:
        assert jira.marked_keys(None) == {"CSI-1", "CSI-2", "CSI-3", "CSI-4", "CSI-7"}
    searches = [c for c in rsps.calls if path(c) == "/rest/api/2/search/jql"]
    assert len(searches) == 3 and len(rsps.calls) == 4  # myself + one request per page
    for c in searches:
        q = query(c)
        assert q["jql"] == '(project = CSI) AND comment ~ "csi" ' + ORDER
        assert q["fields"] == "updated"  # the keyset paging needs it; the key comes with every issue
        assert q["maxResults"] == "2"
    assert [query(c).get("nextPageToken") for c in searches] == [None, "tok-2", "tok-3"]


def test_since_is_a_watermark_on_updated_in_the_users_zone(rsps):
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=load("myself_cloud.json"))  # Europe/Berlin, UTC+1 in November
    cloud_search(rsps, [issue(CLOUD, 9)])
    since = datetime(2026, 11, 20, 7, 5, 59, tzinfo=UTC)
    with JiraConnector(settings("cloud"), None) as jira:
        assert jira.marked_keys(since) == {"CSI-9"}
    assert query(rsps.calls[1])["jql"] == (
        '(project = CSI) AND comment ~ "csi" AND updated >= "2026-11-20 08:05" ' + ORDER)


def test_cloud_restarts_at_the_last_minute_read_like_fetch(rsps):
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=load("myself_cloud.json"))
    first = [issue(CLOUD, 1, "2026-11-20T08:00:10.000+0000"), issue(CLOUD, 2, "2026-11-20T08:03:10.000+0000")]
    base = '(project = CSI) AND comment ~ "csi" '
    cloud_search(rsps, first, next_token="tok-2", jql=base + ORDER)
    cloud_search(rsps, [first[1], issue(CLOUD, 5, "2026-11-20T08:09:00.000+0000")],
                 jql=base + 'AND updated >= "2026-11-20 09:03" ' + ORDER)
    with JiraConnector(settings("cloud"), None) as jira:
        assert jira.marked_keys(None) == {"CSI-1", "CSI-2", "CSI-5"}


def server_body(issues, start, total):
    return {"startAt": start, "maxResults": 2, "total": total, "issues": issues}


def test_data_center_pages_by_start_at_and_watermark(rsps):
    rsps.get(f"{DC}/rest/api/2/myself", json=load("myself_datacenter.json"))  # America/New_York
    jql = '(project = CSI) AND comment ~ "csi" AND updated >= "2026-11-20 03:00" ' + ORDER
    for start, numbers in ((0, (1, 2)), (2, (3, 4)), (4, (6,))):
        rsps.get(f"{DC}/rest/api/2/search", json=server_body([issue(DC, n) for n in numbers], start, 5),
                 match=[responses.matchers.query_param_matcher({"jql": jql, "startAt": str(start)},
                                                               strict_match=False)])
    with JiraConnector(settings("server", method="pat"), None) as jira:
        assert jira.marked_keys(datetime(2026, 11, 20, 8, 0, 59, tzinfo=UTC)) == {
            "CSI-1", "CSI-2", "CSI-3", "CSI-4", "CSI-6"}
    searches = [c for c in rsps.calls if path(c) == "/rest/api/2/search"]
    assert [query(c)["startAt"] for c in searches] == ["0", "2", "4"]
    assert {query(c)["fields"] for c in searches} == {"updated"}
    assert len(rsps.calls) == 4


def test_no_hits_is_an_empty_set_after_one_search(rsps):
    rsps.get(f"{DC}/rest/api/2/myself", json=load("myself_datacenter.json"))
    rsps.get(f"{DC}/rest/api/2/search", json=server_body([], 0, 0))
    with JiraConnector(settings("server", method="pat"), None) as jira:
        assert jira.marked_keys(None) == set()
    assert query(rsps.calls[1])["jql"] == '(project = CSI) AND comment ~ "csi" ' + ORDER


@pytest.mark.parametrize("status,body,error", [
    (400, "error_400_jql.json", BadRequest),
    (403, None, PermissionDenied),
    (500, None, TransientError),
])
def test_errors_are_converted(rsps, status, body, error):
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=load("myself_cloud.json"))
    rsps.get(f"{CLOUD}/rest/api/2/search/jql", status=status,
             json=load(body) if body else {"errorMessages": ["nope"], "errors": {}})
    with JiraConnector(settings("cloud"), None) as jira:
        with pytest.raises(error) as info:
            jira.marked_keys(None)
    assert "search issues" in str(info.value)


def test_a_reset_is_transient(rsps):
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=load("myself_cloud.json"))
    rsps.get(f"{CLOUD}/rest/api/2/search/jql", body=requests.ConnectionError("Connection reset by peer"))
    with JiraConnector(settings("cloud"), None) as jira:
        with pytest.raises(TransientError):
            jira.marked_keys(None)
