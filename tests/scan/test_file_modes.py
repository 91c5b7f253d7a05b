"""Files the bot creates are its own, and its lock follows no link (issue 13, finding 9).

State file (and SQLite's -wal and -shm beside it), lock, log and report files the bot
creates are 0600 and the folders it creates for them 0700, whatever the umask (tried with
0o000, which would leave them world-writable, and 0o277, which would leave them unreadable
by the bot itself). What exists already keeps its mode. The lock file is opened with
O_NOFOLLOW: a link named like the lock is refused and its target left untouched.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from csi_coach import logsetup, render
from csi_coach.config import LoggingSettings, StateSettings
from csi_coach.errors import ConfigError, LockBusy
from csi_coach.report import writer as report
from csi_coach.scan.locking import ScanLock
from csi_coach.scan.state import StateStore
from support.scan_fake import GOALS, FakeConnector, make_config, make_records, scan


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(params=[0o000, 0o277], ids=["umask-000", "umask-277"])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def scan_writing_everything(tmp_path: Path, state: str, log_file: Path, report_dir: Path):
    cfg = replace(make_config(tmp_path), state=StateSettings(path=state))
    logsetup.configure(LoggingSettings(level="info"), log_file=log_file, interactive=False)
    try:
        result = scan(cfg, {"snow": FakeConnector("snow", make_records("snow", GOALS))})
        logging.getLogger("csi_coach.test").info("scanned")
        report.write_report(report_dir, result, render.Renderer())
    finally:
        logsetup.reset()
    return result


def test_what_the_bot_creates_is_0600_in_folders_0700(tmp_path, umask):
    result = scan_writing_everything(tmp_path, "var/state/s.sqlite", tmp_path / "logs" / "deep" / "csi.log",
                                     tmp_path / "out" / "r")
    assert result.status == "ok"
    files = [tmp_path / "var/state/s.sqlite", tmp_path / "var/state/s.sqlite.lock", tmp_path / "logs/deep/csi.log",
             tmp_path / "out/r/report.json", tmp_path / "out/r/report.html"]
    folders = ["var", "var/state", "logs", "logs/deep", "out", "out/r"]
    assert {str(p.relative_to(tmp_path)): oct(mode(p)) for p in files} == {
        str(p.relative_to(tmp_path)): oct(0o600) for p in files}
    assert {f: oct(mode(tmp_path / f)) for f in folders} == {f: oct(0o700) for f in folders}
    assert (tmp_path / "logs/deep/csi.log").read_text().strip()  # the bot could write its own files


def test_sqlite_gives_its_wal_and_shm_the_state_files_mode(tmp_path, umask):
    store = StateStore(tmp_path / "st" / "s.sqlite")
    try:
        store.begin_scan(["snow"], "v1")  # a write: the -wal and -shm exist while the store is open
        beside = sorted(tmp_path.joinpath("st").iterdir())
        assert [p.name for p in beside] == ["s.sqlite", "s.sqlite-shm", "s.sqlite-wal"]
        assert {p.name: oct(mode(p)) for p in beside} == {p.name: oct(0o600) for p in beside}
    finally:
        store.close()


def test_what_exists_keeps_its_mode(tmp_path, umask):
    # The admin's choice: a group-readable log and report, a shared state folder.
    for folder in ("state", "logs", "r"):
        (tmp_path / folder).mkdir()
    os.chmod(tmp_path / "state", 0o750)
    (tmp_path / "logs" / "csi.log").write_text("")
    os.chmod(tmp_path / "logs" / "csi.log", 0o640)
    (tmp_path / "r" / "report.html").write_text("old")
    os.chmod(tmp_path / "r" / "report.html", 0o644)
    scan_writing_everything(tmp_path, "state/s.sqlite", tmp_path / "logs" / "csi.log", tmp_path / "r")
    assert mode(tmp_path / "state") == 0o750
    assert mode(tmp_path / "logs" / "csi.log") == 0o640
    assert mode(tmp_path / "r" / "report.html") == 0o644
    assert mode(tmp_path / "r" / "report.json") == 0o600  # new: the bot's own
    assert mode(tmp_path / "state" / "s.sqlite") == 0o600


def test_a_link_named_like_the_lock_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "s.sqlite.lock").symlink_to(victim)
    with pytest.raises(OSError) as caught:
        ScanLock(tmp_path / "state" / "s.sqlite").acquire()
    assert caught.value.errno == errno.ELOOP and "is a symbolic link" in caught.value.strerror
    assert victim.read_text() == "keep me\n"
    # Through a scan: a config error (exit 2) that names the link; nothing written through it.
    cfg = make_config(tmp_path)
    with pytest.raises(ConfigError, match="s.sqlite.lock is a symbolic link"):
        scan(cfg, {"snow": FakeConnector("snow", make_records("snow", GOALS))})
    assert victim.read_text() == "keep me\n"


def test_a_dangling_link_named_like_the_lock_creates_nothing(tmp_path):
    (tmp_path / "s.sqlite.lock").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError, match="symbolic link"):
        ScanLock(tmp_path / "s.sqlite").acquire()
    assert not (tmp_path / "elsewhere").exists()


def test_a_hard_link_or_a_fifo_named_like_the_lock_is_refused(tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("data that is not a lock\n")
    os.link(other, tmp_path / "a.sqlite.lock")
    with pytest.raises(OSError, match="hard link"):
        ScanLock(tmp_path / "a.sqlite").acquire()
    assert other.read_text() == "data that is not a lock\n"
    os.mkfifo(tmp_path / "b.sqlite.lock")
    with pytest.raises(OSError, match="not a regular file"):
        ScanLock(tmp_path / "b.sqlite").acquire()  # refused at once: a FIFO never blocks the open


def test_the_lock_file_is_never_truncated_and_names_its_holder(tmp_path):
    lock_path = tmp_path / "s.sqlite.lock"
    lock_path.write_text("pid 99999999 left by an older csi-coach, longer than one holder line\n")
    os.chmod(lock_path, 0o640)
    with ScanLock(tmp_path / "s.sqlite"):
        text = lock_path.read_text()
        assert text.startswith(f"pid {os.getpid()} ") and len(text) == len("pid 99999999 left by an older csi-coach, "
                                                                         "longer than one holder line\n")
        with pytest.raises(LockBusy, match=rf"held by pid {os.getpid()}\)"):
            ScanLock(tmp_path / "s.sqlite").acquire()
    assert mode(lock_path) == 0o640  # an existing lock file keeps its mode
