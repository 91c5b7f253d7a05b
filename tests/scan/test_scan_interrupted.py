"""A scan killed with kill -9 stays ``running`` in the scans table; the next scan marks it
``interrupted`` (issue 10), and never touches a finished one."""

from __future__ import annotations

from datetime import UTC, datetime

from csi_coach.scan.state import StateStore


def test_the_next_scan_marks_a_scan_left_running_as_interrupted(tmp_path):
    path = tmp_path / "state.sqlite"
    with StateStore(path) as store:
        done = store.begin_scan(["snow"], "r1", now=datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
        store.end_scan(done, "ok", {}, now=datetime(2026, 3, 1, 1, 5, tzinfo=UTC))
        killed = store.begin_scan(["snow"], "r1", now=datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    # the process died here: no end_scan
    with StateStore(path) as store:
        assert {row.id: row.status for row in store.scans()} == {done: "ok", killed: "running"}
        now = store.begin_scan(["snow"], "r1", now=datetime(2026, 3, 3, 1, 0, tzinfo=UTC))
        rows = {row.id: row for row in store.scans()}
    assert rows[killed].status == "interrupted" and rows[killed].ended is not None
    assert rows[done].status == "ok" and rows[now].status == "running"
