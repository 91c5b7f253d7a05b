"""scan/progress.py: the terminal progress bar shows only on a terminal, only after a
few seconds, fits the terminal, and is cleared before the summary."""

from __future__ import annotations

import io
import os
import pty
import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from csi_coach.config.loader import load_config
from csi_coach.scan.progress import BAR_WIDTH, CLEAR, ScanProgress
from csi_coach.scan.result import SourceResult
from csi_coach.scan.runner import ProgressLine, run_scan
from csi_coach.scan.state import RecordUpdate, StateStore


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def result(records: int, *, full: bool = True, name: str = "snow") -> SourceResult:
    return SourceResult(name, full=full, records=records, flagged=records // 4, written=2, failed=1)


def test_nothing_is_written_when_stderr_is_not_a_terminal():
    out, clock = io.StringIO(), Clock()  # cron, systemd, a pipe
    bar = ScanProgress(out, clock=clock)
    clock.now += 60
    bar(result(10))
    bar.clear()
    assert out.getvalue() == ""


def test_nothing_is_written_for_a_scan_shorter_than_the_delay():
    out, clock = FakeTTY(), Clock()
    bar = ScanProgress(out, delay=2.0, clock=clock)
    for i in range(50):
        clock.now += 0.03  # 1.5 s in all
        bar(result(i))
    bar.clear()
    assert out.getvalue() == ""


def test_a_full_pass_draws_a_share_of_the_records_known():
    out, clock = FakeTTY(), Clock()
    bar = ScanProgress(out, clock=clock, columns=lambda: 200)
    bar.expect("snow", 200)
    clock.now += 3
    bar(result(50))
    text = out.getvalue()
    assert text.startswith(CLEAR)
    assert f"snow [{'#' * (BAR_WIDTH // 4)}{'.' * (BAR_WIDTH - BAR_WIDTH // 4)}]  25% 50 of ~200 records" in text
    assert "12 flagged, 2 written, 1 failed, 3s" in text
    bar.clear()
    assert out.getvalue().endswith(CLEAR)


def test_past_the_estimate_or_on_an_incremental_scan_a_block_moves_instead():
    out, clock = FakeTTY(), Clock()
    bar = ScanProgress(out, clock=clock, columns=lambda: 200)
    bar.expect("snow", 100)
    lines = []
    for records in (150, 151, 152):
        clock.now += 3
        bar(result(records))
        lines.append(out.getvalue().rsplit(CLEAR, 1)[1])
    assert all("%" not in line and "###" in line for line in lines)
    assert len({line.split("]")[0] for line in lines}) == 3  # the block moved each time
    clock.now += 3
    bar(result(5, full=False))  # incremental: the known count says nothing of this scan's size
    assert "%" not in out.getvalue().rsplit(CLEAR, 1)[1]


def test_the_share_never_says_done_before_the_source_is():
    bar = ScanProgress(FakeTTY(), clock=Clock())
    bar.expect("snow", 1000)
    assert " 99% 999 of ~1,000 records" in bar.line(result(999), 5)
    assert "#" * BAR_WIDTH not in bar.line(result(999), 5)


def test_redrawn_at_most_ten_times_a_second_and_cut_to_the_terminal():
    out, clock = FakeTTY(), Clock()
    bar = ScanProgress(out, clock=clock, columns=lambda: 40)
    clock.now += 3
    for i in range(100):
        clock.now += 0.001
        bar(result(i))
    assert out.getvalue().count(CLEAR) == 1
    assert all(len(line) <= 39 for line in out.getvalue().split(CLEAR) if line)


def test_clear_after_nothing_drawn_writes_nothing():
    out = FakeTTY()
    ScanProgress(out, clock=Clock()).clear()
    assert out.getvalue() == ""


def test_a_real_pseudo_terminal_is_a_terminal():
    leader, follower = pty.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as stream:
            clock = Clock()
            bar = ScanProgress(stream, clock=clock, columns=lambda: 100)
            clock.now += 5
            bar(result(7))
        assert b"snow [" in os.read(leader, 4096)
    finally:
        os.close(leader)
        os.close(follower)


def test_the_commands_get_the_bar_and_the_scan_tells_it_the_records_known(tmp_path):
    """run_scan hands the bar each source's known count before the source is read."""
    assert ProgressLine is ScanProgress

    state = tmp_path / "state.db"
    with StateStore(state) as store:
        now = datetime.now(UTC)
        store.remember([RecordUpdate(source="snow", key=f"k{i}", number=f"N{i}", digest="d", category="value",
                                     updated=now, seen=now) for i in range(3)])
    cfg_file = tmp_path / "csi.toml"
    cfg_file.write_text(
        f'[state]\npath = "{state}"\n[sources.snow]\ntype = "servicenow"\nurl = "http://127.0.0.1:9"\n'
        '[sources.snow.auth]\nmethod = "basic"\nusername_env = "CSI_TEST_USER"\npassword_env = "CSI_TEST_PASS"\n'
    )
    config = load_config(str(cfg_file))
    seen: dict[str, int] = {}

    class Recorder:
        def expect(self, source: str, records: int) -> None:
            seen[source] = records

        def __call__(self, r: SourceResult) -> None:
            pass

    def refuse(settings, limiters):
        from csi_coach.errors import CoachError
        raise CoachError("no server in this test")

    run_scan(config, on_progress=Recorder(), open_connector=refuse, evaluate=lambda r: None,
             renderer=SimpleNamespace(), fingerprint="f", stop=threading.Event())
    assert seen == {"snow": 3}


@pytest.mark.parametrize("stream", [SimpleNamespace(write=print), io.StringIO()])
def test_streams_without_a_terminal_are_never_drawn_on(stream):
    if isinstance(stream, io.StringIO):
        stream.close()  # isatty on a closed stream raises ValueError
    assert ScanProgress(stream).enabled is False
