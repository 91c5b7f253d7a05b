"""ServiceNowConnector.get: one record by sys_id or number, in one request, mapped as fetch maps it."""

from __future__ import annotations

import pytest
import responses

from csi_coach.connectors.base import Connector, RecordLookup
from csi_coach.model import BrokenRecord, Record
from support.servicenow import LAST, TABLE_URL, connector, page, params_of, record_item


def test_get_by_number_is_one_request_with_the_fetch_fields(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    item = record_item(7, "2026-03-01 10:00:00")
    rsps.add(responses.GET, TABLE_URL, json=page([item]))
    record = c.get("CIM0000007")
    assert len(rsps.calls) == 1
    p = params_of(rsps.calls[0].request.url)
    assert p == {
        "sysparm_query": "sys_id=CIM0000007^ORnumber=CIM0000007",
        "sysparm_fields": ",".join(c.requested_fields()),
        "sysparm_display_value": "all",
        "sysparm_exclude_reference_link": "true",
        "sysparm_no_count": "true",
        "sysparm_limit": "1",
        "sysparm_offset": "0",
    }
    assert isinstance(record, Record) and record.number == "CIM0000007" and record.key == f"{7:032x}"


def test_get_maps_the_record_exactly_as_fetch_does(rsps, monkeypatch):
    c, _ = connector(monkeypatch, query="active=true")
    item = record_item(3, "2026-03-01 10:00:00", benefit="Branch staff open accounts in one visit")
    rsps.add(responses.GET, TABLE_URL, json=page([item]), headers=LAST)
    rsps.add(responses.GET, TABLE_URL, json=page([item]))
    fetched = list(c.fetch(None))
    got = c.get(f"{3:032x}")
    assert fetched == [got]
    # The admin's filter narrows scans, not a lookup of one named record.
    assert params_of(rsps.calls[1].request.url)["sysparm_query"] == f"sys_id={3:032x}^ORnumber={3:032x}"


def test_get_uses_the_mapped_number_field(rsps, monkeypatch):
    from dataclasses import replace

    from csi_coach.config import SERVICENOW_FIELDS

    c, _ = connector(monkeypatch, fields=replace(SERVICENOW_FIELDS, number="u_ref"))
    rsps.add(responses.GET, TABLE_URL, json=page([]))
    assert c.get("IMP-12") is None
    assert params_of(rsps.calls[0].request.url)["sysparm_query"] == "sys_id=IMP-12^ORu_ref=IMP-12"


def test_no_such_record_is_none(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, TABLE_URL, json=page([]))
    rsps.add(responses.GET, TABLE_URL, status=404,
             json={"error": {"message": "No Record found", "detail": "Records matching query not found"},
                   "status": "failure"})
    assert c.get("CIM0999999") is None  # current releases: an empty list
    assert c.get("CIM0999999") is None  # older releases: 404 "No Record found"


@pytest.mark.parametrize("key", ["", "  ", "CIM1^ORactive=true", "CIM1\nactive=true"])
def test_a_key_that_would_change_the_query_reads_nothing(rsps, monkeypatch, key):
    c, _ = connector(monkeypatch)
    assert c.get(key) is None
    assert len(rsps.calls) == 0


def test_an_unmappable_record_is_a_broken_record(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    item = record_item(5, "not a time")
    rsps.add(responses.GET, TABLE_URL, json=page([item]))
    got = c.get("CIM0000005")
    assert isinstance(got, BrokenRecord) and "sys_updated_on" in got.reason


def test_servicenow_meets_the_connector_interface_including_get(monkeypatch):
    c, _ = connector(monkeypatch)
    assert isinstance(c, Connector) and isinstance(c, RecordLookup)
    assert "get" in Connector.__dict__ and "display number" in Connector.get.__doc__
