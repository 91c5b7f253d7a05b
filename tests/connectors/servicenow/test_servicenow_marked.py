"""ServiceNowConnector.marked_keys: one journal query for the records carrying bot entries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests
import responses
from urllib3.exceptions import ProtocolError

from csi_coach.connectors.transport import RetryPolicy
from csi_coach.errors import AuthError, PermissionDenied, TransientError
from support.servicenow import JOURNAL_URL, LAST, connector, load, matches_query, page, params_of


def row(record: int, created: str, n: int = 0) -> dict:
    """A journal row as sysparm_fields=element_id,sys_created_on,sys_id returns it (no display values)."""
    return {"element_id": f"{record:032x}", "sys_created_on": created, "sys_id": f"{record * 100 + n:032x}"}


def key(record: int) -> str:
    return f"{record:032x}"


def test_query_string_is_exact_without_since(rsps, monkeypatch):
    c, _ = connector(monkeypatch, query="active=true")  # the admin's query does not apply to journal rows
    rsps.add(responses.GET, JOURNAL_URL, json=page([row(1, "2026-03-01 10:00:00")]), headers=LAST)
    assert c.marked_keys(None) == {key(1)}
    assert params_of(rsps.calls[0].request.url) == {
        "sysparm_query": "name=sn_cim_register^element=work_notes^valueLIKEcsi-coach:"
        "^ORDERBYsys_created_on^ORDERBYsys_id",
        "sysparm_fields": "element_id,sys_created_on,sys_id",
        "sysparm_exclude_reference_link": "true",
        "sysparm_no_count": "true",
        "sysparm_limit": "500",
        "sysparm_offset": "0",
    }
    assert len(rsps.calls) == 1


def test_since_is_sent_as_utc_on_sys_created_on(rsps, monkeypatch):
    c, _ = connector(monkeypatch, journal_field="comments", table="x_cim")
    rsps.add(responses.GET, JOURNAL_URL, json=page([]))
    since = datetime(2026, 3, 1, 11, 30, 5, tzinfo=timezone(timedelta(hours=1)))  # 10:30:05 UTC
    assert c.marked_keys(since) == set()
    assert params_of(rsps.calls[0].request.url)["sysparm_query"] == (
        "name=x_cim^element=comments^valueLIKEcsi-coach:^sys_created_on>=2026-03-01 10:30:05"
        "^ORDERBYsys_created_on^ORDERBYsys_id")


def test_three_pages_seek_by_created_and_collect_distinct_keys(rsps, monkeypatch):
    c, _ = connector(monkeypatch, page_size=2)
    rows = [row(1, "2026-03-01 10:00:00"), row(2, "2026-03-01 10:01:00"),
            row(1, "2026-03-01 10:02:00", 1), row(3, "2026-03-01 10:02:00"),
            row(4, "2026-03-01 10:05:00")]
    rsps.add(responses.GET, JOURNAL_URL, json=page(rows[0:2]))
    rsps.add(responses.GET, JOURNAL_URL, json=page(rows[2:4]))
    rsps.add(responses.GET, JOURNAL_URL, json=page(rows[4:5]), headers=LAST)
    assert c.marked_keys(None) == {key(1), key(2), key(3), key(4)}
    q = [params_of(call.request.url) for call in rsps.calls]
    assert len(q) == 3  # one request per page, nothing else
    base = "name=sn_cim_register^element=work_notes^valueLIKEcsi-coach:"
    assert (q[1]["sysparm_query"], q[1]["sysparm_offset"]) == (
        f"{base}^sys_created_on>=2026-03-01 10:01:00^sys_created_on>2026-03-01 10:01:00^ORsys_id>{rows[1]['sys_id']}"
        "^ORDERBYsys_created_on^ORDERBYsys_id", "0")
    # page 2 ended with two rows of one second: the next key is the last of them
    assert q[2]["sysparm_query"].startswith(
        f"{base}^sys_created_on>=2026-03-01 10:02:00^sys_created_on>2026-03-01 10:02:00^ORsys_id>{rows[3]['sys_id']}^")
    assert q[2]["sysparm_offset"] == "0"
    assert all(p["sysparm_limit"] == "2" for p in q)


def test_since_is_the_first_seek_and_later_pages_move_on(rsps, monkeypatch):
    c, _ = connector(monkeypatch, page_size=1)
    rsps.add(responses.GET, JOURNAL_URL, json=page([row(5, "2026-04-01 00:00:09")]))
    rsps.add(responses.GET, JOURNAL_URL, json=page([]), headers=LAST)
    assert c.marked_keys(datetime(2026, 4, 1, tzinfo=UTC)) == {key(5)}
    first, second = (params_of(call.request.url)["sysparm_query"] for call in rsps.calls)
    assert "^sys_created_on>=2026-04-01 00:00:00^" in first
    assert "^sys_created_on>=2026-04-01 00:00:09^" in second


def test_rows_without_element_id_and_non_objects_are_skipped(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, JOURNAL_URL, json=page([
        {"element_id": "", "sys_created_on": "2026-03-01 10:00:00", "sys_id": "a" * 32},
        "not a row",
        {"element_id": {"value": key(9), "display_value": "CIM0000009"}, "sys_created_on": "2026-03-01 10:00:01"},
    ]))
    assert c.marked_keys(None) == {key(9)}


def test_old_release_404_no_record_found_is_no_keys(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, JOURNAL_URL, status=404, json=load("error_404_no_record.json"))
    assert c.marked_keys(None) == set()


def test_403_is_permission_denied_naming_the_journal_acl(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, JOURNAL_URL, status=403, json=load("error_403.json"))
    with pytest.raises(PermissionDenied) as exc:
        c.marked_keys(None)
    assert "sys_journal_field" in str(exc.value)


def test_401_is_an_auth_error(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, JOURNAL_URL, status=401, json=load("error_401.json"))
    with pytest.raises(AuthError):
        c.marked_keys(None)


def test_server_errors_and_resets_are_transient(rsps, monkeypatch):
    c, _ = connector(monkeypatch, policy=RetryPolicy(attempts=2))
    rsps.add(responses.GET, JOURNAL_URL, status=502)
    rsps.add(responses.GET, JOURNAL_URL, status=502)
    with pytest.raises(TransientError):
        c.marked_keys(None)
    rsps.add(responses.GET, JOURNAL_URL,
             body=requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "x"))))
    rsps.add(responses.GET, JOURNAL_URL,
             body=requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "x"))))
    with pytest.raises(TransientError):
        c.marked_keys(None)


def test_a_body_that_is_not_a_result_list_is_transient(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, JOURNAL_URL, body="<html>maintenance</html>", status=200)
    with pytest.raises(TransientError):
        c.marked_keys(None)
    rsps.add(responses.GET, JOURNAL_URL, json={"result": {"oops": 1}})
    with pytest.raises(TransientError):
        c.marked_keys(None)


class MiniJournal:
    """Enough of sys_journal_field to page: comparisons on sys_created_on and sys_id, the order,
    offset, limit."""

    def __init__(self, rows):
        self.rows = rows
        self.on_page = None

    def __call__(self, request):
        p = params_of(request.url)
        rows = sorted((r for r in self.rows if matches_query(r, p["sysparm_query"])),
                      key=lambda r: (r["sys_created_on"], r["sys_id"]))
        off, lim = int(p["sysparm_offset"]), int(p["sysparm_limit"])
        out = rows[off:off + lim]
        if self.on_page:
            self.on_page()
        return (200, {}, json.dumps(page(out)))


def test_entries_written_while_paging_do_not_make_others_skipped(rsps, monkeypatch):
    c, _ = connector(monkeypatch, page_size=2)
    journal = MiniJournal([row(i, f"2026-03-01 10:0{i}:00") for i in range(1, 8)])

    def another_write():  # the bot (or a person) writes a new entry after each page
        journal.rows.append(row(50 + len(journal.rows), "2026-03-01 12:00:00"))

    journal.on_page = another_write
    rsps.add_callback(responses.GET, JOURNAL_URL, callback=journal)
    got = c.marked_keys(None)
    assert {key(i) for i in range(1, 8)} <= got
