"""state.StateStore: migrations, the ledger's pending -> posted life, watermarks, records."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from csi_coach.errors import StateError
from csi_coach.scan import state
from csi_coach.scan.state import MIGRATIONS, RecordUpdate, StateStore

T = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def test_fresh_file_is_migrated_to_the_latest_schema(tmp_path):
    path = tmp_path / "sub" / "s.sqlite"
    with StateStore(path) as s:
        assert s.schema_version() == len(MIGRATIONS)
        mode = s._query("PRAGMA journal_mode")[0][0]
    assert mode == "wal"
    assert path.exists()


def test_old_file_is_brought_forward_and_keeps_its_rows(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    monkeypatch.setattr(state, "MIGRATIONS", MIGRATIONS[:1])
    with StateStore(path) as s:
        assert s.schema_version() == 1
        s.set_watermark("snow", T, "fp")
    monkeypatch.setattr(state, "MIGRATIONS", MIGRATIONS)
    with StateStore(path) as s:
        assert s.schema_version() == len(MIGRATIONS)
        assert s.watermark("snow").watermark == T
        names = {r[0] for r in s._query("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "scans_status" in names


def test_newer_file_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    StateStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(StateError, match="newer"):
        StateStore(path)


def test_ledger_pending_then_posted(tmp_path):
    with StateStore(tmp_path / "s.sqlite") as s:
        row = s.ledger_begin("snow", "k1", "abcd", "csi-coach:abcd", "post")
        assert [r.id for r in s.pending("snow")] == [row]
        s.ledger_posted(row, "j1")
        assert s.pending("snow") == []
        (entry,) = s.ledger_for("snow", "k1")
        assert (entry.state, entry.comment_id, entry.kind) == ("posted", "j1", "post")


def test_pending_row_survives_a_reopen(tmp_path):
    path = tmp_path / "s.sqlite"
    s = StateStore(path)
    s.ledger_begin("snow", "k1", "abcd", "csi-coach:abcd", "update", previous_id="j0")
    # no close: as if killed
    with StateStore(path) as again:
        (row,) = again.pending("snow")
        assert row.previous_id == "j0"


def test_discard_only_removes_pending_rows(tmp_path):
    with StateStore(tmp_path / "s.sqlite") as s:
        a = s.ledger_begin("snow", "k1", "d1", "m1", "post")
        s.ledger_posted(a, "c1")
        s.ledger_discard(a)
        b = s.ledger_begin("snow", "k1", "d2", "m2", "post")
        s.ledger_discard(b)
        assert [r.id for r in s.ledger_for("snow", "k1")] == [a]


def test_bad_kind_is_refused(tmp_path):
    with StateStore(tmp_path / "s.sqlite") as s, pytest.raises(ValueError):
        s.ledger_begin("snow", "k1", "d", "m", "delete")


def test_watermark_and_baseline(tmp_path):
    with StateStore(tmp_path / "s.sqlite") as s:
        assert s.watermark("jira").watermark is None
        s.set_watermark("jira", T, "fp1")
        assert not s.watermark("jira").baseline
        s.set_watermark("jira", T + timedelta(hours=1), "fp1", baseline=True)
        s.set_watermark("jira", T + timedelta(hours=2), "fp2")
        wm = s.watermark("jira")
        assert wm.watermark == T + timedelta(hours=2)
        assert wm.fingerprint == "fp2"
        assert wm.baseline  # once complete, stays complete


def test_remember_counts_failures_and_resets_on_success(tmp_path):
    with StateStore(tmp_path / "s.sqlite") as s:
        ok = RecordUpdate("snow", "k1", "CIM1", "d1", "no_goal", T, T)
        bad = RecordUpdate("snow", "k1", "CIM1", "", "", None, T, error="HTTP 500")
        s.remember([ok])
        s.remember([bad])
        s.remember([bad])
        r = s.record("snow", "k1")
        assert (r.failures, r.last_error, r.digest) == (2, "HTTP 500", "d1")
        assert [f.key for f in s.failing_records("snow")] == ["k1"]
        s.remember([ok])
        assert s.record("snow", "k1").failures == 0
        assert s.category_counts("snow") == {"no_goal": 1}


def test_scans_and_last_successful(tmp_path):
    with StateStore(tmp_path / "s.sqlite") as s:
        a = s.begin_scan(["snow"], "v1", now=T)
        s.end_scan(a, "ok", {"records": 3}, now=T + timedelta(minutes=1))
        b = s.begin_scan(["snow"], "v1", now=T + timedelta(days=1))
        s.end_scan(b, "failed", {"records": 0})
        last = s.last_successful_scan()
        assert last.id == a and last.counts == {"records": 3} and last.sources == ("snow",)
        assert [x.status for x in s.scans()] == ["failed", "ok"]


def test_readonly_store_never_creates_or_writes(tmp_path):
    missing = tmp_path / "none" / "s.sqlite"
    s = StateStore.open_readonly_or_empty(missing)
    s.close()
    assert not missing.parent.exists()
    path = tmp_path / "s.sqlite"
    with StateStore(path) as w:
        w.set_watermark("snow", T, "fp")
    before = sorted(p.name for p in tmp_path.iterdir())
    with StateStore.open_readonly_or_empty(path) as r:
        assert r.watermark("snow").watermark == T
        with pytest.raises(StateError):
            r.ledger_begin("snow", "k", "d", "m", "post")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_many_threads_write_the_ledger(tmp_path):
    with StateStore(tmp_path / "s.sqlite") as s:
        def work(n):
            for i in range(25):
                row = s.ledger_begin("snow", f"k{n}-{i}", "d", "m", "post")
                s.ledger_posted(row, f"c{n}-{i}")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert s.ledger_counts() == {"post:posted": 200}


def test_known_since_is_the_last_finished_scan_or_the_newest_ledger_row(tmp_path):
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    with StateStore(tmp_path / "s.sqlite") as s:
        assert s.known_since("snow") is None  # a new file knows nothing
        done = s.begin_scan(["snow", "jira"], "v1", now=t0 - timedelta(minutes=5))
        s.end_scan(done, "ok", {}, now=t0)
        s.begin_scan(["snow"], "v1", now=t0 + timedelta(days=1))  # still running: not counted
        assert s.known_since("snow") == t0 and s.known_since("jira") == t0
        assert s.known_since("other") is None
        s.ledger_begin("snow", "k1", "d" * 16, "csi-coach:" + "d" * 16, "post", now=t0 + timedelta(hours=2))
        assert s.known_since("snow") == t0 + timedelta(hours=2)
        assert s.known_since("jira") == t0


def test_forget_drops_records_but_keeps_the_ledger(tmp_path):
    now = datetime(2026, 3, 1, tzinfo=UTC)
    with StateStore(tmp_path / "s.sqlite") as s:
        s.remember([RecordUpdate("snow", k, k, "", "", None, now, error="boom") for k in ("a", "b")])
        s.ledger_begin("snow", "a", "d" * 16, "csi-coach:" + "d" * 16, "post")
        s.forget("snow", ["a"])
        assert [r.key for r in s.failing_records("snow")] == ["b"]
        assert len(s.ledger_for("snow", "a")) == 1
