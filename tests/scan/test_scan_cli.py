"""`csi-coach scan` as a command: exit codes, lock message, dry run output, JSON last line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from csi_coach.scan.locking import ScanLock
from support.paths import ROOT
from support.rules import with_small_rules

CONFIG = """
[state]
path = "state/s.sqlite"
[sources.snow]
type = "servicenow"
url = "http://127.0.0.1:9"
[sources.snow.auth]
method = "basic"
username_env = "CSI_TEST_USER"
password_env = "CSI_TEST_PASSWORD"
"""


def write_config(tmp_path, text):
    """The config, on the small rule set: what these tests check is not the rules."""
    (tmp_path / "config.toml").write_text(with_small_rules(text, tmp_path))


def run(tmp_path, *args, env=None):
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "scan", "--config", str(tmp_path / "config.toml"), *args],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**os.environ, **(env or {})},
    )


def test_missing_secret_is_a_config_error_exit_2(tmp_path):
    write_config(tmp_path, CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSI_TEST_")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "scan", "--config", str(tmp_path / "config.toml")],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
    )
    assert proc.returncode == 2, proc.stderr
    assert "CSI_TEST_USER" in proc.stderr and "Traceback" not in proc.stderr


def test_a_second_scan_exits_with_a_clear_message_while_one_runs(tmp_path):
    write_config(tmp_path, CONFIG)
    with ScanLock(tmp_path / "state" / "s.sqlite"):
        proc = run(tmp_path, env={"CSI_TEST_USER": "u", "CSI_TEST_PASSWORD": "p"})
    assert proc.returncode == 3  # busy: the other scan does the work
    assert "another scan is running" in proc.stderr and "Traceback" not in proc.stderr


def test_unreachable_source_fails_the_source_not_the_command(tmp_path):
    write_config(tmp_path, CONFIG.replace('url = "http://127.0.0.1:9"', 'url = "http://127.0.0.1:9"\ntimeout_seconds = 2'))
    proc = run(tmp_path, "--json", env={"CSI_TEST_USER": "u", "CSI_TEST_PASSWORD": "sekret-value"})
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["sources"]["snow"]["status"] == "failed"
    assert {"records", "flagged", "written", "deferred", "failed"} <= set(summary)
    assert "sekret-value" not in proc.stdout + proc.stderr


# --- --report and logging.file that cannot work: said before the scan, not after ----

ENV = {"CSI_TEST_USER": "u", "CSI_TEST_PASSWORD": "p"}


def unwritable_folder(tmp_path) -> Path:
    """A folder this user cannot create files in (root ignores modes: /sys refuses it too)."""
    import tempfile

    import pytest

    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    try:
        with tempfile.TemporaryFile(dir="/sys"):
            pass
    except OSError:
        return Path("/sys")
    pytest.skip("running as root and no folder refuses root here")


def assert_config_error_before_scan(tmp_path, proc, *words):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "config error" in proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr)
    assert not (tmp_path / "state" / "s.sqlite").exists()  # the scan never started


def test_report_path_that_is_a_file_is_a_config_error_before_the_scan(tmp_path):
    write_config(tmp_path, CONFIG)
    (tmp_path / "taken").write_text("not a folder")
    proc = run(tmp_path, "--report", "taken", env=ENV)
    assert_config_error_before_scan(tmp_path, proc, "--report", "taken", "is a file, not a folder",
                                    "report.json and report.html")


def test_report_under_a_file_or_in_an_unwritable_folder_is_a_config_error(tmp_path):
    write_config(tmp_path, CONFIG)
    (tmp_path / "taken").write_text("not a folder")
    proc = run(tmp_path, "--report", "taken/reports", env=ENV)
    assert_config_error_before_scan(tmp_path, proc, "--report", "taken/reports", "cannot be created")
    locked = unwritable_folder(tmp_path)
    proc = run(tmp_path, "--report", str(locked / "reports"), env=ENV)
    assert_config_error_before_scan(tmp_path, proc, "--report", str(locked / "reports"), "cannot create files")


# The real command, with one fault at the OS boundary: moving report.html into place
# fails as it does on a full disk (the report is written under a temporary name first).
DISK_FULL_AT_REPORT = r"""
import errno, os, sys
from pathlib import Path
_replace = os.replace
def replace(src, dst, *a, **k):
    if Path(dst).name == "report.html":
        raise OSError(errno.ENOSPC, "No space left on device")
    return _replace(src, dst, *a, **k)
os.replace = replace
from csi_coach import bot
sys.exit(bot.main(sys.argv[2:]))
"""


def test_report_that_fails_to_write_after_the_scan_keeps_the_state_and_exits_1(tmp_path):
    from csi_coach.commands.demo import EXAMPLE, demo_config_text
    from csi_coach.sandbox.cli import start_sandbox
    from csi_coach.scan.state import StateStore

    with start_sandbox("127.0.0.1", 0, 0, "cloud", 0, 1, None) as pair:  # no records: a clean scan
        info = pair.info()
        write_config(tmp_path, demo_config_text(
            EXAMPLE.read_text(), snow_url=info["servicenow"]["url"], jira_url=info["jira"]["url"],
            state_file=tmp_path / "state" / "s.sqlite"))
        ok = run(tmp_path, "--json", "--report", "full", env=info["env"])
        assert ok.returncode == 0, ok.stderr  # the same scan, its report written
        last = (tmp_path / "full" / "report.html").read_text()
        proc = subprocess.run(
            [sys.executable, "-c", DISK_FULL_AT_REPORT, str(ROOT), "scan", "--config",
             str(tmp_path / "config.toml"), "--json", "--report", "full"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**os.environ, **info["env"]},
        )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "cannot write the report to full" in proc.stderr and "state is saved" in proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["status"] == "ok" and "No space left" in summary["report"]["error"]
    with StateStore(tmp_path / "state" / "s.sqlite") as store:
        assert [s.status for s in store.scans()] == ["ok", "ok"]  # both scans were recorded
    # The last report stays whole, and no temporary file is left behind.
    assert (tmp_path / "full" / "report.html").read_text() == last
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == ["report.csv", "report.html", "report.json"]


def test_unwritable_log_file_is_a_config_error_naming_the_file_and_key(tmp_path):
    log_file = unwritable_folder(tmp_path) / "coach.log"
    write_config(tmp_path, CONFIG + f'[logging]\nfile = "{log_file}"\n')
    proc = run(tmp_path, env=ENV)
    assert_config_error_before_scan(tmp_path, proc, str(tmp_path / "config.toml"), "[logging.file]", str(log_file))


def test_a_missing_secret_of_a_later_source_stops_the_scan_before_the_first_source(tmp_path):
    second = CONFIG[CONFIG.index("[sources"):].replace("[sources.snow", "[sources.snow2").replace("CSI_TEST_", "CSI_TEST_TWO_")
    write_config(tmp_path, CONFIG + second)
    proc = run(tmp_path, env=ENV)
    assert_config_error_before_scan(tmp_path, proc, "CSI_TEST_TWO_USER", "sources.snow2.auth.username_env")


def test_a_state_file_in_an_unwritable_folder_is_a_config_error_naming_state_path(tmp_path):
    state = unwritable_folder(tmp_path) / "csi" / "s.sqlite"
    write_config(tmp_path, CONFIG.replace('path = "state/s.sqlite"', f'path = "{state}"'))
    proc = run(tmp_path, env=ENV)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "[state.path]" in proc.stderr and str(state.parent.parent) in proc.stderr


# --- [report] dir (issue 14, item 7) ----------------------------------------------------


def test_a_report_dir_from_the_config_that_cannot_be_written_names_the_config_line_and_key(tmp_path):
    locked = unwritable_folder(tmp_path)
    (tmp_path / "config.toml").write_text(f'[report]\ndir = "{locked / "reports"}"\n' + CONFIG)  # its error names line 2
    proc = run(tmp_path, env=ENV)
    assert_config_error_before_scan(tmp_path, proc, f"{tmp_path / 'config.toml'}:2 [report.dir]",
                                    str(locked / "reports"), "cannot create files")
    # --report still overrides it (the folder it names is fine: the scan runs, its source fails)
    proc = run(tmp_path, "--report", "here", "--json", env={**ENV, "CSI_TEST_USER": "u"})
    assert proc.returncode == 1 and json.loads(proc.stdout.splitlines()[-1])["report"]["folder"] == "here"
    assert (tmp_path / "here" / "report.json").exists()


def test_scan_writes_the_report_into_the_configured_dir(tmp_path):
    write_config(tmp_path, '[report]\ndir = "out/reports"\n' + CONFIG.replace(
        'url = "http://127.0.0.1:9"', 'url = "http://127.0.0.1:9"\ntimeout_seconds = 2'))
    proc = run(tmp_path, env=ENV)
    assert proc.returncode == 1, proc.stderr  # the source cannot be read: still a report
    assert f"Report: {tmp_path / 'out/reports/report.html'}" in proc.stdout
    data = json.loads((tmp_path / "out" / "reports" / "report.json").read_text())
    assert data["sources"]["snow"]["status"] == "failed"
