"""The dispute rate per rule never passes 100%: a record coached before the release that
kept coached_rules can still be disputed, and counts as coached on the rule it disputed."""

from __future__ import annotations

from datetime import UTC, datetime

from csi_coach.scan import disputes as dispute_book
from csi_coach.scan.state import StateStore

T = datetime(2026, 3, 1, tzinfo=UTC)


def _dispute(key, rule):
    return dispute_book.Dispute("snow", key, key.upper(), rule, "wrong", "", f"r-{key}", T, T)


def test_records_disputed_but_not_in_coached_rules_count_as_coached(tmp_path):
    with StateStore(tmp_path / "s.sqlite") as store:
        dispute_book.note_coached(store, "snow", "k1", ["process-only"], now=T)
        dispute_book.note_coached(store, "snow", "k2", ["process-only", "no-consumer"], now=T)
        # k1 coached since the upgrade; k3 and k4 coached before it, then disputed
        dispute_book.record_disputes(store, [_dispute("k1", "process-only"), _dispute("k3", "process-only"),
                                             _dispute("k4", "no-goal"), _dispute("k5", "*")])
        rates = {r.rule: r for r in dispute_book.rate_by_rule(store)}

    assert (rates["process-only"].coached, rates["process-only"].disputed) == (3, 2)  # k1, k2, k3
    assert (rates["no-goal"].coached, rates["no-goal"].disputed, rates["no-goal"].rate) == (1, 1, 1.0)
    assert (rates["no-consumer"].coached, rates["no-consumer"].disputed) == (1, 0)
    assert rates["*"].rate is None  # a dispute of a comment that named no rule has no rule to rate
    assert all(r.rate is None or 0 <= r.rate <= 1 for r in rates.values())
