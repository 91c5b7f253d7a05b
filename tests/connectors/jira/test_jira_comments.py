"""Jira comments: create with property/visibility/internal, find own comments, edit, ambiguous POST."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests
import responses

from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.errors import AmbiguousWrite, PermissionDenied
from csi_coach.model import CommentRef, Record
from support.jira import CLOUD, DC, load, path, query, set_secrets, settings

MARKER = "csi-coach:0123456789abcdef"
RECORD = Record(source="jira-test", key="CSI-1", number="CSI-1", url=f"{CLOUD}/browse/CSI-1", title="t")


@pytest.fixture
def rsps():
    """Loose here (the shared one in conftest.py is strict): some tests register
    answers that a retry path may not need."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    set_secrets(monkeypatch)


def sent(call) -> dict:
    return json.loads(call.request.body)


def add_comment_pages(rsps, base=CLOUD, key="CSI-1"):
    for n, start in ((1, 0), (2, 2), (3, 4)):
        rsps.get(f"{base}/rest/api/2/issue/{key}/comment", json=load(f"comments_page{n}.json"),
                 match=[responses.matchers.query_param_matcher({"startAt": str(start)}, strict_match=False)])


def test_post_sends_property_visibility_and_internal_flag(rsps):
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", json=load("comment_created.json"), status=201)
    s = settings("cloud", visibility_type="role", visibility_value="Service Owners", internal=True)
    with JiraConnector(s, None) as jira:
        ref = jira.post(RECORD, "h4. Coaching note\nbody", MARKER, version="r-3f2a")
    assert ref == CommentRef(source="jira-test", record_key="CSI-1", comment_id="10050")
    assert len(rsps.calls) == 1
    assert sent(rsps.calls[0]) == {
        "body": "h4. Coaching note\nbody",
        "properties": [
            {"key": "csi-coach", "value": {"marker": MARKER, "digest": "0123456789abcdef", "version": "r-3f2a"}},
            {"key": "sd.public.comment", "value": {"internal": True}},
        ],
        "visibility": {"type": "role", "value": "Service Owners"},
    }


def test_post_without_visibility_or_internal_sends_only_our_property(rsps):
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", json=load("comment_created.json"), status=201)
    with JiraConnector(settings("cloud"), None) as jira:
        jira.post(RECORD, "body", MARKER)
    body = sent(rsps.calls[0])
    assert set(body) == {"body", "properties"}
    assert [p["key"] for p in body["properties"]] == ["csi-coach"]


def test_bot_comments_pages_through_and_keeps_only_tagged_own_comments(rsps):
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=load("myself_cloud.json"))
    add_comment_pages(rsps)
    with JiraConnector(settings("cloud"), None) as jira:
        found = jira.bot_comments(RECORD)
    # 10010 is another author's (even with a marker in its text), 10012 is the bot's but untagged;
    # 10013 has only the text marker (fallback); 10011 and 10014 carry the property. Oldest first.
    assert [c.ref.comment_id for c in found] == ["10013", "10011", "10014"]
    assert [c.marker for c in found] == ["csi-coach:fedcba9876543210", MARKER, "csi-coach:00112233445566ff"]
    assert all(c.editable and c.ref.record_key == "CSI-1" for c in found)
    assert found[0].created == datetime(2026, 11, 19, 10, 0, tzinfo=UTC)
    listing = [c for c in rsps.calls if path(c).endswith("/comment")]
    assert [query(c)["startAt"] for c in listing] == ["0", "2", "4"]
    assert {query(c)["expand"] for c in listing} == {"properties"}
    assert len(rsps.calls) == 1 + 3  # myself + three pages; no per-comment reads


def test_myself_is_read_once_per_connector(rsps):
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=load("myself_cloud.json"))
    add_comment_pages(rsps)
    with JiraConnector(settings("cloud"), None) as jira:
        jira.bot_comments(RECORD)
        jira.bot_comments(RECORD)
    assert [path(c) for c in rsps.calls].count("/rest/api/2/myself") == 1


def test_cloud_without_expanded_properties_reads_them_in_one_bulk_call(rsps):
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=load("myself_cloud.json"))
    rsps.get(f"{CLOUD}/rest/api/2/issue/CSI-2/comment", json=load("comments_no_properties.json"))
    rsps.post(f"{CLOUD}/rest/api/2/comment/list", json=load("comment_list.json"))
    record = Record(source="jira-test", key="CSI-2", number="CSI-2", url="", title="")
    with JiraConnector(settings("cloud"), None) as jira:
        found = jira.bot_comments(record)
    assert [(c.ref.comment_id, c.marker) for c in found] == [("10020", MARKER)]
    bulk = rsps.calls[-1]
    assert path(bulk) == "/rest/api/2/comment/list" and query(bulk)["expand"] == "properties"
    assert sent(bulk) == {"ids": [10020]}  # only the bot's own comments


def test_data_center_matches_the_author_by_user_key(rsps, monkeypatch):
    set_secrets(monkeypatch, method="pat")
    rsps.get(f"{DC}/rest/api/2/myself", json=load("myself_datacenter.json"))
    bot = load("myself_datacenter.json")
    page = {"startAt": 0, "maxResults": 100, "total": 2, "comments": [
        {"id": "30001", "author": {"key": "JIRAUSER10500", "name": "csi-coach", "displayName": "CSI Coach"},
         "body": f"note {MARKER}", "created": "2026-11-20T10:00:00.000+0000", "properties": []},
        {"id": "30002", "author": {"key": "JIRAUSER99", "name": "someone", "displayName": "CSI Coach"},
         "body": f"copied {MARKER}", "created": "2026-11-20T11:00:00.000+0000", "properties": []},
    ]}
    assert bot["key"] == "JIRAUSER10500"
    rsps.get(f"{DC}/rest/api/2/issue/OPS-1/comment", json=page)
    record = Record(source="jira-test", key="OPS-1", number="OPS-1", url="", title="")
    with JiraConnector(settings("server", method="pat"), None) as jira:
        found = jira.bot_comments(record)
    assert [c.ref.comment_id for c in found] == ["30001"]
    assert "/rest/api/2/comment/list" not in [path(c) for c in rsps.calls]


def test_update_edits_in_place_without_notifying(rsps):
    url = f"{CLOUD}/rest/api/2/issue/CSI-1/comment/10011"
    rsps.put(url, json=load("comment_created.json"))
    ref = CommentRef(source="jira-test", record_key="CSI-1", comment_id="10011")
    with JiraConnector(settings("cloud"), None) as jira:
        jira.update(ref, "new body", "csi-coach:fedcba9876543210", version="r-2")
    call = rsps.calls[0]
    assert call.request.method == "PUT" and query(call) == {"notifyUsers": "false"}
    assert sent(call)["body"] == "new body"
    assert sent(call)["properties"][0]["value"] == {"marker": "csi-coach:fedcba9876543210",
                                                    "digest": "fedcba9876543210", "version": "r-2"}
    assert len(rsps.calls) == 1


def test_update_refused_notify_flag_retries_once_without_it_and_remembers(rsps):
    url = f"{DC}/rest/api/2/issue/OPS-1/comment/30001"
    rsps.put(url, status=403, json={"errorMessages": ["You cannot disable notifications."], "errors": {}},
             match=[responses.matchers.query_param_matcher({"notifyUsers": "false"})])
    rsps.put(url, json=load("comment_created.json"), match=[responses.matchers.query_param_matcher({})])
    ref = CommentRef(source="jira-test", record_key="OPS-1", comment_id="30001")
    with JiraConnector(settings("server"), None) as jira:
        jira.update(ref, "a", MARKER)
        jira.update(ref, "b", MARKER)
    assert [query(c).get("notifyUsers") for c in rsps.calls] == ["false", None, None]


def test_update_without_edit_permission_names_it(rsps):
    url = f"{CLOUD}/rest/api/2/issue/CSI-1/comment/10011"
    rsps.put(url, status=403, json={"errorMessages": ["You do not have permission to edit this comment."], "errors": {}})
    ref = CommentRef(source="jira-test", record_key="CSI-1", comment_id="10011")
    with JiraConnector(settings("cloud"), None) as jira:
        with pytest.raises(PermissionDenied) as info:
            jira.update(ref, "a", MARKER)
    assert "Edit own comments" in str(info.value)
    assert "You do not have permission to edit this comment." in str(info.value)


def _reset_post(rsps):
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment",
              body=requests.ConnectionError("Connection reset by peer ('Connection aborted.')"))


def test_ambiguous_post_is_raised_without_looking_or_writing_again(rsps):
    _reset_post(rsps)
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", json=load("comment_created.json"), status=201)
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=load("myself_cloud.json"))
    add_comment_pages(rsps)  # the marker is even there: still not this connector's call to make
    with JiraConnector(settings("cloud"), None) as jira:
        with pytest.raises(AmbiguousWrite) as info:
            jira.post(RECORD, "body", MARKER)
    assert "add a comment to CSI-1" in str(info.value)
    assert [(c.request.method, path(c)) for c in rsps.calls] == [("POST", "/rest/api/2/issue/CSI-1/comment")]


@pytest.mark.parametrize("status", [500, 502, 504])
def test_post_answered_500_502_504_is_ambiguous_and_not_repeated(rsps, status):
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", status=status,
              json={"errorMessages": ["listener failed after save"], "errors": {}})
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", json=load("comment_created.json"), status=201)
    with JiraConnector(settings("cloud"), None) as jira:
        with pytest.raises(AmbiguousWrite) as info:
            jira.post(RECORD, "body", MARKER)
    assert info.value.status == status and "listener failed after save" in str(info.value)
    assert len(rsps.calls) == 1


def test_slow_commit_after_the_client_timed_out_leaves_one_comment(rsps):
    """Jira saves the comment after the client gave up: one POST, AmbiguousWrite, and the
    comment the pipeline later settles on carries its id and creation time."""
    me = load("myself_cloud.json")
    saved: list[dict] = []

    def slow_commit(request):
        created = dict(load("comment_created.json"), body=json.loads(request.body)["body"],
                       properties=json.loads(request.body)["properties"], author=me,
                       created="2026-11-25T11:00:05.000+0000")
        saved.append(created)  # the server commits ...
        raise requests.ReadTimeout("Read timed out. (read timeout=30)")  # ... after the client stopped waiting

    rsps.add_callback(responses.POST, f"{CLOUD}/rest/api/2/issue/CSI-1/comment", callback=slow_commit)
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=me)
    rsps.add_callback(responses.GET, f"{CLOUD}/rest/api/2/issue/CSI-1/comment",
                      callback=lambda r: (200, {}, json.dumps({"startAt": 0, "maxResults": 100,
                                                               "total": len(saved), "comments": saved})))
    with JiraConnector(settings("cloud"), None) as jira:
        with pytest.raises(AmbiguousWrite):
            jira.post(RECORD, f"body\n{MARKER}", MARKER)
        assert [c.request.method for c in rsps.calls] == ["POST"]
        found = jira.bot_comments(RECORD)  # what the pipeline settles with, next scan
    assert len(saved) == 1
    assert [(b.marker, b.ref.comment_id) for b in found] == [(MARKER, "10050")]
    assert found[0].created == datetime(2026, 11, 25, 11, 0, 5, tzinfo=UTC)
    assert [c.request.method for c in rsps.calls].count("POST") == 1


def test_bot_comments_keep_every_same_marker_comment_with_id_and_time(rsps):
    """An older comment with the same marker (an earlier coaching) is listed apart from a new one,
    so the pipeline's known-id and time-window checks can tell them apart."""
    me = load("myself_cloud.json")
    prop = [{"key": "csi-coach", "value": {"marker": MARKER, "digest": MARKER.split(":")[1], "version": ""}}]
    old = dict(load("comment_created.json"), id="10001", author=me, properties=prop, created="2026-10-01T09:00:00.000+0000")
    new = dict(load("comment_created.json"), id="10090", author=me, properties=prop, created="2026-11-25T11:00:05.000+0000")
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=me)
    rsps.get(f"{CLOUD}/rest/api/2/issue/CSI-1/comment",
             json={"startAt": 0, "maxResults": 100, "total": 2, "comments": [new, old]})
    with JiraConnector(settings("cloud"), None) as jira:
        found = jira.bot_comments(RECORD)
    assert [(b.ref.comment_id, b.created.month) for b in found] == [("10001", 10), ("10090", 11)]
    assert {b.marker for b in found} == {MARKER}


def test_ambiguous_put_is_raised_once_without_a_second_edit(rsps):
    url = f"{CLOUD}/rest/api/2/issue/CSI-1/comment/10011"
    rsps.put(url, body=requests.ReadTimeout("Read timed out."))
    rsps.put(url, json=load("comment_created.json"))
    ref = CommentRef(source="jira-test", record_key="CSI-1", comment_id="10011")
    with JiraConnector(settings("cloud"), None) as jira:
        with pytest.raises(AmbiguousWrite) as info:
            jira.update(ref, "b", MARKER)
    assert "edit comment 10011 on CSI-1" in str(info.value)
    assert len(rsps.calls) == 1  # without the project's adapter nothing retries; with it, see test_jira_transport
