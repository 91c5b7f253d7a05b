"""The ServiceNow sandbox answers a seek query (``rest^field>=X^ORDERBYfield``) by bisecting
the ordered rows of ``rest``: every answer must equal a full filter-and-sort (no HTTP)."""

from __future__ import annotations

import random

import pytest

from csi_coach.sandbox.servicenow.data import CIM_TABLE, Store
from csi_coach.sandbox.servicenow.query import parse


def reference(store: Store, table, encoded: str) -> list[str]:
    q = parse(encoded, store.clock())
    return [r["sys_id"] for r in q.apply(list(table.rows), store.getter(table))]


def answer(store: Store, table, encoded: str) -> list[str]:
    return [r["sys_id"] for r in store.query(table, encoded)]


def floors(table) -> list[str]:
    stamps = sorted({r["sys_updated_on"] for r in table.rows})
    between = [s[:-1] + "5" for s in stamps[::7]]  # values no row holds
    return stamps[::3] + between + ["", "0000", "9999-12-31 23:59:59", stamps[0], stamps[-1]]


QUERIES = [
    "sys_updated_on>={x}^ORDERBYsys_updated_on^ORDERBYsys_id",
    "sys_updated_on>{x}^ORDERBYsys_updated_on^ORDERBYsys_id",
    "active=true^sys_updated_on>={x}^ORDERBYsys_updated_on^ORDERBYsys_id",
    "stateIN2,5^ORstate=8^sys_updated_on>={x}^ORDERBYsys_updated_on^ORDERBYsys_id",
    "sys_updated_on>={x}^active=true^ORDERBYsys_updated_on",
    # not seeks: answered the ordinary way
    "active=true^sys_updated_on>={x}^NQstate=8^sys_updated_on>={x}^ORDERBYsys_updated_on^ORDERBYsys_id",
    "sys_updated_on>={x}^ORDERBYDESCsys_updated_on",
    "sys_updated_on>={x}^ORDERBYnumber",
    "sys_updated_on<={x}^ORDERBYsys_updated_on",
]


@pytest.mark.parametrize("template", QUERIES)
def test_seek_answers_equal_a_full_pass(template):
    store = Store(records=300, seed=3)
    table = store.table(CIM_TABLE)
    for x in floors(table):
        encoded = template.format(x=x)
        assert answer(store, table, encoded) == reference(store, table, encoded), encoded


def test_answers_follow_writes_between_pages():
    store = Store(records=300, seed=5)
    table = store.table(CIM_TABLE)
    rng = random.Random(7)
    template = QUERIES[2]
    for x in floors(table)[:40]:
        row = table.rows[rng.randrange(len(table.rows))]
        store.update(table, row["sys_id"], {"state": rng.choice(["2", "8"]), "work_notes": "seen"}, "csi-coach")
        encoded = template.format(x=x)
        assert answer(store, table, encoded) == reference(store, table, encoded), encoded


@pytest.mark.parametrize("odd", ["2026-03-01 08:00:00x", "b", "12", "", "1e3", "NaN"])
def test_values_that_sort_unlike_text_fall_back_to_a_full_pass(odd):
    store = Store(records=120, seed=2)
    table = store.table(CIM_TABLE)
    for i in range(0, len(table.rows), 9):  # as an import or a script could leave them
        table.rows[i] = {**table.rows[i], "sys_updated_on": odd if i % 2 else odd.upper()}
    table.version += 1
    for x in floors(table) + ["1", "2", "100", "a", "C", "b"]:
        for template in QUERIES[:3]:
            encoded = template.format(x=x)
            assert answer(store, table, encoded) == reference(store, table, encoded), encoded
