"""The scan pipeline against an in-memory connector: exactly-once, faults, budget, lock."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, timedelta

import pytest

from csi_coach.errors import AmbiguousWrite, BadRequest, LockBusy, TransientError
from csi_coach.report import writer as report
from csi_coach.scan.locking import ScanLock
from csi_coach.scan.runner import OVERLAP, run_scan
from csi_coach.scan.state import StateStore
from support.scan_fake import FLAGGED, GOALS, FakeConnector, FakeRenderer, fake_evaluate, make_config, make_records, scan


def age_ledger(tmp_path, *, days):
    """Move every ledger row back in time, as if the bot wrote them ``days`` ago."""
    from datetime import datetime

    from csi_coach.scan import state

    old = state._ts(datetime.now(UTC) - timedelta(days=days))
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        s._exec("UPDATE ledger SET created = ?", (old,))


def one_comment_each(fake, keys):
    return {k: len(fake.comments.get(k, [])) for k in keys}


def test_first_scan_coaches_exactly_the_flagged_records_and_a_rescan_writes_nothing(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    first = scan(cfg, {"snow": fake})
    assert first.exit_code == 0
    assert {k for _, k, _ in fake.ops} == FLAGGED
    assert len(fake.ops) == len(FLAGGED)
    s = first.summary()
    assert (s["records"], s["flagged"], s["written"], s["failed"], s["deferred"]) == (6, 4, 4, 0, 0)
    assert s["sources"]["snow"]["categories"] == {"no_goal": 1, "process_only": 3, "value": 2}

    second = scan(cfg, {"snow": fake})
    assert len(fake.ops) == len(FLAGGED)
    assert second.summary()["written"] == 0
    # incremental: read from the watermark minus the overlap window
    latest = max(r.updated for r in fake.records.values())
    assert fake.fetched_since == latest - OVERLAP
    assert second.sources[0].full is False


def test_changed_rules_or_templates_trigger_a_full_scan(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(cfg, {"snow": fake})
    result = scan(cfg, {"snow": fake}, fingerprint="fp2")
    assert fake.fetched_since is None and result.sources[0].full
    assert result.summary()["records"] == 6 and result.summary()["written"] == 0
    scan(cfg, {"snow": fake}, fingerprint="fp2", full=True)
    assert fake.fetched_since is None


def test_dry_run_writes_nothing_anywhere(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    shown = []
    result = scan(cfg, {"snow": fake}, dry_run=True, on_dry_write=shown.append)
    assert fake.ops == [] and fake.comments == {}
    assert not (tmp_path / "state").exists()
    assert result.summary()["written"] == 4 and result.dry_run
    assert sorted(t.record.key for t in shown) == sorted(FLAGGED)
    assert all("csi-coach:" in t.body for t in shown)


def test_dry_run_after_a_real_scan_reads_state_but_changes_nothing(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(cfg, {"snow": fake})
    state_dir = tmp_path / "state"
    before = {p.name: p.read_bytes() for p in state_dir.iterdir()}
    fake.set_goal("k1", "lower MTTR please")
    result = scan(cfg, {"snow": fake}, dry_run=True)
    assert result.summary()["written"] == 1  # only the changed record would be coached
    assert {p.name: p.read_bytes() for p in state_dir.iterdir()} == before
    assert len(fake.ops) == 4


def test_a_failing_record_never_stops_the_scan_and_is_retried(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    fake.fail_write["k2"] = BadRequest("field is read-only", status=400)
    result = scan(cfg, {"snow": fake})
    assert result.exit_code == 1 and result.status == "partial"
    assert {k for _, k, _ in fake.ops} == FLAGGED - {"k2"}
    (failure,) = result.sources[0].failures
    assert failure["key"] == "k2" and "read-only" in failure["error"]
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        assert s.pending("snow") == []  # a refused write leaves nothing pending
        assert s.record("snow", "k2").failures == 1

    del fake.fail_write["k2"]
    again = scan(cfg, {"snow": fake}, overlap=timedelta(0))
    assert again.exit_code == 0
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}
    # k2 did not hold the watermark back (the read began after it): it was read by key
    assert fake.fetched_since > fake.records["k2"].updated
    assert fake.gets == ["k2"]
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        assert s.failing_records("snow") == []
    scan(cfg, {"snow": fake}, overlap=timedelta(0))
    assert fake.gets == ["k2"]  # no longer failing: not read by key again


def test_bad_data_and_engine_errors_are_counted_not_fatal(tmp_path):
    cfg = make_config(tmp_path)
    records = make_records("snow", GOALS + ["this will explode"])
    fake = FakeConnector("snow", records)
    fake.broken.add("k1")
    result = scan(cfg, {"snow": fake})
    s = result.sources[0]
    assert s.failed == 2 and s.records == 7
    assert {f["key"] for f in s.failures} == {"k1", "k6"}
    assert {k for _, k, _ in fake.ops} == FLAGGED


def test_write_budget_defers_and_the_next_runs_finish(tmp_path):
    cfg = make_config(tmp_path, max_writes_per_run=3)
    goals = ["lower MTTR"] * 8
    fake = FakeConnector("snow", make_records("snow", goals))
    first = scan(cfg, {"snow": fake})
    assert first.exit_code == 0
    assert (first.summary()["written"], first.summary()["deferred"]) == (3, 5)
    second = scan(cfg, {"snow": fake})
    assert (second.summary()["written"], second.summary()["deferred"]) == (3, 2)
    third = scan(cfg, {"snow": fake})
    assert (third.summary()["written"], third.summary()["deferred"]) == (2, 0)
    assert one_comment_each(fake, fake.records) == {k: 1 for k in fake.records}


def test_budget_is_shared_by_all_sources_of_a_run(tmp_path):
    cfg = make_config(tmp_path, sources=("snow", "jira"), max_writes_per_run=5)
    fakes = {
        "snow": FakeConnector("snow", make_records("snow", ["MTTR"] * 4)),
        "jira": FakeConnector("jira", make_records("jira", ["MTTR"] * 4), target="jira", can_edit=True),
    }
    result = scan(cfg, fakes)
    assert result.summary()["written"] == 5 and result.summary()["deferred"] == 3


def test_zero_budget_writes_nothing(tmp_path):
    cfg = make_config(tmp_path, max_writes_per_run=0)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    result = scan(cfg, {"snow": fake})
    assert fake.ops == [] and result.summary()["deferred"] == 4


def test_pending_write_that_landed_is_settled_without_writing_again(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    # A crash after the remote write, before "posted": run the write by hand.
    record = fake.records["k0"]
    verdict = fake_evaluate(record)
    from csi_coach.model import marker_for

    marker = marker_for(verdict.digest())
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        s.ledger_begin("snow", "k0", verdict.digest(), marker, "post")
    fake.post(record, f"body {marker}", marker)
    fake.ops.clear()
    result = scan(cfg, {"snow": fake})
    assert result.sources[0].settled == 1
    assert "k0" not in {k for _, k, _ in fake.ops}
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        assert [r.state for r in s.ledger_for("snow", "k0")] == ["posted"]


def test_pending_write_that_never_landed_is_written_once(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    verdict = fake_evaluate(fake.records["k3"])
    from csi_coach.model import marker_for

    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        s.ledger_begin("snow", "k3", verdict.digest(), marker_for(verdict.digest()), "post")
    result = scan(cfg, {"snow": fake})
    assert result.sources[0].settled == 1
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}


def test_unsettleable_pending_row_blocks_that_record_only(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    verdict = fake_evaluate(fake.records["k3"])
    from csi_coach.model import marker_for

    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        s.ledger_begin("snow", "k3", verdict.digest(), marker_for(verdict.digest()), "post")
    fake.fail_read.add("k3")
    result = scan(cfg, {"snow": fake})
    assert result.exit_code == 1
    assert {k for _, k, _ in fake.ops} == FLAGGED - {"k3"}
    fake.fail_read.clear()
    scan(cfg, {"snow": fake})
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}


def test_lost_state_file_does_not_duplicate_comments(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(cfg, {"snow": fake})
    for p in (tmp_path / "state").iterdir():
        p.unlink()
    result = scan(cfg, {"snow": fake})
    assert result.summary()["written"] == 0
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}
    # and the adopted comments are now in the ledger: a changed verdict edits/adds normally
    fake.set_goal("k0", "MTTR and incidents")
    age_ledger(tmp_path, days=31)
    scan(cfg, {"snow": fake})
    assert len(fake.comments["k0"]) == 2


def test_changed_verdict_edits_in_place_on_jira(tmp_path):
    cfg = make_config(tmp_path, sources=("jira",))
    fake = FakeConnector("jira", make_records("jira", GOALS), target="jira", can_edit=True)
    scan(cfg, {"jira": fake})
    (old,) = fake.markers("k0")
    fake.set_goal("k0", "MTTR and incidents")
    scan(cfg, {"jira": fake})
    assert len(fake.comments["k0"]) == 1
    assert fake.markers("k0") != [old]
    assert fake.ops[-1][0] == "update"


def test_changed_verdict_adds_an_entry_on_servicenow_after_the_cooldown(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(cfg, {"snow": fake})
    fake.set_goal("k0", "MTTR and incidents")
    scan(cfg, {"snow": fake})
    assert len(fake.comments["k0"]) == 1  # coached today: a new entry waits
    fake.set_goal("k0", "MTTR and more incidents")
    age_ledger(tmp_path, days=31)
    scan(cfg, {"snow": fake})
    assert len(fake.comments["k0"]) == 2 and fake.ops[-1][0] == "post"


def test_fixed_goal_is_acknowledged_once(tmp_path):
    cfg = make_config(tmp_path, acknowledge_fixed=True)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(cfg, {"snow": fake})
    fake.set_goal("k0", "grow revenue per store")
    result = scan(cfg, {"snow": fake})
    assert result.sources[0].acknowledged == 1
    assert "thanks" in fake.comments["k0"][-1].body
    scan(cfg, {"snow": fake}, full=True)
    assert len(fake.comments["k0"]) == 2


def test_server_error_after_the_write_landed_is_confirmed_not_repeated(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    fake.land_then_fail["k0"] = AmbiguousWrite("bad gateway after sending", status=502)
    result = scan(cfg, {"snow": fake})
    assert result.exit_code == 0 and result.summary()["written"] == 4
    del fake.land_then_fail["k0"]
    scan(cfg, {"snow": fake}, full=True)
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}


def test_a_write_refused_after_the_transports_retries_is_not_looked_for(tmp_path):
    # 503 / 429 after every retry: the connector says it was not taken; try next scan
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    fake.fail_write["k0"] = TransientError("service unavailable", status=503)
    result = scan(cfg, {"snow": fake})
    assert result.exit_code == 1 and fake.reads == 0
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        assert s.pending("snow") == []
    del fake.fail_write["k0"]
    assert scan(cfg, {"snow": fake}).exit_code == 0
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}


def test_ambiguous_write_that_did_not_land_is_retried_next_scan(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    fake.fail_write["k5"] = AmbiguousWrite("connection reset after sending")
    result = scan(cfg, {"snow": fake})
    assert result.exit_code == 1
    assert fake.reads == 1  # looked for it once at the end of the scan, then wrote it once more
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        assert [r.record_key for r in s.pending("snow")] == ["k5"]  # unknown: kept to settle
    del fake.fail_write["k5"]
    again = scan(cfg, {"snow": fake})
    assert again.exit_code == 0 and again.sources[0].settled == 1
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}


def test_list_failure_fails_that_source_and_others_go_on(tmp_path):
    cfg = make_config(tmp_path, sources=("snow", "jira"))
    snow = FakeConnector("snow", make_records("snow", GOALS))
    snow.fail_fetch_after = 2
    jira = FakeConnector("jira", make_records("jira", GOALS), target="jira", can_edit=True)
    result = scan(cfg, {"snow": snow, "jira": jira})
    assert result.exit_code == 1 and result.status == "failed"
    by = {s.name: s for s in result.sources}
    assert by["snow"].status == "failed" and "list page" in by["snow"].error
    assert by["jira"].status == "ok" and by["jira"].written == 4
    snow.fail_fetch_after = None
    scan(cfg, {"snow": snow, "jira": jira})
    assert one_comment_each(snow, FLAGGED) == {k: 1 for k in FLAGGED}


def test_source_option_scans_one_source(tmp_path):
    cfg = make_config(tmp_path, sources=("snow", "jira"))
    snow = FakeConnector("snow", make_records("snow", GOALS))
    jira = FakeConnector("jira", make_records("jira", GOALS), target="jira", can_edit=True)
    result = scan(cfg, {"snow": snow, "jira": jira}, source="jira")
    assert [s.name for s in result.sources] == ["jira"] and snow.ops == []


def test_stop_finishes_the_record_in_hand_and_records_state(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", ["MTTR"] * 10))
    stop = threading.Event()

    def progress(result):
        if result.records == 3:
            stop.set()

    result = scan(cfg, {"snow": fake}, stop=stop, on_progress=progress)
    assert result.status == "interrupted" and result.exit_code == 1
    assert result.sources[0].records == 3
    assert len(fake.ops) == 3
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        assert s.scans()[0].status == "interrupted"
        assert s.pending("snow") == []
    scan(cfg, {"snow": fake})
    assert one_comment_each(fake, fake.records) == {k: 1 for k in fake.records}


def test_second_scan_is_refused_while_one_holds_the_lock(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    path = tmp_path / "state" / "s.sqlite"
    with ScanLock(path):
        with pytest.raises(LockBusy, match="another scan is running"):
            scan(cfg, {"snow": fake})
    assert fake.ops == []


def test_waiting_scan_runs_once_the_lock_is_free(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    lock = ScanLock(tmp_path / "state" / "s.sqlite").acquire()
    threading.Timer(0.3, lock.release).start()
    result = scan(cfg, {"snow": fake}, wait=True)
    assert result.summary()["written"] == 4


def test_many_workers_write_each_comment_once(tmp_path):
    cfg = make_config(tmp_path, workers=8, max_writes_per_run=1000)
    fake = FakeConnector("snow", make_records("snow", ["MTTR"] * 300))
    fake.land_then_fail.update({f"k{i}": AmbiguousWrite("bad gateway after sending", status=502) for i in range(0, 300, 7)})
    result = scan(cfg, {"snow": fake})
    assert result.summary()["written"] == 300
    assert one_comment_each(fake, fake.records) == {k: 1 for k in fake.records}


def test_report_files(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    result = scan(cfg, {"snow": fake})
    paths = report.write_report(tmp_path / "out", result, FakeRenderer())
    import json

    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["written"] == 4 and len(data["details"]["snow"]["writes"]) == 4
    assert (tmp_path / "out" / "report.html").read_text() == "<html>report.html.j2 4</html>"
    text = report.summary_text(result)
    assert "6 records read, 4 flagged" in text and "wrote 4 comment(s)" in text
    assert [p.name for p in paths] == ["report.json", "report.csv", "report.html"]


def test_an_old_comment_with_the_same_marker_does_not_settle_a_new_pending_write(tmp_path):
    from datetime import datetime

    from csi_coach.model import BotComment, CommentRef, marker_for

    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    a = fake_evaluate(fake.records["k0"]).digest()  # the finding now, also coached 40 days ago
    b = "0123456789abcdef"  # a different finding coached 35 days ago
    now = datetime.now(UTC)
    fake.comments["k0"] = [
        BotComment(CommentRef("snow", "k0", ""), marker_for(a), f"old {marker_for(a)}", now - timedelta(days=40)),
        BotComment(CommentRef("snow", "k0", ""), marker_for(b), f"old {marker_for(b)}", now - timedelta(days=35)),
    ]
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        s.ledger_adopt("snow", "k0", a, marker_for(a), "post", "", now - timedelta(days=40))
        s.ledger_adopt("snow", "k0", b, marker_for(b), "post", "", now - timedelta(days=35))
        s.ledger_begin("snow", "k0", a, marker_for(a), "post")  # re-coaching a, killed before it landed
    scan(cfg, {"snow": fake})
    # the old comment on a is not mistaken for the pending one: the re-coaching is written once
    assert [c.marker for c in fake.comments["k0"]] == [marker_for(a), marker_for(b), marker_for(a)]
    scan(cfg, {"snow": fake}, full=True)
    assert len(fake.comments["k0"]) == 3


class CountingEvaluate:
    def __init__(self):
        self.keys = []

    def __call__(self, record):
        self.keys.append(record.key)
        return fake_evaluate(record)


def test_unchanged_records_are_not_judged_again(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(cfg, {"snow": fake})
    counting = CountingEvaluate()
    # everything is in the overlap window of the next scan: read again, judged never
    again = run_scan(cfg, evaluate=counting, renderer=FakeRenderer(), fingerprint="fp1",
                     open_connector=lambda s, l: fake, overlap=timedelta(days=1))
    assert again.summary()["records"] == 6 and counting.keys == []
    assert again.summary()["flagged"] == 4  # counts still come from the stored judgement
    assert again.sources[0].categories == {"no_goal": 1, "process_only": 3, "value": 2}
    fake.set_goal("k1", "lower MTTR")
    run_scan(cfg, evaluate=counting, renderer=FakeRenderer(), fingerprint="fp1",
             open_connector=lambda s, l: fake, overlap=timedelta(days=1))
    assert counting.keys == ["k1"]
    assert len(fake.comments["k1"]) == 1
    # new rules: every record is judged again
    counting.keys.clear()
    run_scan(cfg, evaluate=counting, renderer=FakeRenderer(), fingerprint="fp2",
             open_connector=lambda s, l: fake)
    assert sorted(counting.keys) == sorted(fake.records)


def test_a_record_read_twice_in_one_scan_is_judged_and_written_once(tmp_path):
    class Repeating(FakeConnector):
        def fetch(self, since):
            items = list(super().fetch(since))
            yield from items
            yield from (i for i in items if i.key in FLAGGED)  # bumped by our own writes

    cfg = make_config(tmp_path)
    fake = Repeating("snow", make_records("snow", GOALS))
    counting = CountingEvaluate()
    result = run_scan(cfg, evaluate=counting, renderer=FakeRenderer(), fingerprint="fp1",
                      open_connector=lambda s, l: fake)
    assert result.summary()["records"] == 6  # each record counted once
    assert result.summary()["flagged"] == len(FLAGGED)
    assert sorted(counting.keys) == sorted(fake.records)
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}


def test_a_record_with_a_settled_write_is_judged_afresh(tmp_path):
    from csi_coach.model import marker_for

    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(cfg, {"snow": fake})
    # as if a later scan was killed mid-write on k0 under new rules, then the rules went back
    verdict = fake_evaluate(fake.records["k0"])
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        s.ledger_begin("snow", "k0", "feedfacefeedface", marker_for("feedfacefeedface"), "post")
    counting = CountingEvaluate()
    run_scan(cfg, evaluate=counting, renderer=FakeRenderer(), fingerprint="fp1",
             open_connector=lambda s, l: fake, overlap=timedelta(days=1))
    assert counting.keys == ["k0"]
    assert fake.markers("k0") == [verdict.digest()]


def test_ambiguous_write_that_did_not_land_is_written_again_within_the_scan(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    fake.fail_write["k5"] = AmbiguousWrite("read timed out after sending")
    fake.fail_times["k5"] = 1
    result = scan(cfg, {"snow": fake})
    assert result.exit_code == 0 and result.summary()["written"] == len(FLAGGED)
    assert fake.reads == 1  # looked once before writing again
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        assert s.pending("snow") == []


def test_ambiguous_write_that_landed_is_not_written_again(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    fake.land_then_fail["k5"] = AmbiguousWrite("connection reset after sending")
    result = scan(cfg, {"snow": fake})
    assert result.exit_code == 0
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}


def test_a_slow_commit_is_found_at_the_end_of_the_scan_not_written_twice(tmp_path):
    # a gateway answers 504 while the server goes on and saves the comment later
    cfg = make_config(tmp_path, settle_after_seconds=1)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    fake.land_later["k5"] = 0.5
    started = time.monotonic()
    result = scan(cfg, {"snow": fake})
    assert time.monotonic() - started >= 1.0  # waited settle_after_seconds before looking
    assert result.exit_code == 0 and result.summary()["written"] == len(FLAGGED)
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        assert s.pending("snow") == [] and [r.state for r in s.ledger_for("snow", "k5")] == ["posted"]


def test_a_write_without_answer_keeps_holding_the_watermark_until_settled(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    fake.fail_write["k0"] = AmbiguousWrite("read timed out after sending")
    scan(cfg, {"snow": fake}, overlap=timedelta(0))
    del fake.fail_write["k0"]
    scan(cfg, {"snow": fake}, overlap=timedelta(0))
    assert fake.gets == ["k0"]  # failed, so read again by key; its pending row settled first
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}


def test_editing_a_deleted_comment_writes_a_new_one(tmp_path):
    cfg = make_config(tmp_path, sources=("jira",))
    fake = FakeConnector("jira", make_records("jira", GOALS), target="jira", can_edit=True)
    scan(cfg, {"jira": fake})
    fake.comments["k0"].clear()  # someone deleted the bot's comment
    fake.set_goal("k0", "MTTR and incidents")
    result = scan(cfg, {"jira": fake})
    assert result.exit_code == 0
    assert fake.ops[-1][0] == "post" and len(fake.comments["k0"]) == 1
    assert result.sources[0].posted == 1 and result.sources[0].updated == 0
    scan(cfg, {"jira": fake})
    assert len(fake.comments["k0"]) == 1


def test_a_failing_record_that_was_deleted_is_forgotten(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    fake.fail_write["k2"] = BadRequest("field is read-only", status=400)
    scan(cfg, {"snow": fake})
    del fake.records["k2"]
    result = scan(cfg, {"snow": fake}, overlap=timedelta(0))
    assert result.exit_code == 0 and fake.gets == ["k2"]
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        assert s.failing_records("snow") == [] and s.record("snow", "k2") is None


def test_a_record_failing_every_scan_fails_every_scan(tmp_path):
    # it never drops out of sight: read by key, failed and reported each time
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    fake.fail_write["k2"] = BadRequest("field is read-only", status=400)
    for n in range(1, 5):
        result = scan(cfg, {"snow": fake}, overlap=timedelta(0))
        assert result.exit_code == 1 and [f["key"] for f in result.sources[0].failures] == ["k2"]
        with StateStore(tmp_path / "state" / "s.sqlite") as s:
            assert s.record("snow", "k2").failures == n


def test_a_first_scan_reads_no_comments_when_the_source_lists_marked_records(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(cfg, {"snow": fake})
    assert fake.marked_asks == [None] and fake.reads == 0
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}


def test_without_the_bulk_answer_unknown_records_are_checked_one_by_one(tmp_path):
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    fake.has_bulk_marks = False
    scan(cfg, {"snow": fake})
    assert fake.reads == len(FLAGGED)
    assert one_comment_each(fake, FLAGGED) == {k: 1 for k in FLAGGED}


def test_a_restored_state_backup_does_not_duplicate_later_comments(tmp_path):
    import shutil
    import sqlite3

    from csi_coach.model import Record

    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(cfg, {"snow": fake})
    live = tmp_path / "state" / "s.sqlite"
    backup = tmp_path / "backup.sqlite"
    with sqlite3.connect(live) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)
    latest = max(r.updated for r in fake.records.values())
    fake.records["k9"] = Record(source="snow", key="k9", number="REC0009", url="", title="new", goal="cut MTTR",
                                updated=latest + timedelta(minutes=1))
    assert scan(cfg, {"snow": fake}).summary()["written"] == 1  # k9 coached after the backup
    for p in live.parent.iterdir():
        p.unlink()
    shutil.copy(backup, live)  # an admin restores last week's backup
    fake.reads = 0
    result = scan(cfg, {"snow": fake}, full=True)
    assert result.summary()["written"] == 0
    assert one_comment_each(fake, FLAGGED | {"k9"}) == {k: 1 for k in FLAGGED | {"k9"}}
    # a full pass decides every record again, but only a marked record the ledger
    # would write on has its comments read first: k9
    assert fake.reads == 1


def test_lost_state_file_does_not_acknowledge_twice(tmp_path):
    cfg = make_config(tmp_path, acknowledge_fixed=True)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    scan(cfg, {"snow": fake})
    fake.set_goal("k0", "grow revenue")
    assert scan(cfg, {"snow": fake}).sources[0].acknowledged == 1
    for p in (tmp_path / "state").iterdir():
        p.unlink()
    result = scan(cfg, {"snow": fake})
    assert result.summary()["written"] == 0
    assert len(fake.comments["k0"]) == 2  # the coaching and one thank-you


def thank_then_restore_the_backup(tmp_path, fake):
    """Coach, back the state file up, thank k0's owner, then restore the backup: the
    restored file has never heard of the thank-you."""
    import shutil
    import sqlite3

    cfg = make_config(tmp_path, acknowledge_fixed=True)
    scan(cfg, {"snow": fake})
    live = tmp_path / "state" / "s.sqlite"
    backup = tmp_path / "backup.sqlite"
    with sqlite3.connect(live) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)
    fake.set_goal("k0", "grow revenue")
    assert scan(cfg, {"snow": fake}).sources[0].acknowledged == 1
    for p in live.parent.iterdir():
        p.unlink()
    shutil.copy(backup, live)
    fake.set_goal("k0", "grow more revenue")  # an owner edit: k0 is judged again
    return cfg


def test_a_restored_backup_never_thanks_twice(tmp_path):
    # the backup's last scan wrote on k0 minutes before the backup was taken
    fake = FakeConnector("snow", make_records("snow", GOALS))
    cfg = thank_then_restore_the_backup(tmp_path, fake)
    assert scan(cfg, {"snow": fake}).summary()["written"] == 0
    assert len(fake.comments["k0"]) == 2  # the coaching and one thank-you


def test_when_the_source_cannot_list_marked_records_every_write_is_checked_first(tmp_path):
    fake = FakeConnector("snow", make_records("snow", GOALS))
    cfg = thank_then_restore_the_backup(tmp_path, fake)

    def refuse(since):
        raise TransientError("search unavailable", status=503)

    fake.has_bulk_marks = False
    fake.marked_keys = refuse
    assert scan(cfg, {"snow": fake}).summary()["written"] == 0
    assert len(fake.comments["k0"]) == 2


def test_failing_records_are_retried_longest_waiting_first(tmp_path, monkeypatch):
    from csi_coach.scan import pipeline

    monkeypatch.setattr(pipeline, "REFETCH_CAP", 2)
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", ["MTTR"] * 6))
    for k in ("k1", "k2", "k3", "k4"):
        fake.fail_write[k] = BadRequest("read-only", status=400)
    scan(cfg, {"snow": fake}, overlap=timedelta(0))
    seen = []
    for _ in range(3):
        fake.gets.clear()
        scan(cfg, {"snow": fake}, overlap=timedelta(0))
        assert len(fake.gets) == 2
        seen += fake.gets
    assert set(seen) == {"k1", "k2", "k3", "k4"}  # nobody starves behind the cap


def test_a_record_read_again_under_another_key_is_forgotten_under_the_old_one(tmp_path):
    # Jira answers a moved issue's old key with the issue under its new key
    cfg = make_config(tmp_path)
    fake = FakeConnector("snow", make_records("snow", GOALS))
    fake.fail_write["k0"] = BadRequest("read-only", status=400)
    scan(cfg, {"snow": fake}, overlap=timedelta(0))
    moved = replace(fake.records.pop("k0"), key="k0-moved")
    fake.get = lambda key: moved if key == "k0" else None
    result = scan(cfg, {"snow": fake}, overlap=timedelta(0))
    assert result.exit_code == 0 and "k0-moved" not in fake.comments
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        assert s.failing_records("snow") == []


def test_a_broken_record_without_a_key_is_reported_not_kept(tmp_path):
    from csi_coach.model import BrokenRecord

    class Keyless(FakeConnector):
        def fetch(self, since):
            yield from super().fetch(since)
            yield BrokenRecord(self.name, "", "", "no sys_id in the row")

    cfg = make_config(tmp_path)
    fake = Keyless("snow", make_records("snow", GOALS))
    first = scan(cfg, {"snow": fake}, overlap=timedelta(0))
    assert first.exit_code == 1 and first.sources[0].failures[0]["error"].startswith("bad data")
    with StateStore(tmp_path / "state" / "s.sqlite") as s:
        assert s.failing_records("snow") == []
    scan(cfg, {"snow": fake}, overlap=timedelta(0))
    assert fake.fetched_since > fake.records["k5"].updated - timedelta(seconds=1)  # not pinned
