"""The coaching effect on a small history worked out by hand (report/effect.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csi_coach.report.effect import NONE_LABEL, coaching_effect
from csi_coach.scan.state import HistoryRow, RecordRow, TrendRow

T0 = datetime(2024, 1, 1, 2, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def verdict(key, at, category, rules=(), *, opted_out=False):
    vg = {"value": True, "linked": True, "process_only": False, "no_goal": False}.get(category)
    return HistoryRow("snow", key, at, "verdict", category, vg, vg is False and not opted_out, opted_out, tuple(rules))


def coached(key, at, rules):
    return HistoryRow("snow", key, at, "coached", "no_goal", False, True, False, tuple(rules))


def record(key, service="", group=""):
    return RecordRow("snow", key, key.upper(), "", service, group, "", False, False, T0, 0)


HISTORY = [
    # A: coached at day 0, names a value goal at day 5
    verdict("a", day(0), "process_only", ["r1"]), coached("a", day(0), ["r1"]),
    # B: coached at day 0, fixed at day 20
    verdict("b", day(0), "no_goal", ["r2"]), coached("b", day(0), ["r2"]),
    # C: coached at day 0 on two rules, never fixed
    verdict("c", day(0), "no_goal", ["r1", "r2"]), coached("c", day(0), ["r1", "r2"]),
    # D: opted out, never coached, fixed at day 60
    verdict("d", day(0), "process_only", ["r1"], opted_out=True),
    # E: unsure, never coached, never fixed
    verdict("e", day(0), "unsure"),
    # F: a value goal from the start: in neither group
    verdict("f", day(0), "value"),
    # G: first judged at day 95 and coached then, five days before as_of: in no window yet
    verdict("g", day(95), "no_goal", ["r3"]), coached("g", day(95), ["r3"]),
    verdict("a", day(5), "value"), HistoryRow("snow", "a", day(5), "acknowledged", "value", True, False, False, ()),
    verdict("b", day(20), "linked"),
    verdict("d", day(60), "value"),
]
RECORDS = [record("a", "Payroll", "HR"), record("b", "Payroll"), record("c", "Email", "IT"), record("d", "Email"),
           record("e"), record("f"), record("g")]
AS_OF = day(100)


def windows(cohort):
    return [(w.days, w.fixed, w.eligible, w.share) for w in cohort.windows]


def test_overall_effect_worked_out_by_hand():
    e = coaching_effect(HISTORY, RECORDS, [], AS_OF).overall
    assert (e.coached.records, e.coached.fixed, e.coached.median_days_to_fix) == (4, 2, 12.5)
    # 7 days: A fixed; B and C waited long enough without; G is too new to count
    assert windows(e.coached) == [(7, 1, 3, pytest.approx(1 / 3)), (30, 2, 3, pytest.approx(2 / 3)),
                                  (90, 2, 3, pytest.approx(2 / 3))]
    assert (e.uncoached.records, e.uncoached.fixed, e.uncoached.median_days_to_fix) == (2, 1, 60.0)
    assert windows(e.uncoached) == [(7, 0, 2, 0.0), (30, 0, 2, 0.0), (90, 1, 2, 0.5)]


def test_courses_say_when_each_record_started_and_was_fixed():
    effect = coaching_effect(HISTORY, RECORDS, [], AS_OF)
    assert effect.course("snow", "f") is None
    a, g = effect.course("snow", "a"), effect.course("snow", "g")
    assert a is not None and (a.coached, a.started, a.fixed_at, a.days_to_fix, a.rules) == (True, day(0), day(5), 5.0, ("r1",))
    assert g is not None and (g.started, g.fixed_at, g.days_to_fix) == (day(95), None, None)


def test_by_rule_a_record_counts_under_each_of_its_rules():
    by_rule = {s.name: s.effect for s in coaching_effect(HISTORY, RECORDS, [], AS_OF).breakdown("rule").slices}
    assert set(by_rule) == {"r1", "r2", "r3", NONE_LABEL}
    r1 = by_rule["r1"]  # A (5 days) and C coached; D uncoached (60 days)
    assert (r1.coached.records, r1.coached.fixed, r1.coached.median_days_to_fix) == (2, 1, 5.0)
    assert (r1.uncoached.records, r1.uncoached.fixed, r1.uncoached.median_days_to_fix) == (1, 1, 60.0)
    r2 = by_rule["r2"]  # B (20 days) and C
    assert (r2.coached.records, r2.coached.fixed, r2.coached.median_days_to_fix) == (2, 1, 20.0)
    assert windows(r2.coached)[0] == (7, 0, 2, 0.0)
    assert by_rule[NONE_LABEL].uncoached.records == 1  # E: unsure, no rules


def test_by_service_and_group_and_source():
    effect = coaching_effect(HISTORY, RECORDS, [], AS_OF)
    service = {s.name: s.effect for s in effect.breakdown("service").slices}
    assert (service["Payroll"].coached.records, service["Payroll"].coached.fixed) == (2, 2)
    assert service["Payroll"].coached.median_days_to_fix == 12.5
    assert (service["Email"].coached.records, service["Email"].uncoached.records, service["Email"].uncoached.fixed) == (1, 1, 1)
    assert (service[NONE_LABEL].coached.records, service[NONE_LABEL].uncoached.records) == (1, 1)  # G; E
    group = {s.name: s.effect.coached.records for s in effect.breakdown("group").slices}
    assert group == {"HR": 1, "IT": 1, NONE_LABEL: 2}
    [source] = effect.breakdown("source").slices
    assert source.name == "snow" and source.effect == effect.overall
    # most coached records first, then most never coached, then by name: Email and (none) tie at 1 and 1
    assert [s.name for s in effect.breakdown("service").slices] == ["Payroll", NONE_LABEL, "Email"]


def test_trend_shares_per_scan_and_source():
    rows = [TrendRow(1, "snow", day(0), 10, 4, 5, 1, 2), TrendRow(1, "jira", day(0), 0, 0, 0, 0, 0),
            TrendRow(2, "snow", day(1), 8, 2, 6, 0, 1)]
    points = coaching_effect([], [], rows, AS_OF).trend
    assert [(p.scan_id, p.source, p.flagged_share, p.value_goal_share, p.unsure_share, p.opted_out_share) for p in points] == [
        (1, "snow", 0.4, 0.5, 0.1, 0.2), (1, "jira", None, None, None, None), (2, "snow", 0.25, 0.75, 0.0, 0.125)]


def test_a_comment_carried_over_from_an_old_state_file_takes_the_rules_of_the_verdict_then():
    rows = [verdict("x", day(0), "no_goal", ["r9"]), HistoryRow("snow", "x", day(1), "coached", "", False, True, False, ())]
    course = coaching_effect(rows, [], [], AS_OF).course("snow", "x")
    assert course is not None and course.rules == ("r9",) and course.started == day(1)
