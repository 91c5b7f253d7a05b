"""Paging when read ACLs shorten ServiceNow pages: the platform removes denied rows after the query
and the limit, so a page holds fewer rows than sysparm_limit (even none) while more follow."""

from __future__ import annotations

import json
import math
import urllib.request

import pytest

from csi_coach.model import MARKER_PREFIX, Record
from csi_coach.sandbox.servicenow.server import ServiceNowSandbox
from support.servicenow_sandbox import ENV, open_for

TABLE = "sn_cim_register"
JOURNAL = "sys_journal_field"


@pytest.fixture(autouse=True)
def env(monkeypatch):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


def list_requests(snow, table: str) -> int:
    with urllib.request.urlopen(snow.url + "/_sandbox/stats") as resp:
        counts = json.load(resp)["requests"]
    return sum(n for route, n in counts.items() if route == "GET /api/now/table/{table}")


def ordered(snow, table: str, stamp: str) -> list[dict]:
    return sorted(snow.store.table(table).rows, key=lambda r: (r[stamp], r["sys_id"]))


def hide_pattern(rows: list[dict], stamp: str) -> set[str]:
    """Every third row, and a run of 12 rows in a row (a page of 10 wholly hidden)."""
    hidden = {r["sys_id"] for i, r in enumerate(rows) if i % 3 == 1}
    hidden |= {r["sys_id"] for r in rows[40:52]}
    return hidden


def test_fetch_reads_every_visible_record_once_when_acls_shorten_pages():
    hidden: set[str] = set()
    with ServiceNowSandbox(records=95, seed=8, hidden=lambda table, row: row["sys_id"] in hidden) as snow:
        hidden |= hide_pattern(ordered(snow, TABLE, "sys_updated_on"), "sys_updated_on")
        visible = {r["sys_id"] for r in snow.store.table(TABLE).rows} - hidden
        with open_for(snow, page_size=10) as c:
            got = [r.key for r in c.fetch(None) if isinstance(r, Record)]
        assert len(got) == len(set(got))  # no duplicates
        assert set(got) == visible
        # each restart begins after the last row read, so hidden rows behind it are windowed
        # again: a page or two more than ceil(95 / 10), never a page per hidden row
        assert math.ceil(95 / 10) <= list_requests(snow, TABLE) <= math.ceil(95 / 10) + 2


def test_fetch_with_nothing_hidden_is_one_request_per_page():
    with ServiceNowSandbox(records=95, seed=8) as snow:
        with open_for(snow, page_size=10) as c:
            assert len(list(c.fetch(None))) == 95
        assert list_requests(snow, TABLE) == math.ceil(95 / 10)


def test_fetch_of_a_page_wholly_hidden_at_the_end_still_stops():
    with ServiceNowSandbox(records=25, seed=9, hidden=lambda table, row: False) as snow:
        rows = ordered(snow, TABLE, "sys_updated_on")
        last = {r["sys_id"] for r in rows[20:]}
        snow.hidden = lambda table, row: row["sys_id"] in last
        with open_for(snow, page_size=10) as c:
            got = [r.key for r in c.fetch(None)]
        assert set(got) == {r["sys_id"] for r in rows[:20]} and len(got) == 20
        assert list_requests(snow, TABLE) == 3


def test_marked_keys_finds_every_visible_bot_entry_when_acls_shorten_pages():
    hidden: set[str] = set()
    with ServiceNowSandbox(records=70, seed=10, hidden=lambda table, row: row["sys_id"] in hidden) as snow:
        table = snow.store.table(TABLE)
        with open_for(snow, page_size=10) as c:
            field = c.settings.journal_field
            for row in list(table.rows)[:60]:
                snow.store.update(table, row["sys_id"], {field: f"Coaching.\n\n{MARKER_PREFIX}ab12cd34"}, "csi-coach")
            entries = [r for r in ordered(snow, JOURNAL, "sys_created_on") if MARKER_PREFIX in r.get("value", "")]
            assert len(entries) == 60
            hidden |= hide_pattern(entries, "sys_created_on")
            expected = {r["element_id"] for r in entries if r["sys_id"] not in hidden}
            before = list_requests(snow, JOURNAL)
            assert c.marked_keys(None) == expected
            # each page restarts after its last visible entry, so hidden ones behind it are windowed
            # again: a page or two more than the 6 full windows and the empty one
            assert math.ceil(60 / 10) + 1 <= list_requests(snow, JOURNAL) - before <= math.ceil(60 / 10) + 3


# -- the response signals, without the sandbox ----------------------------------------------------

def test_link_relations_read_urls_with_unencoded_commas():
    from csi_coach.connectors.servicenow.connector import link_relations

    header = ('<https://x/api/now/table/t?sysparm_fields=a,b,c&sysparm_offset=0>;rel="first",'
              '<https://x/api/now/table/t?sysparm_fields=a,b,c&sysparm_offset=500>;rel="next"')
    assert link_relations(header) == {"first", "next"}


def test_a_short_page_without_paging_headers_is_followed_by_one_counted_request(monkeypatch):
    import responses as rs

    from support.servicenow import TABLE_URL, connector, page, params_of, record_item

    with rs.RequestsMock() as rsps:
        c, _ = connector(monkeypatch, page_size=3)
        rsps.add(rs.GET, TABLE_URL, json=page([record_item(1, "2026-03-01 10:00:01")]))  # 2 of 3 hidden?
        rsps.add(rs.GET, TABLE_URL, json=page([record_item(2, "2026-03-01 10:00:05")]),
                 headers={"X-Total-Count": "3"})  # after record 1: record 2 and two hidden
        got = [r.key for r in c.fetch(None)]
        assert got == [f"{1:032x}", f"{2:032x}"]
        first, second = (params_of(call.request.url) for call in rsps.calls)
        assert first["sysparm_no_count"] == "true" and "sysparm_no_count" not in second
        # restarted after the row read, counted this time
        assert second["sysparm_offset"] == "0" and f"^ORsys_id>{1:032x}^" in second["sysparm_query"]
