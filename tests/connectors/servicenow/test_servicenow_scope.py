"""ServiceNowConnector.get_in_scope: one record by sys_id, only while the admin's query selects it."""

from __future__ import annotations

import pytest
import responses

from csi_coach.connectors.base import Connector
from csi_coach.connectors.servicenow.connector import scope_query
from csi_coach.model import Record
from csi_coach.sandbox.servicenow.server import ServiceNowSandbox
from support.servicenow import TABLE_URL, connector, page, params_of, record_item
from support.servicenow_sandbox import open_for

SYS_ID = f"{7:032x}"



def test_in_scope_is_one_request_with_the_sys_id_and_the_admin_query(rsps, monkeypatch):
    c, _ = connector(monkeypatch, query="active=true^stateIN1,2")
    item = record_item(7, "2026-03-01 10:00:00")
    rsps.add(responses.GET, TABLE_URL, json=page([item]))
    rsps.add(responses.GET, TABLE_URL, json=page([item]))
    got = c.get_in_scope(f" {SYS_ID} ")
    assert len(rsps.calls) == 1
    assert params_of(rsps.calls[0].request.url) == {
        "sysparm_query": f"sys_id={SYS_ID}^active=true^stateIN1,2",
        "sysparm_fields": ",".join(c.requested_fields()),
        "sysparm_display_value": "all",
        "sysparm_exclude_reference_link": "true",
        "sysparm_no_count": "true",
        "sysparm_limit": "1",
        "sysparm_offset": "0",
    }
    assert isinstance(got, Record) and got.key == SYS_ID
    assert list(c.fetch(None)) == [got]  # mapped exactly as fetch maps it


def test_out_of_scope_or_gone_is_none(rsps, monkeypatch):
    c, _ = connector(monkeypatch, query="active=true")
    rsps.add(responses.GET, TABLE_URL, json=page([]))  # current releases: an empty list
    rsps.add(responses.GET, TABLE_URL, status=404,  # older releases: 404 "No Record found"
             json={"error": {"message": "No Record found", "detail": "Records matching query not found"},
                   "status": "failure"})
    assert c.get_in_scope(SYS_ID) is None
    assert c.get_in_scope(SYS_ID) is None


@pytest.mark.parametrize("admin, expected", [
    ("", "sys_id=K"),
    ("active=true", "sys_id=K^active=true"),
    # ^OR binds only the conditions around it: the sys_id stays ANDed with the whole OR
    ("active=true^ORstate=3^priority=1", "sys_id=K^active=true^ORstate=3^priority=1"),
    # ^NQ starts a new query: each part gets the sys_id, or the second part would match any record
    ("active=true^NQstate=3^priority=1", "sys_id=K^active=true^NQsys_id=K^state=3^priority=1"),
    ("^active=true^NQ", "sys_id=K^active=true^NQsys_id=K"),
])
def test_scope_query_binds_the_sys_id_to_every_part(admin, expected):
    assert scope_query(admin, "sys_id=K") == expected


def test_an_nq_query_is_sent_with_the_sys_id_in_each_part(rsps, monkeypatch):
    c, _ = connector(monkeypatch, query="state=1^NQstate=2^ORstate=5")
    rsps.add(responses.GET, TABLE_URL, json=page([]))
    assert c.get_in_scope(SYS_ID) is None
    assert params_of(rsps.calls[0].request.url)["sysparm_query"] == \
        f"sys_id={SYS_ID}^state=1^NQsys_id={SYS_ID}^state=2^ORstate=5"


@pytest.mark.parametrize("key", ["", "  ", "abc^ORactive=true", "abc\nactive=true"])
def test_a_key_that_would_change_the_query_reads_nothing(rsps, monkeypatch, key):
    c, _ = connector(monkeypatch)
    assert c.get_in_scope(key) is None
    assert len(rsps.calls) == 0


def test_the_connector_interface_includes_get_in_scope(monkeypatch):
    c, _ = connector(monkeypatch)
    assert isinstance(c, Connector) and callable(c.get_in_scope)


# -- over HTTP, against the sandbox ---------------------------------------------------------------

@pytest.mark.parametrize("query", ["active=true", "state=1^NQstate=2^ORstate=5"])
def test_sandbox_in_scope_equals_fetch_and_out_of_scope_is_none(env, query):
    with ServiceNowSandbox(records=60, seed=4) as snow:
        table = snow.store.table("sn_cim_register")
        with open_for(snow, query=query, page_size=25) as c:
            fetched = {r.key: r for r in c.fetch(None)}
            outside = [row["sys_id"] for row in table.rows if row["sys_id"] not in fetched]
            assert fetched and outside  # the query splits the seeded records
            for key, record in list(fetched.items())[:5]:
                assert c.get_in_scope(key) == record
            for key in outside[:5]:
                assert c.get_in_scope(key) is None
                assert c.get(key) is not None  # get ignores the scope (explain --ticket)
            assert c.get_in_scope("0" * 32) is None  # gone


def test_sandbox_a_record_moved_out_of_scope_is_none(env):
    with ServiceNowSandbox(records=30, seed=5) as snow:
        table = snow.store.table("sn_cim_register")
        with open_for(snow, query="active=true") as c:
            key = next(r.key for r in c.fetch(None))
            assert isinstance(c.get_in_scope(key), Record)
            snow.store.update(table, key, {"active": "false", "state": "8"}, "admin")
            assert c.get_in_scope(key) is None
