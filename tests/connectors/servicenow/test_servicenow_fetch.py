"""ServiceNowConnector.fetch: query string, paging, field mapping, display values."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
import responses

from csi_coach.config import SERVICENOW_FIELDS
from csi_coach.connectors import open_connector
from csi_coach.connectors.base import Connector
from csi_coach.connectors.servicenow.connector import ServiceNowConnector, build_query, parse_sn_time, sn_time
from csi_coach.connectors.transport import Limiters
from csi_coach.errors import ConfigError, NotFound
from csi_coach.model import BrokenRecord, Record
from support.servicenow import (
    INSTANCE,
    LAST,
    TABLE_URL,
    connector,
    load,
    matches_query,
    page,
    params_of,
    record_item,
    settings,
)


def stamps(n: int, start: str = "2026-03-01 10:00:00") -> list[str]:
    t0 = datetime.strptime(start, "%Y-%m-%d %H:%M:%S")
    return [(t0 + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(n)]


# --------------------------------------------------------------------------- query


def test_incremental_query_string_is_exact(rsps, monkeypatch):
    c, _ = connector(monkeypatch, query="active=true^stateNOT IN3,7")
    rsps.add(responses.GET, TABLE_URL, json=page([]))
    since = datetime(2026, 3, 1, 11, 30, 5, tzinfo=timezone(timedelta(hours=1)))  # 10:30:05 UTC
    assert list(c.fetch(since)) == []
    p = params_of(rsps.calls[0].request.url)
    assert p == {
        "sysparm_query": "active=true^stateNOT IN3,7^sys_updated_on>=2026-03-01 10:30:05"
        "^sys_updated_on<=2026-03-02 00:00:00^ORDERBYsys_updated_on^ORDERBYsys_id",
        "sysparm_fields": "sys_id,number,short_description,description,benefit,business_service,"
        "assigned_to,state,sys_updated_on",
        "sysparm_display_value": "all",
        "sysparm_exclude_reference_link": "true",
        "sysparm_no_count": "true",
        "sysparm_limit": "500",
        "sysparm_offset": "0",
    }


def test_full_scan_has_no_watermark_only_the_listings_upper_bound(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, TABLE_URL, json=page([]))
    list(c.fetch(None))
    assert params_of(rsps.calls[0].request.url)["sysparm_query"] == (
        "sys_updated_on<=2026-03-02 00:00:00^ORDERBYsys_updated_on^ORDERBYsys_id")


def test_the_upper_bound_is_the_clock_when_the_listing_starts(rsps, monkeypatch):
    moments = iter([datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC), datetime(2026, 3, 1, 9, 5, 0, tzinfo=UTC)])
    c, _ = connector(monkeypatch, page_size=1, now=lambda: next(moments))
    rsps.add(responses.GET, TABLE_URL, json=page([record_item(0, "2026-03-01 08:00:00")]))
    rsps.add(responses.GET, TABLE_URL, json=page([]), headers=LAST)
    list(c.fetch(None))
    queries = [params_of(call.request.url)["sysparm_query"] for call in rsps.calls]
    assert len(queries) == 2 and all("sys_updated_on<=2026-03-01 09:00:00^ORDERBY" in q for q in queries)


def test_watermark_is_added_to_every_or_part():
    q = build_query("active=true^NQstate=3", "sys_updated_on", "2026-01-01 00:00:00")
    assert q == ("active=true^sys_updated_on>=2026-01-01 00:00:00^NQstate=3^sys_updated_on>=2026-01-01 00:00:00"
                 "^ORDERBYsys_updated_on^ORDERBYsys_id")


def test_the_keyset_and_the_upper_bound_go_into_every_or_part():
    q = build_query("active=true^NQstate=3", "sys_updated_on", "2026-01-01 00:00:00",
                    until="2026-01-02 00:00:00", after=("2026-01-01 10:00:00", "abc"))
    window = ("sys_updated_on>=2026-01-01 10:00:00^sys_updated_on>2026-01-01 10:00:00^ORsys_id>abc"
              "^sys_updated_on<=2026-01-02 00:00:00")
    assert q == f"active=true^{window}^NQstate=3^{window}^ORDERBYsys_updated_on^ORDERBYsys_id"


def test_naive_and_aware_times_are_sent_as_utc():
    assert sn_time(datetime(2026, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=-7)))) == "2026-07-01 19:00:00"
    assert sn_time(datetime(2026, 7, 1, 12, 0)) == "2026-07-01 12:00:00"
    assert parse_sn_time("2026-07-01 19:00:00") == datetime(2026, 7, 1, 19, 0, tzinfo=UTC)
    assert parse_sn_time("07/01/2026 19:00") is None


# --------------------------------------------------------------------------- paging


def test_paging_across_three_pages_requests_pages_only(rsps, monkeypatch):
    c, _ = connector(monkeypatch, page_size=2)
    times = stamps(5)
    items = [record_item(i, t) for i, t in enumerate(times)]
    rsps.add(responses.GET, TABLE_URL, json=page(items[0:2]))
    rsps.add(responses.GET, TABLE_URL, json=page(items[2:4]))
    rsps.add(responses.GET, TABLE_URL, json=page(items[4:5]), headers=LAST)
    got = list(c.fetch(None))
    assert [r.number for r in got] == [f"CIM{i:07d}" for i in range(5)]
    assert len(rsps.calls) == 3  # the minimum: one request per page, nothing else
    queries = [params_of(call.request.url) for call in rsps.calls]
    # each page asks for the keys after the last row read, from offset 0
    assert queries[1]["sysparm_query"].startswith(
        f"sys_updated_on>={times[1]}^sys_updated_on>{times[1]}^ORsys_id>{1:032x}^")
    assert queries[2]["sysparm_query"].startswith(
        f"sys_updated_on>={times[3]}^sys_updated_on>{times[3]}^ORsys_id>{3:032x}^")
    assert all(q["sysparm_offset"] == "0" for q in queries)
    assert all(q["sysparm_limit"] == "2" for q in queries)


def test_exact_multiple_of_page_size_ends_on_an_empty_page(rsps, monkeypatch):
    c, _ = connector(monkeypatch, page_size=2)
    items = [record_item(i, t) for i, t in enumerate(stamps(4))]
    rsps.add(responses.GET, TABLE_URL, json=page(items[0:2]))
    rsps.add(responses.GET, TABLE_URL, json=page(items[2:4]))
    rsps.add(responses.GET, TABLE_URL, json=page([]), headers=LAST)
    assert len(list(c.fetch(None))) == 4
    assert len(rsps.calls) == 3


def test_a_page_sharing_one_second_goes_on_by_sys_id(rsps, monkeypatch):
    c, _ = connector(monkeypatch, page_size=2)
    same = "2026-03-01 10:00:00"
    items = [record_item(0, same), record_item(1, same), record_item(2, same), record_item(3, "2026-03-01 10:00:01")]
    rsps.add(responses.GET, TABLE_URL, json=page(items[0:2]))
    rsps.add(responses.GET, TABLE_URL, json=page(items[2:4]))
    rsps.add(responses.GET, TABLE_URL, json=page([]))
    assert len(list(c.fetch(None))) == 4
    q = [params_of(call.request.url) for call in rsps.calls]
    assert q[1]["sysparm_query"].startswith(f"sys_updated_on>={same}^sys_updated_on>{same}^ORsys_id>{1:032x}^")
    assert q[2]["sysparm_query"].startswith(
        f"sys_updated_on>=2026-03-01 10:00:01^sys_updated_on>2026-03-01 10:00:01^ORsys_id>{3:032x}^")
    assert [x["sysparm_offset"] for x in q[:3]] == ["0", "0", "0"]


class MiniTable:
    """Enough of the Table API to page: an encoded query of comparisons on sys_updated_on and
    sys_id (with ^OR), the order, offset, limit; rows change between pages through ``on_page``."""

    def __init__(self, items):
        self.items = items
        self.served = 0
        self.on_page = None  # called after each page is served, to change data mid-scan

    def __call__(self, request):
        p = params_of(request.url)
        rows = [i for i in self.items if matches_query(i, p["sysparm_query"])]
        rows.sort(key=lambda i: (i["sys_updated_on"]["value"], i["sys_id"]["value"]))
        off, lim = int(p["sysparm_offset"]), int(p["sysparm_limit"])
        out = rows[off:off + lim]
        self.served += 1
        import json

        body = json.dumps(page(out))
        if self.on_page:
            self.on_page(self.served, out)
        return (200, {}, body)


def moved(item, value: str) -> None:
    item["sys_updated_on"] = {"display_value": "x", "value": value}


def test_a_record_updated_mid_scan_does_not_make_another_one_skipped(rsps, monkeypatch):
    c, _ = connector(monkeypatch, page_size=3)
    items = [record_item(i, t) for i, t in enumerate(stamps(9))]
    table = MiniTable(items)

    def touch_first(served, out):  # after page 1, someone edits record 0: it moves past the bound
        if served == 1:
            moved(items[0], "2026-03-02 00:00:05")

    table.on_page = touch_first
    rsps.add_callback(responses.GET, TABLE_URL, callback=table)
    seen = [r.number for r in c.fetch(None)]
    assert sorted(seen) == [f"CIM{i:07d}" for i in range(9)]  # plain offset paging would skip CIM0000003


@pytest.mark.parametrize("same_second", [False, True])
def test_writes_on_each_pages_last_rows_between_pages_skip_nothing(rsps, monkeypatch, same_second):
    """The hole of issue 10: the bot comments on a page's last rows before the next page is asked
    for; their sys_updated_on moves to now. ``>= last second`` plus an offset counting the rows
    read at that second then skipped the true first row of the next page."""
    c, _ = connector(monkeypatch, page_size=4)
    times = ["2026-03-01 10:00:00"] * 20 if same_second else [t for t in stamps(10) for _ in (0, 1)]
    items = [record_item(i, t) for i, t in enumerate(times)]
    table = MiniTable(items)
    written = iter(f"2026-03-02 00:00:{n:02d}" for n in range(1, 60))

    def write_on_tail(served, out):  # two workers finish the page's last two rows
        for item in out[-2:]:
            moved(item, next(written))

    table.on_page = write_on_tail
    rsps.add_callback(responses.GET, TABLE_URL, callback=table)
    seen = [r.number for r in c.fetch(None)]
    assert sorted(seen) == [f"CIM{i:07d}" for i in range(20)]


def test_a_row_without_a_date_is_read_and_the_keyset_continues_from_the_last_good_row(rsps, monkeypatch):
    c, _ = connector(monkeypatch, page_size=2)
    good = record_item(0, "2026-03-01 10:00:00")
    bad = record_item(1, "not a date")
    rsps.add(responses.GET, TABLE_URL, json=page([good, bad]))
    rsps.add(responses.GET, TABLE_URL, json=page([]), headers=LAST)
    got = list(c.fetch(None))
    assert isinstance(got[1], BrokenRecord) and len(got) == 2
    q = params_of(rsps.calls[1].request.url)
    assert q["sysparm_query"].startswith("sys_updated_on>=2026-03-01 10:00:00^sys_updated_on>2026-03-01 10:00:00"
                                         f"^ORsys_id>{0:032x}^")


# --------------------------------------------------------------------------- mapping


def test_field_mapping_and_display_values(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    item = load("cim_record.json")
    rsps.add(responses.GET, TABLE_URL, json=page([item]))
    [r] = list(c.fetch(None))
    assert isinstance(r, Record)
    assert r.source == "snow" and r.key == "9d385017c611228701d22104cc95c371"
    assert r.number == "CIM0001001"
    assert r.title == "Reduce incident backlog for Email"
    assert r.description == "The service desk wants fewer open incidents."
    assert r.goal == "MTTR down by 20% and first call resolution up to 75%."
    assert r.service == "Email"  # display value of the reference, not its sys_id
    assert r.owner == "Beth Anglin"
    assert r.state == "Work in Progress"  # the choice label
    # value (UTC), not display_value (the API user's time zone, 8 hours off here)
    assert r.updated == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert r.container == "sn_cim_register"
    assert r.url == f"{INSTANCE}/nav_to.do?uri=sn_cim_register.do?sys_id=9d385017c611228701d22104cc95c371"
    assert r.raw == item


def test_several_goal_fields_are_joined_with_blank_lines(rsps, monkeypatch):
    fields = replace(SERVICENOW_FIELDS, goal=("benefit", "u_value_goal", "u_empty"))
    c, _ = connector(monkeypatch, fields=fields)
    item = record_item(1, "2026-03-01 10:00:00", u_value_goal="Shops sell 5% more at peak.", u_empty="")
    rsps.add(responses.GET, TABLE_URL, json=page([item]))
    [r] = list(c.fetch(None))
    assert r.goal == "MTTR down by 20% and first call resolution up to 75%.\n\nShops sell 5% more at peak."
    assert "u_value_goal" in params_of(rsps.calls[0].request.url)["sysparm_fields"].split(",")


def test_labels_field_is_split_on_commas(rsps, monkeypatch):
    c, _ = connector(monkeypatch, fields=replace(SERVICENOW_FIELDS, labels="u_tags"))
    rsps.add(responses.GET, TABLE_URL, json=page([record_item(1, "2026-03-01 10:00:00", u_tags="csi-coach-skip, q3")]))
    [r] = list(c.fetch(None))
    assert r.labels == ("csi-coach-skip", "q3")


def test_empty_reference_gives_empty_text(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    item = record_item(1, "2026-03-01 10:00:00")
    item["assigned_to"] = {"display_value": "", "value": ""}
    item["business_service"] = {"display_value": None, "value": None}
    rsps.add(responses.GET, TABLE_URL, json=page([item]))
    [r] = list(c.fetch(None))
    assert (r.owner, r.service) == ("", "")


def test_unmappable_items_become_broken_records_and_the_scan_goes_on(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    bad_time = record_item(2, "2026-03-01 10:00:01")
    bad_time["sys_updated_on"] = {"display_value": "soon", "value": "soon"}
    no_id = record_item(3, "2026-03-01 10:00:02")
    del no_id["sys_id"]
    good = record_item(4, "2026-03-01 10:00:03")
    rsps.add(responses.GET, TABLE_URL, json=page([bad_time, no_id, "junk", good]), headers=LAST)
    got = list(c.fetch(None))
    assert [type(x) for x in got] == [BrokenRecord, BrokenRecord, BrokenRecord, Record]
    assert got[0].key == f"{2:032x}" and "sys_updated_on" in got[0].reason
    assert got[1].number == "CIM0000003" and "sys_id" in got[1].reason
    assert got[3].number == "CIM0000004"


def test_missing_mapped_field_is_warned_about(rsps, monkeypatch):
    # A goal field no record carries fails the fetch (tests/connectors/test_mapping_*.py);
    # any other mapped field is a warning the scan puts in its summary and report.
    c, _ = connector(monkeypatch, fields=replace(SERVICENOW_FIELDS, service="u_servce"))
    rsps.add(responses.GET, TABLE_URL, json=page([record_item(1, "2026-03-01 10:00:00")]))
    assert len(list(c.fetch(None))) == 1
    warnings = c.mapping_warnings()
    assert len(warnings) == 1 and warnings[0].startswith("[sources.snow.fields.service] 'u_servce' is on none")


def test_fetch_streams_one_page_at_a_time(rsps, monkeypatch):
    c, _ = connector(monkeypatch, page_size=2)
    items = [record_item(i, t) for i, t in enumerate(stamps(3))]
    rsps.add(responses.GET, TABLE_URL, json=page(items[0:2]))
    rsps.add(responses.GET, TABLE_URL, json=page(items[2:]), headers=LAST)
    it = c.fetch(None)
    next(it)
    assert len(rsps.calls) == 1  # the second page is not read until needed
    list(it)
    assert len(rsps.calls) == 2


def test_old_release_404_no_record_found_is_an_empty_result(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, TABLE_URL, status=404, json=load("error_404_no_record.json"))
    assert list(c.fetch(None)) == []


def test_unknown_table_is_not_found_with_a_hint(rsps, monkeypatch):
    c, _ = connector(monkeypatch, table="sn_cim_registr")
    rsps.add(responses.GET, f"{INSTANCE}/api/now/table/sn_cim_registr", status=404, json=load("error_404_table.json"))
    with pytest.raises(NotFound) as exc:
        list(c.fetch(None))
    assert "Invalid table sn_cim_registr" in str(exc.value)
    assert "[sources.snow]" in str(exc.value)


# --------------------------------------------------------------------------- registry


def test_open_connector_builds_a_servicenow_connector(monkeypatch):
    monkeypatch.setenv("T_SN_USER", "u")
    monkeypatch.setenv("T_SN_PASSWORD", "p")
    c = open_connector(settings(), limiters=Limiters())
    assert isinstance(c, ServiceNowConnector) and isinstance(c, Connector)
    assert (c.target, c.can_edit, c.name) == ("servicenow", False, "snow")
    with c:
        pass


def test_missing_secret_is_a_config_error_naming_the_variable(monkeypatch):
    monkeypatch.delenv("T_SN_PASSWORD", raising=False)
    monkeypatch.setenv("T_SN_USER", "u")
    with pytest.raises(ConfigError) as exc:
        open_connector(settings(), limiters=Limiters())
    assert "T_SN_PASSWORD" in str(exc.value)
    assert "sources.snow.auth.password_env" in str(exc.value)
