"""The state's history (scan/state.py, migration 4): from an older file, only on change, kept history_days."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from csi_coach.scan.state import MIGRATIONS, RecordUpdate, StateStore

FIXTURE = Path(__file__).parent / "fixtures" / "state-schema3.sqlite"
T0 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


def _rows(path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_a_release_state_file_keeps_every_ledger_row_and_gains_history(tmp_path):
    path = tmp_path / "state.sqlite"
    shutil.copy(FIXTURE, path)
    assert _rows(path, "SELECT version FROM schema_version") == [(3,)]
    ledger_before = _rows(path, "SELECT * FROM ledger ORDER BY id")
    records_before = _rows(path, "SELECT source, key, category, flagged FROM records ORDER BY key")
    assert len(ledger_before) == 4
    with StateStore(path) as store:
        assert store.schema_version() == len(MIGRATIONS) >= 4
        history = store.history()
    assert _rows(path, "SELECT id, source, record_key, digest, marker, kind, state, comment_id, previous_id, created, "
                       "updated FROM ledger ORDER BY id") == ledger_before
    assert _rows(path, "SELECT source, key, category, flagged FROM records ORDER BY key") == records_before
    verdicts = {(h.key, h.category, h.value_goal) for h in history if h.event == "verdict"}
    # every judged record (k9 only ever failed), its value goal read from the category
    assert verdicts == {("k0", "process_only", False), ("k1", "no_goal", False), ("k2", "value", True),
                        ("k3", "linked", True), ("k4", "unsure", None)}
    comments = sorted((h.key, h.event, h.at) for h in history if h.event != "verdict")
    # the posted comments at their time; the one left pending is not a comment
    assert comments == [("k0", "coached", T0), ("k1", "coached", T0), ("k3", "acknowledged", T0)]


def _update(key, category, at, **kw):
    return RecordUpdate("snow", key, key.upper(), "d", category, at, at, content="c",
                        flagged=category in ("process_only", "no_goal"), **kw)


def test_a_history_row_only_when_the_verdict_changes_or_the_bot_writes(tmp_path):
    with StateStore(tmp_path / "s.sqlite") as store:
        store.remember([_update("a", "no_goal", T0, rules="r1"), _update("b", "value", T0)])
        assert store.history_count() == 2  # first judged
        for night in range(1, 6):  # unchanged, night after night
            store.remember([_update("a", "no_goal", T0 + timedelta(days=night), rules="r1"),
                            _update("b", "value", T0 + timedelta(days=night))])
        assert store.history_count() == 2
        store.remember([_update("a", "no_goal", T0 + timedelta(days=6), rules="r1", wrote="post")])
        store.remember([_update("a", "no_goal", T0 + timedelta(days=6), rules="r1")])  # read again after the write
        store.remember([_update("a", "value", T0 + timedelta(days=9), wrote="ack")])
        store.remember([_update("b", "value", T0 + timedelta(days=9), opted_out=True)])  # opted out: a change
        rows = [(h.key, h.event, h.category, h.at.day, h.rules) for h in store.history()]
    assert rows == [("a", "verdict", "no_goal", 1, ("r1",)), ("b", "verdict", "value", 1, ()),
                    ("a", "coached", "no_goal", 7, ("r1",)),
                    ("a", "verdict", "value", 10, ()), ("a", "acknowledged", "value", 10, ()),
                    ("b", "verdict", "value", 10, ())]


def test_a_failed_read_writes_no_history_and_keeps_the_category(tmp_path):
    with StateStore(tmp_path / "s.sqlite") as store:
        store.remember([_update("a", "no_goal", T0)])
        store.remember([RecordUpdate("snow", "a", "A", "", "", None, T0 + timedelta(days=1), error="boom")])
        store.remember([_update("a", "no_goal", T0 + timedelta(days=2))])
        assert store.history_count() == 1


def test_history_older_than_history_days_is_dropped_but_each_records_latest_verdict_stays(tmp_path):
    with StateStore(tmp_path / "s.sqlite", history_days=30) as store:
        scan = store.begin_scan(["snow"], "rs", now=T0)
        store.remember([_update("a", "no_goal", T0, wrote="post"), _update("b", "no_goal", T0)])
        store.remember([_update("a", "value", T0 + timedelta(days=10))])
        store.end_scan(scan, "ok", {}, now=T0 + timedelta(days=10))
        assert store.history_count() == 4 and len(store.trend()) == 1
        later = store.begin_scan(["snow"], "rs", now=T0 + timedelta(days=45))
        store.end_scan(later, "ok", {}, now=T0 + timedelta(days=45))
        kept = [(h.key, h.event, h.category) for h in store.history()]
        # older than 30 days: a's first verdict and its comment go; a's newest verdict (35 days
        # old) and b's only one stay, so each record's latest state is still known
        assert kept == [("b", "verdict", "no_goal"), ("a", "verdict", "value")]
        assert [t.scan_id for t in store.trend()] == [later]  # the point of day 10 is 35 days old
