"""watermark.Watermark: the watermark never passes a record that is not fully handled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csi_coach.scan.watermark import Watermark

T = datetime(2026, 2, 1, tzinfo=UTC)
OLD = T - timedelta(days=1)


def test_all_handled_moves_to_the_latest_seen():
    w = Watermark(since=None)
    for m in (1, 2, 3):
        w.seen(T + timedelta(minutes=m))
    assert w.value(OLD) == T + timedelta(minutes=3)


def test_an_open_write_holds_it_back_until_closed():
    w = Watermark(since=None)
    a = w.seen(T + timedelta(minutes=1))
    b = w.seen(T + timedelta(minutes=2))
    w.seen(T + timedelta(minutes=3))
    w.open(1, a)
    w.open(2, b)
    assert w.value(OLD) == a
    w.close(1)
    assert w.value(OLD) == b
    w.close(2)
    assert w.value(OLD) == T + timedelta(minutes=3)


def test_pins_hold_it_at_the_earliest_unhandled_record():
    w = Watermark(since=None)
    for m in (1, 2, 3, 4):
        w.seen(T + timedelta(minutes=m))
    w.pin(T + timedelta(minutes=3))
    w.pin(T + timedelta(minutes=2))
    assert w.value(OLD) == T + timedelta(minutes=2)


def test_a_record_without_a_time_takes_the_place_of_the_one_before():
    w = Watermark(since=None)
    w.seen(T + timedelta(minutes=1))
    position = w.seen(None)
    assert position == T + timedelta(minutes=1)
    w.pin(position)
    w.seen(T + timedelta(minutes=5))
    assert w.value(OLD) == T + timedelta(minutes=1)


def test_an_unplaceable_failure_keeps_the_old_watermark():
    w = Watermark(since=None)
    w.pin(w.seen(None))  # broken first record of a full scan
    w.seen(T)
    assert w.value(OLD) == OLD


def test_nothing_read_keeps_the_old_watermark():
    assert Watermark(since=T).value(OLD) == OLD
