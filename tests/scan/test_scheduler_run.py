"""scheduler: cron trigger, catch-up decision, one run at a time, clean shutdown."""

from __future__ import annotations

import json
import os
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
from support.rules import small_rules

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


# --- the real `csi-coach run` against the sandboxes (issue 14, items 6 and 7) -----------


class LogLines:
    """The lines a process writes to stderr, collected by a thread as they come."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc) -> None:
        for line in proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, text: str, *, after: int = 0, timeout: float = 60) -> int:
        """The index of the first line from ``after`` on holding ``text``."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, line in enumerate(self.lines[after:], after):
                    if text in line:
                        return i
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no line with {text!r} in:\n" + "\n".join(self.lines))
                self._cond.wait(left)

    def text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)


def start_run(config, info):
    from support.sandbox_scan import env_for

    proc = subprocess.Popen([sys.executable, str(BOT), "run", "--config", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=config.parent, env=env_for(info))
    return proc, LogLines(proc)


def test_run_waits_for_a_manual_scan_says_so_then_scans_and_writes_the_report(tmp_path):
    from csi_coach.scan.locking import ScanLock
    from support.sandbox_scan import bot_comments, start, write_config

    pair = start(20, seed=31)
    proc = None
    try:
        info = pair.info()
        config = write_config(tmp_path, info, dir="reports", cron="0 3 * * *", rules=str(small_rules(tmp_path)))
        lock = ScanLock(tmp_path / "state.sqlite").acquire()  # "a manual scan" holds the lock
        try:
            proc, log = start_run(config, info)
            waiting = log.wait_for("this scan waits for it to finish")
            assert f"another scan is running (lock {tmp_path / 'state.sqlite.lock'}, held by pid {os.getpid()})" \
                in log.lines[waiting]
            time.sleep(1.5)
            assert "scheduled scan" not in log.text() and bot_comments(info) == {}
        finally:
            lock.release()
        got = log.wait_for("the other scan finished; scanning now", after=waiting)
        done = log.wait_for("scheduled scan ok", after=got)
        assert log.wait_for("report written to", after=got) < done
        report = json.loads((tmp_path / "reports" / "report.json").read_text())
        assert report["status"] == "ok" and report["written"] == len(bot_comments(info)) > 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        pair.stop()


def test_run_stopped_while_waiting_for_the_lock_skips_the_scan_and_exits_0(tmp_path):
    from csi_coach.scan.locking import ScanLock
    from support.sandbox_scan import bot_comments, start, write_config

    pair = start(10, seed=32)
    proc = None
    try:
        info = pair.info()
        config = write_config(tmp_path, info, rules=str(small_rules(tmp_path)))
        with ScanLock(tmp_path / "state.sqlite"):
            proc, log = start_run(config, info)
            log.wait_for("this scan waits for it to finish")
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
            assert time.monotonic() - started < 10  # it did not wait for the lock's holder
        log.wait_for("stopped while waiting for the scan lock; this scan is skipped")
        assert "scheduled scan" not in log.text() and bot_comments(info) == {}
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        pair.stop()


def test_sighup_reloads_between_scans_keeps_the_old_config_when_broken_and_reschedules(tmp_path):
    from support.sandbox_scan import start, write_config

    pair = start(10, seed=33)
    proc = None
    try:
        info = pair.info()
        config = write_config(tmp_path, info, cron="0 3 * * *", rules=str(small_rules(tmp_path)))
        good = config.read_text(encoding="utf-8")
        proc, log = start_run(config, info)
        first = log.wait_for("scheduled scan ok")  # the catch-up scan

        broken = good.replace("cooldown_days = 30", 'cooldown_days = "thirty"')
        assert broken != good
        config.write_text(broken, encoding="utf-8")
        line = broken.splitlines().index(next(x for x in broken.splitlines() if x.startswith("cooldown_days"))) + 1
        proc.send_signal(signal.SIGHUP)
        err = log.wait_for("the config has an error, so the config loaded before stays in use", after=first)
        assert "reloading on SIGHUP" in log.lines[err]
        assert f"{config}:{line} [comments.cooldown_days]" in log.lines[err] and "got 'thirty'" in log.lines[err]
        assert proc.poll() is None  # still up, on the old config

        config.write_text(good.replace('cron = "0 3 * * *"', 'cron = "30 4 * * *"'), encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        changed = log.wait_for("schedule changed: cron '30 4 * * *' (UTC); next scan at", after=err)
        assert "T04:30:00" in log.lines[changed]
        log.wait_for("config reloaded from", after=err)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        pair.stop()


def test_a_task_between_scans_waits_for_the_scan_in_hand(tmp_path):
    release, started, order = threading.Event(), threading.Event(), []

    def slow_scan():
        order.append("scan")
        started.set()
        release.wait(10)
        order.append("scan ended")

    sched = CoachScheduler(cfg(tmp_path, cron="* * * * *"), slow_scan)
    t = run_in_thread(sched)
    assert started.wait(10)
    task = sched.between_scans(lambda: order.append("reload"))
    time.sleep(0.3)
    assert order == ["scan"]  # the reload waits for the scan in hand
    release.set()
    task.join(10)
    assert order == ["scan", "scan ended", "reload"]
    sched.shutdown()
    t.join(10)
