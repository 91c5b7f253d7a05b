"""ServiceNowConnector comments: journal PATCH, finding the bot's entries, ambiguous writes."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import requests
import responses
from urllib3.exceptions import ProtocolError

from errors import AmbiguousWrite, NotFound, PermissionDenied, TransientError
from model import CommentRef, Record
from test_servicenow_support import (
    INSTANCE,
    JOURNAL_URL,
    TABLE_URL,
    connector,
    load,
    page,
    params_of,
)

SYS_ID = "9d385017c611228701d22104cc95c371"
RECORD_URL = f"{TABLE_URL}/{SYS_ID}"
MARKER = "csi-coach:0123456789abcdef"
BODY = f"Hello Beth Anglin, csi-coach here.\n\n{MARKER}"
RECORD = Record(source="snow", key=SYS_ID, number="CIM0001001", url="", title="t")


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as r:
        yield r


def reset() -> requests.ConnectionError:
    return requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")))


def journal_with(*values: str) -> dict:
    return page([{"sys_id": f"{i:032x}", "value": v, "sys_created_on": f"2026-03-0{i + 1} 08:00:00"}
                 for i, v in enumerate(values)])


# --------------------------------------------------------------------------- post


def test_post_patches_the_journal_field(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.PATCH, RECORD_URL, json=load("patch_response.json"))
    ref = c.post(RECORD, BODY, MARKER)
    assert ref == CommentRef("snow", SYS_ID, "")  # PATCH answers with the record, not the journal row
    req = rsps.calls[0].request
    assert json.loads(req.body) == {"work_notes": BODY}
    assert req.headers["Accept"] == "application/json"
    assert req.headers["Content-Type"] == "application/json"
    assert params_of(req.url)["sysparm_fields"] == "sys_id"
    assert len(rsps.calls) == 1


def test_post_uses_the_configured_journal_field(rsps, monkeypatch):
    c, _ = connector(monkeypatch, journal_field="comments")
    rsps.add(responses.PATCH, RECORD_URL, json=load("patch_response.json"))
    c.post(RECORD, BODY, MARKER)
    assert json.loads(rsps.calls[0].request.body) == {"comments": BODY}


def test_post_adds_the_marker_when_the_body_lacks_it(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.PATCH, RECORD_URL, json=load("patch_response.json"))
    c.post(RECORD, "no marker here", MARKER)
    assert json.loads(rsps.calls[0].request.body)["work_notes"].endswith(MARKER)


def test_update_writes_a_new_entry(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.PATCH, RECORD_URL, json=load("patch_response.json"))
    c.update(CommentRef("snow", SYS_ID, "a1b2c3d4e5f60718293a4b5c6d7e8f90"), BODY, MARKER)
    assert rsps.calls[0].request.method == "PATCH"
    assert json.loads(rsps.calls[0].request.body) == {"work_notes": BODY}


# --------------------------------------------------------------------------- failures on PATCH


def test_patch_500_is_settled_by_the_journal_marker_found(rsps, monkeypatch):
    c, clock = connector(monkeypatch)
    rsps.add(responses.PATCH, RECORD_URL, status=500)
    rsps.add(responses.GET, JOURNAL_URL, json=journal_with(BODY))
    ref = c.post(RECORD, BODY, MARKER)
    assert ref.comment_id == f"{0:032x}"  # the journal row that landed
    assert [call.request.method for call in rsps.calls] == ["PATCH", "GET"]


@pytest.mark.parametrize("failure", [reset, lambda: requests.ReadTimeout("read timed out")])
def test_ambiguous_patch_marker_found_means_no_second_write(rsps, monkeypatch, failure):
    c, clock = connector(monkeypatch)
    rsps.add(responses.PATCH, RECORD_URL, body=failure())
    rsps.add(responses.GET, JOURNAL_URL, json=journal_with("someone else", BODY))
    ref = c.post(RECORD, BODY, MARKER)
    assert ref == CommentRef("snow", SYS_ID, f"{1:032x}")
    assert [call.request.method for call in rsps.calls] == ["PATCH", "GET"]
    assert 2.0 in clock.slept  # gave the instance time to commit before looking


def test_ambiguous_patch_marker_absent_means_exactly_one_more_write(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.PATCH, RECORD_URL, body=reset())
    rsps.add(responses.GET, JOURNAL_URL, json=journal_with("csi-coach:ffffffffffffffff older note"))
    rsps.add(responses.PATCH, RECORD_URL, json=load("patch_response.json"))
    assert c.post(RECORD, BODY, MARKER).comment_id == ""
    assert [call.request.method for call in rsps.calls] == ["PATCH", "GET", "PATCH"]
    q = params_of(rsps.calls[1].request.url)
    assert q["sysparm_query"] == (f"element_id={SYS_ID}^name=sn_cim_register^element=work_notes"
                                  "^valueLIKEcsi-coach:^ORDERBYsys_created_on^ORDERBYsys_id")


def test_ambiguous_twice_is_left_to_the_caller(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.PATCH, RECORD_URL, body=reset())
    rsps.add(responses.GET, JOURNAL_URL, json=journal_with())
    rsps.add(responses.PATCH, RECORD_URL, body=reset())
    with pytest.raises(AmbiguousWrite) as exc:
        c.post(RECORD, BODY, MARKER)
    assert "snow" in str(exc.value)
    assert len(rsps.calls) == 3


def test_unreadable_journal_keeps_the_write_ambiguous(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.PATCH, RECORD_URL, body=reset())
    rsps.add(responses.GET, JOURNAL_URL, status=403, json=load("error_403.json"))
    with pytest.raises(AmbiguousWrite):
        c.post(RECORD, BODY, MARKER)
    assert len(rsps.calls) == 2  # no blind second write


def test_patch_retried_when_provably_not_applied(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.PATCH, RECORD_URL, status=429, headers={"Retry-After": "7"}, json=load("error_429.json"))
    rsps.add(responses.PATCH, RECORD_URL, status=503)
    rsps.add(responses.PATCH, RECORD_URL, json=load("patch_response.json"))
    c.post(RECORD, BODY, MARKER)
    assert [call.request.method for call in rsps.calls] == ["PATCH"] * 3


def test_patch_403_names_the_write_permission(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.PATCH, RECORD_URL, status=403, json=load("error_403.json"))
    with pytest.raises(PermissionDenied) as exc:
        c.post(RECORD, BODY, MARKER)
    text = str(exc.value)
    assert "ACL Exception Update Failed" in text
    assert "write on sn_cim_register.work_notes" in text
    assert len(rsps.calls) == 1


def test_patch_on_a_deleted_record_is_not_found(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.PATCH, RECORD_URL, status=404,
             json={"error": {"message": "No Record found", "detail": "Record doesn't exist or ACL restricts"},
                   "status": "failure"})
    with pytest.raises(NotFound):
        c.post(RECORD, BODY, MARKER)


# --------------------------------------------------------------------------- bot_comments


def test_bot_comments_reads_the_journal_by_marker(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, JOURNAL_URL, json=load("journal_entries.json"))
    found = c.bot_comments(RECORD)
    assert [b.marker for b in found] == ["csi-coach:0123456789abcdef", "csi-coach:fedcba9876543210"]
    assert found[0].ref == CommentRef("snow", SYS_ID, "a1b2c3d4e5f60718293a4b5c6d7e8f90")
    assert found[0].created == datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    assert not found[0].editable
    q = params_of(rsps.calls[0].request.url)
    assert q["sysparm_fields"] == "sys_id,value,sys_created_on"
    assert "sysparm_display_value" not in q  # raw values: sys_created_on in UTC


def test_bot_comments_pages_past_one_hundred(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    first = page([{"sys_id": f"{i:032x}", "value": f"n {i} csi-coach:{i:016x}", "sys_created_on": "2026-03-02 08:00:00"}
                  for i in range(100)])
    rsps.add(responses.GET, JOURNAL_URL, json=first)
    rsps.add(responses.GET, JOURNAL_URL, json=journal_with("last csi-coach:abcdefabcdefabcd"))
    assert len(c.bot_comments(RECORD)) == 101
    assert params_of(rsps.calls[1].request.url)["sysparm_offset"] == "100"


def test_entries_quoting_only_the_prefix_are_ignored(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, JOURNAL_URL, json=journal_with("see csi-coach: docs"))
    assert c.bot_comments(RECORD) == []


def test_transient_journal_read_failure_is_transient(rsps, monkeypatch):
    from connectors.transport import RetryPolicy

    c, _ = connector(monkeypatch, policy=RetryPolicy(attempts=2))
    rsps.add(responses.GET, JOURNAL_URL, status=502)
    rsps.add(responses.GET, JOURNAL_URL, status=502)
    with pytest.raises(TransientError):
        c.bot_comments(RECORD)


def test_instance_url_with_trailing_slash(rsps, monkeypatch):
    c, _ = connector(monkeypatch, url=INSTANCE + "/")
    rsps.add(responses.PATCH, RECORD_URL, json=load("patch_response.json"))
    c.post(RECORD, BODY, MARKER)
