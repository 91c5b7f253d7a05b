"""The sandbox's record generator: deterministic, varied, lazy, index-addressable."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest

from csi_coach.sandbox.seed import CATEGORIES, MAX_RECORDS, OPT_OUT_LABEL, STATES, SeedRecord, generate, record_at

ANCHOR = datetime(2026, 6, 1, tzinfo=UTC)


def test_same_seed_same_records_and_other_seed_differs():
    a = list(generate("servicenow", 50, 3, ANCHOR))
    b = list(generate("servicenow", 50, 3, ANCHOR))
    c = list(generate("servicenow", 50, 4, ANCHOR))
    assert a == b
    assert sum(x.title != y.title or x.goal != y.goal for x, y in zip(a, c)) > 25


def test_deterministic_across_processes():
    """str seeds must hash the same in a fresh interpreter (no PYTHONHASHSEED dependence)."""
    code = (
        "from datetime import datetime, timezone;"
        "from csi_coach.sandbox.seed import record_at;"
        "r = record_at('jira', 17, 5, datetime(2026, 6, 1, tzinfo=timezone.utc));"
        "print(r.title + '|' + r.goal + '|' + r.updated.isoformat())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123"}).stdout.strip()
    r = record_at("jira", 17, 5, ANCHOR)
    assert out == f"{r.title}|{r.goal}|{r.updated.isoformat()}"


def test_record_at_is_what_generate_yields_at_that_index():
    records = list(generate("jira", 30, 9, ANCHOR))
    for i in (0, 7, 29):
        assert record_at("jira", i, 9, ANCHOR) == records[i]
        assert records[i].index == i


def test_generate_is_lazy_and_bounded():
    gen = generate("servicenow", MAX_RECORDS, 1, ANCHOR)
    first = list(islice(gen, 3))  # a lazy generator does not build 100,000 records for this
    assert [r.index for r in first] == [0, 1, 2]
    with pytest.raises(ValueError):
        list(generate("servicenow", MAX_RECORDS + 1, 1, ANCHOR))


def test_numbers_per_system():
    assert record_at("servicenow", 0, 1, ANCHOR).number == "CIM0010001"
    assert record_at("jira", 41, 1, ANCHOR).number == "CSI-42"


def test_mix_of_categories_states_and_goal_placement():
    records = list(generate("servicenow", 2000, 11, ANCHOR))
    cats = Counter(r.intended for r in records)
    share = {c: cats[c] / len(records) for c in CATEGORIES}
    # roughly 35 / 30 / 15 / 20 per cent
    assert 0.30 < share["process_only"] < 0.40
    assert 0.25 < share["value"] < 0.35
    assert 0.11 < share["linked"] < 0.19
    assert 0.16 < share["no_goal"] < 0.24
    states = Counter(r.state for r in records)
    assert set(states) <= set(STATES)
    open_like = sum(n for s, n in states.items() if s not in ("Closed", "Cancelled"))
    assert open_like > 0.7 * len(records) and states["Closed"] > 0 and states["Cancelled"] > 0
    with_goal = [r for r in records if r.intended != "no_goal"]
    in_field = sum(bool(r.goal) for r in with_goal)
    assert 0.5 * len(with_goal) < in_field < 0.8 * len(with_goal)  # the rest is buried in the description
    buried = [r for r in with_goal if not r.goal]
    assert all(len(r.description) > 40 for r in buried)
    assert any(OPT_OUT_LABEL in r.labels for r in records)


def test_variety_of_services_owners_and_text():
    records = list(generate("jira", 1000, 2, ANCHOR))
    assert len({r.service for r in records}) >= 15
    assert len({r.owner for r in records}) >= 15
    assert len({r.title for r in records}) > 300
    assert len({r.goal for r in records if r.goal}) > 400


def test_updated_within_ninety_days_before_anchor_and_after_created():
    for r in generate("servicenow", 500, 5, ANCHOR):
        assert isinstance(r, SeedRecord)
        assert r.updated.tzinfo is not None
        assert ANCHOR - timedelta(days=90) <= r.updated <= ANCHOR
        assert r.created <= r.updated


def test_templates_fill_every_slot():
    for r in generate("servicenow", 1500, 8, ANCHOR):
        for text in (r.title, r.description, r.goal):
            assert "{" not in text and "}" not in text, text
