"""The ServiceNow sandbox's encoded-query parser, operator by operator (no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csi_coach.sandbox.servicenow.query import Condition, parse

ROWS = [
    {"n": "1", "name": "Payroll portal", "state": "2", "owner": "", "updated": "2026-03-01 08:00:00", "prio": "3"},
    {"n": "2", "name": "VPN access", "state": "5", "owner": "amelia", "updated": "2026-04-15 12:30:00", "prio": "10"},
    {"n": "3", "name": "payroll reports", "state": "8", "owner": "rahul", "updated": "2026-05-20 23:59:59", "prio": "1"},
    {"n": "4", "name": "Booking site", "state": "2", "owner": "amelia", "updated": "2026-05-21 00:00:00", "prio": "2"},
]
NOW = datetime(2026, 5, 22, 12, 0, 0, tzinfo=UTC)


def get(row, field):
    return row.get(field, "")


def numbers(query: str) -> list[str]:
    return [r["n"] for r in parse(query, NOW).apply(ROWS, get)]


@pytest.mark.parametrize("query, expected", [
    ("state=2", ["1", "4"]),
    ("state!=2", ["2", "3"]),
    ("prio>2", ["1", "2"]),            # numbers compare as numbers: 10 > 2
    ("prio>=3", ["1", "2"]),
    ("prio<2", ["3"]),
    ("prio<=2", ["3", "4"]),
    ("nameLIKEpayroll", ["1", "3"]),   # LIKE ignores case
    ("nameNOTLIKEpayroll", ["2", "4"]),
    ("nameSTARTSWITHpay", ["1", "3"]),
    ("nameENDSWITHsite", ["4"]),
    ("stateIN2,8", ["1", "3", "4"]),
    ("stateNOT IN2,8", ["2"]),
    ("ownerISEMPTY", ["1"]),
    ("ownerISNOTEMPTY", ["2", "3", "4"]),
    ("updatedBETWEEN2026-04-01 00:00:00@2026-05-20 23:59:59", ["2", "3"]),
    ("stateANYTHING", ["1", "2", "3", "4"]),
    ("", ["1", "2", "3", "4"]),
])
def test_each_operator(query, expected):
    assert numbers(query) == expected


def test_caret_is_and():
    assert numbers("state=2^owner=amelia") == ["4"]


def test_caret_or_joins_the_condition_before_it():
    # (state=8 OR owner=amelia) AND prio<5: row 2 has prio 10
    assert numbers("state=8^ORowner=amelia^prio<5") == ["3", "4"]


def test_nq_ors_whole_groups():
    assert numbers("state=2^owner=amelia^NQnameLIKEvpn") == ["2", "4"]


def test_orderby_and_orderbydesc():
    assert numbers("ORDERBYDESCupdated") == ["4", "3", "2", "1"]
    assert numbers("ORDERBYstate^ORDERBYDESCprio") == ["1", "4", "2", "3"]
    assert numbers("ORDERBYprio") == ["3", "4", "1", "2"]  # numeric order, not text order


def test_date_generate():
    q = "updated>=javascript:gs.dateGenerate('2026-05-20','23:59:59')"
    assert numbers(q) == ["3", "4"]
    assert numbers("updated<javascript:gs.dateGenerate('2026-04-15','12:30:00')") == ["1"]
    cond = parse("updated>javascript:gs.dateGenerate('2026-01-02','start')", NOW).groups[0][0][0]
    assert cond == Condition("updated", ">", "2026-01-02 00:00:00")


def test_relative_date_helpers_use_now():
    assert numbers("updated>=javascript:gs.daysAgoStart(1)") == ["4"]  # since 2026-05-21 00:00:00
    assert numbers("updated>javascript:gs.daysAgo(3)") == ["3", "4"]   # after 2026-05-19 12:00:00
    assert numbers("updated<javascript:gs.beginningOfToday()") == ["1", "2", "3", "4"]


def test_literal_caret_is_doubled():
    rows = [{"n": "1", "v": "a^b"}, {"n": "2", "v": "ab"}]
    assert [r["n"] for r in parse("vLIKEa^^b").apply(rows, get)] == ["1"]


def test_unreadable_terms_are_dropped_like_the_platform_does():
    q = parse("state=2^fooBAR^nameLIKEbook", NOW)
    assert q.ignored == ("fooBAR",)
    assert [r["n"] for r in q.apply(ROWS, get)] == ["4"]


def test_equals_is_exact_and_empty_never_compares():
    assert numbers("name=payroll portal") == []
    assert numbers("owner<zzz") == ["2", "3", "4"]  # empty owner does not match a comparison


def test_dot_walked_fields_go_through_the_getter():
    rows = [{"n": "1", "ref": "u1"}, {"n": "2", "ref": "u2"}]
    names = {"u1": "Amelia Hart", "u2": "Rahul Mehta"}

    def walk(row, field):
        if field == "ref.name":
            return names[row["ref"]]
        return row.get(field, "")

    assert [r["n"] for r in parse("ref.nameSTARTSWITHrahul").apply(rows, walk)] == ["2"]
