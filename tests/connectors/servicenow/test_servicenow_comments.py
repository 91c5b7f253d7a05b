"""ServiceNowConnector comments: journal PATCH, finding the bot's entries, ambiguous writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests
import responses
from urllib3.exceptions import ProtocolError

from csi_coach.errors import AmbiguousWrite, NotFound, PermissionDenied, TransientError
from csi_coach.model import CommentRef, Record
from support.servicenow import (
    INSTANCE,
    JOURNAL_URL,
    LAST,
    TABLE_URL,
    USER,
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



def reset() -> requests.ConnectionError:
    return requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")))


def journal_with(*values: str) -> dict:
    return page([{"sys_id": f"{i:032x}", "value": v, "sys_created_on": f"2026-03-0{i + 1} 08:00:00",
                  "sys_created_by": USER} for i, v in enumerate(values)])


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


# A write whose outcome is unknown is never repeated by the connector: a slow instance
# may still commit it. AmbiguousWrite goes to the pipeline, which keeps its ledger row
# pending and settles it with bot_comments (marker, created time, known journal ids).

JOURNAL_QUERY = (f"element_id={SYS_ID}^name=sn_cim_register^element=work_notes"
                 "^valueLIKEcsi-coach:^ORDERBYsys_created_on^ORDERBYsys_id")


@pytest.mark.parametrize("status", [500, 502, 504])
def test_patch_5xx_after_sending_is_ambiguous_and_not_repeated(rsps, monkeypatch, status):
    from csi_coach.connectors.transport import RetryPolicy

    c, clock = connector(monkeypatch, policy=RetryPolicy(attempts=1))
    rsps.add(responses.PATCH, RECORD_URL, status=status)
    with pytest.raises(AmbiguousWrite) as exc:
        c.post(RECORD, BODY, MARKER)
    assert "snow" in str(exc.value) and "CIM0001001" in str(exc.value)
    assert [call.request.method for call in rsps.calls] == ["PATCH"]  # no journal look, no second write


@pytest.mark.parametrize("failure", [reset, lambda: requests.ReadTimeout("read timed out")])
def test_ambiguous_patch_raises_without_a_second_write(rsps, monkeypatch, failure):
    c, clock = connector(monkeypatch)
    rsps.add(responses.PATCH, RECORD_URL, body=failure())
    with pytest.raises(AmbiguousWrite) as exc:
        c.post(RECORD, BODY, MARKER)
    assert "snow" in str(exc.value)
    assert [call.request.method for call in rsps.calls] == ["PATCH"]
    assert clock.slept == []  # nothing waited for either: the caller decides when to look


def test_ambiguous_update_raises_without_a_second_write(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.PATCH, RECORD_URL, body=reset())
    with pytest.raises(AmbiguousWrite):
        c.update(CommentRef("snow", SYS_ID, "a1b2c3d4e5f60718293a4b5c6d7e8f90"), BODY, MARKER)
    assert [call.request.method for call in rsps.calls] == ["PATCH"]


class SlowInstance:
    """A stub instance that commits a PATCH only after the client gave up waiting.

    The PATCH callback records the entry as "committing" and times the client out
    (ServiceNow answering after the client's read timeout); the entry becomes
    visible in sys_journal_field once ``commit()`` is called, as on an instance
    that commits seconds later.
    """

    def __init__(self, earlier_entry: bool) -> None:
        self.patches: list[dict] = []
        self.committing: list[str] = []
        self.journal: list[dict] = []
        if earlier_entry:  # an earlier coaching on the same finding, a cooldown ago
            self.journal.append({"sys_id": "e" * 32, "value": f"old note\n\n{MARKER}",
                                 "sys_created_on": "2025-11-01 08:00:00", "sys_created_by": USER})

    def patch(self, request):
        body = json.loads(request.body)
        self.patches.append(body)
        self.committing.append(body["work_notes"])
        raise requests.ReadTimeout("read timed out (read timeout=3)")

    def commit(self) -> None:
        for value in self.committing:
            n = len(self.journal)
            self.journal.append({"sys_id": f"{n:032x}", "value": value, "sys_created_on": "2026-03-05 09:00:06",
                                 "sys_created_by": USER})
        self.committing.clear()

    def journal_page(self, request):
        return 200, {"Content-Type": "application/json", **LAST}, json.dumps(page(self.journal))


@pytest.mark.parametrize("earlier_entry", [False, True], ids=["first coaching", "re-coaching after cooldown"])
def test_slow_commit_gives_exactly_one_patch_and_one_entry(monkeypatch, earlier_entry):
    instance = SlowInstance(earlier_entry)
    c, clock = connector(monkeypatch)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.PATCH, RECORD_URL, callback=instance.patch)
        rsps.add_callback(responses.GET, JOURNAL_URL, callback=instance.journal_page)
        with pytest.raises(AmbiguousWrite):
            c.post(RECORD, BODY, MARKER)
        assert len(instance.patches) == 1  # the connector did not write again
        instance.commit()  # the instance commits after the client timed out
        # What the pipeline reads to settle the pending write: the new entry carries its
        # journal sys_id and creation time, and the old entry with the same marker is
        # told apart by both.
        found = c.bot_comments(RECORD)
        assert [call.request.method for call in rsps.calls] == ["PATCH", "GET"]
        assert params_of(rsps.calls[1].request.url)["sysparm_query"] == JOURNAL_QUERY
    assert len(instance.journal) == 1 + earlier_entry  # exactly one new entry
    new_id = f"{int(earlier_entry):032x}"
    new = [b for b in found if b.ref.comment_id == new_id]
    assert len(new) == 1 and new[0].marker == MARKER
    assert new[0].created == datetime(2026, 3, 5, 9, 0, 6, tzinfo=UTC)
    old = [b for b in found if b.ref.comment_id == "e" * 32]
    if earlier_entry:
        assert old[0].marker == MARKER and old[0].created == datetime(2025, 11, 1, 8, 0, tzinfo=UTC)
    assert len(found) == 1 + earlier_entry


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
    rsps.add(responses.GET, JOURNAL_URL, json=load("journal_entries.json"), headers=LAST)
    found = c.bot_comments(RECORD)
    assert len(rsps.calls) == 1  # the Link header says there is no next page
    assert [b.marker for b in found] == ["csi-coach:0123456789abcdef", "csi-coach:fedcba9876543210"]
    assert found[0].ref == CommentRef("snow", SYS_ID, "a1b2c3d4e5f60718293a4b5c6d7e8f90")
    assert found[0].created == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert not found[0].editable
    q = params_of(rsps.calls[0].request.url)
    assert q["sysparm_fields"] == "sys_id,value,sys_created_on,sys_created_by"
    assert "sysparm_display_value" not in q  # raw values: sys_created_on in UTC


def test_bot_comments_pages_past_one_hundred(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    first = page([{"sys_id": f"{i:032x}", "value": f"n {i} csi-coach:{i:016x}", "sys_created_on": "2026-03-02 08:00:00",
                   "sys_created_by": USER} for i in range(100)])
    rsps.add(responses.GET, JOURNAL_URL, json=first)
    rsps.add(responses.GET, JOURNAL_URL, json=journal_with("last csi-coach:abcdefabcdefabcd"), headers=LAST)
    assert len(c.bot_comments(RECORD)) == 101
    assert params_of(rsps.calls[1].request.url)["sysparm_offset"] == "100"


def test_bot_comments_go_on_past_a_page_shortened_by_acls(rsps, monkeypatch):
    # ServiceNow hides rows after the limit: a short page with rel="next" is not the last
    c, _ = connector(monkeypatch)
    nxt = {"Link": '<x?sysparm_offset=0>;rel="first",<x?sysparm_offset=100>;rel="next"'}
    rsps.add(responses.GET, JOURNAL_URL, json=journal_with("first csi-coach:0123456789abcdef"), headers=nxt)
    rsps.add(responses.GET, JOURNAL_URL, json=journal_with("second csi-coach:abcdefabcdefabcd"), headers=LAST)
    assert [b.marker for b in c.bot_comments(RECORD)] == ["csi-coach:0123456789abcdef", "csi-coach:abcdefabcdefabcd"]
    assert params_of(rsps.calls[1].request.url)["sysparm_offset"] == "100"


def test_entries_quoting_only_the_prefix_are_ignored(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, JOURNAL_URL, json=journal_with("see csi-coach: docs"))
    assert c.bot_comments(RECORD) == []


def test_transient_journal_read_failure_is_transient(rsps, monkeypatch):
    from csi_coach.connectors.transport import RetryPolicy

    c, _ = connector(monkeypatch, policy=RetryPolicy(attempts=2))
    rsps.add(responses.GET, JOURNAL_URL, status=502)
    rsps.add(responses.GET, JOURNAL_URL, status=502)
    with pytest.raises(TransientError):
        c.bot_comments(RECORD)


def test_instance_url_with_trailing_slash(rsps, monkeypatch):
    c, _ = connector(monkeypatch, url=INSTANCE + "/")
    rsps.add(responses.PATCH, RECORD_URL, json=load("patch_response.json"))
    c.post(RECORD, BODY, MARKER)
