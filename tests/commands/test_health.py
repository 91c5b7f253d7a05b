"""commands/health.py, the container's HEALTHCHECK: healthy only while good scans are recent."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from csi_coach.commands import health
from csi_coach.config import load_config
from csi_coach.scan.state import StateStore
from support.config import SNOW

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[state]\npath = "state/csi.sqlite"\n\n' + SNOW)
    return path


def add_scan(config_file, started: datetime, status: str | None, minutes: int = 5) -> None:
    """A scan row as a real scan leaves it; ``status=None`` leaves it running."""
    with StateStore(config_file.parent / "state" / "csi.sqlite") as store:
        scan_id = store.begin_scan(["snow"], "v1", now=started)
        if status is not None:
            store.end_scan(scan_id, status, {}, now=started + timedelta(minutes=minutes))


def run(config_file, capsys, *extra: str) -> tuple[int, str]:
    code = health.main(["--config", str(config_file), *extra], now=NOW)
    out = capsys.readouterr()
    assert out.err == ""
    return code, out.out


def test_the_allowance_is_a_period_the_grace_and_one_scan(config_file):
    # Defaults: cron "0 2 * * *" (1 day), misfire grace 3600 s, one source reading for at most
    # 900 s, settle after 60 s.
    assert health.allowed_age(load_config(config_file), NOW) == timedelta(days=1, hours=1, minutes=16)


def test_no_state_file_yet_is_unhealthy(config_file, capsys):
    code, out = run(config_file, capsys)
    assert code == 1
    assert out.startswith("unhealthy: no successful scan yet in ") and "csi.sqlite" in out


@pytest.mark.parametrize("status", ["ok", "partial"])
def test_a_good_scan_within_the_allowance_is_healthy(config_file, capsys, status):
    add_scan(config_file, NOW - timedelta(hours=25, minutes=10), status)
    code, out = run(config_file, capsys)
    assert code == 0, out
    assert out == ("healthy: the last successful scan started 1d 1h 10m ago (2026-05-09T10:50:00+00:00); "
                   "1d 1h 16m allowed\n")


def test_a_good_scan_past_the_allowance_is_unhealthy(config_file, capsys):
    add_scan(config_file, NOW - timedelta(hours=25, minutes=20), "ok")
    code, out = run(config_file, capsys)
    assert code == 1
    assert out == ("unhealthy: the last successful scan started 1d 1h 20m ago (2026-05-09T10:40:00+00:00), "
                   "more than the 1d 1h 16m allowed\n")


@pytest.mark.parametrize("status", ["failed", "interrupted", None])
def test_recent_scans_that_did_not_succeed_do_not_count(config_file, capsys, status):
    add_scan(config_file, NOW - timedelta(days=3), "ok")
    add_scan(config_file, NOW - timedelta(hours=1), status)
    code, out = run(config_file, capsys)
    assert code == 1
    assert "started 3d 0h 0m ago" in out


def test_max_age_replaces_the_allowance(config_file, capsys):
    add_scan(config_file, NOW - timedelta(hours=3), "ok")
    assert run(config_file, capsys, "--max-age", "14400")[0] == 0
    code, out = run(config_file, capsys, "--max-age", "7200")
    assert code == 1 and "more than the 2h 0m allowed" in out
    code, out = run(config_file, capsys, "--max-age", "1")
    assert code == 1 and "more than the 1s allowed" in out


def test_a_longer_schedule_allows_longer(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text('[state]\npath = "s.sqlite"\n[schedule]\ncron = "0 3 * * 1"\nmisfire_grace_seconds = 60\n\n' + SNOW)
    assert health.allowed_age(load_config(path), NOW) == timedelta(days=7, seconds=60 + 900 + 60)


@pytest.mark.parametrize("bad", ["0", "-5", "soon"])
def test_a_bad_max_age_is_unhealthy_not_dockers_reserved_2(config_file, capsys, bad):
    with pytest.raises(SystemExit) as exit_info:
        health.main(["--config", str(config_file), "--max-age", bad], now=NOW)
    assert exit_info.value.code == 1
    assert "unhealthy:" in capsys.readouterr().err


def test_a_broken_config_is_unhealthy_with_its_file_and_key(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text('[schedule]\ncron = "every night"\n\n' + SNOW)
    code, out = run(path, capsys)
    assert code == 1
    assert out.startswith("unhealthy: ") and "config.toml" in out and "schedule.cron" in out
    assert "Traceback" not in out


def test_a_state_file_that_is_not_sqlite_is_unhealthy(config_file, capsys):
    state = config_file.parent / "state"
    state.mkdir()
    (state / "csi.sqlite").write_bytes(b"not a database, " * 64)
    code, out = run(config_file, capsys)
    assert code == 1 and out.startswith("unhealthy: ")


def test_as_the_image_runs_it_a_module_reading_csi_coach_config(config_file):
    add_scan(config_file, datetime.now(UTC) - timedelta(minutes=30), "ok")
    env = {**os.environ, "CSI_COACH_CONFIG": str(config_file)}
    done = subprocess.run([sys.executable, "-m", "csi_coach.commands.health"], capture_output=True, text=True,
                          env=env, cwd=config_file.parent, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("healthy: the last successful scan started 0h 3")
    assert done.stderr == ""
