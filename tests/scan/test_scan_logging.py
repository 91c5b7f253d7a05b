"""logsetup: plain or JSON lines at the configured level; console quiet on a terminal."""

from __future__ import annotations

import json
import logging

import pytest

from csi_coach import logsetup
from csi_coach.config import LoggingSettings
from csi_coach.errors import ConfigError


@pytest.fixture(autouse=True)
def _restore_logging():
    yield
    logsetup.reset()


def test_json_lines_to_a_file(tmp_path):
    path = tmp_path / "logs" / "coach.log"
    logsetup.configure(LoggingSettings(level="debug", format="json"), log_file=path, interactive=False)
    logging.getLogger("csi_coach.scan").info("coached %s", "CIM1")
    entry = json.loads(path.read_text().splitlines()[-1])
    assert entry["message"] == "coached CIM1" and entry["level"] == "info" and entry["logger"] == "csi_coach.scan"


def test_level_filters_and_terminal_console_shows_warnings_only(tmp_path, capsys):
    path = tmp_path / "c.log"
    logsetup.configure(LoggingSettings(level="info"), log_file=path, interactive=True)
    log = logging.getLogger("csi_coach.scan")
    log.debug("hidden")
    log.info("to the file only")
    log.warning("everywhere")
    err = capsys.readouterr().err
    text = path.read_text()
    assert "hidden" not in text and "to the file only" in text and "everywhere" in text
    assert "to the file only" not in err and "everywhere" in err


def test_unknown_level_is_a_config_error():
    with pytest.raises(ConfigError, match="logging.level"):
        logsetup.configure(LoggingSettings(level="loud"))


def test_a_log_file_that_cannot_be_opened_is_a_config_error_and_keeps_the_old_handlers(tmp_path):
    (tmp_path / "a-folder.log").mkdir()  # opening a folder for appending fails for everyone, root too
    logsetup.configure(LoggingSettings(level="info"), log_file=tmp_path / "ok.log", interactive=False)
    with pytest.raises(ConfigError) as info:
        logsetup.configure(LoggingSettings(level="info"), log_file=tmp_path / "a-folder.log",
                           interactive=False, config_file="/etc/csi/config.toml")
    text = str(info.value)
    assert "/etc/csi/config.toml [logging.file]" in text and str(tmp_path / "a-folder.log") in text
    logging.getLogger("csi_coach.scan").info("still logged")
    assert "still logged" in (tmp_path / "ok.log").read_text()


def test_a_real_scan_with_faults_logs_connector_retries_as_json_to_the_file_once(tmp_path):
    """The command, on the sandbox with 5xx faults: debug lines from the connectors reach
    the log file as JSON, no line is written twice, and stderr stays empty (no terminal)."""
    import os
    import re
    import subprocess
    import sys

    from csi_coach.commands.demo import EXAMPLE, demo_config_text
    from csi_coach.sandbox.cli import start_sandbox
    from csi_coach.sandbox.faults import Faults
    from support.paths import BOT
    from support.rules import with_small_rules

    log = tmp_path / "logs" / "bot.log"
    with start_sandbox("127.0.0.1", 0, 0, "cloud", 30, 2, Faults(error_rate=0.3, seed=5)) as pair:
        info = pair.info()
        text = demo_config_text(EXAMPLE.read_text(), snow_url=info["servicenow"]["url"],
                                jira_url=info["jira"]["url"], state_file=tmp_path / "s.sqlite")
        text = re.sub(r'(?m)^level = "info".*$', 'level = "debug"', text)
        text = re.sub(r'(?m)^format = "plain".*$', 'format = "json"', text)
        text = re.sub(r'(?m)^file = "".*$', 'file = "' + str(log) + '"', text)
        text = re.sub(r"(?m)^settle_after_seconds = 60", "settle_after_seconds = 1", text)
        text = with_small_rules(text, tmp_path)  # the logging is the subject, not the rules
        (tmp_path / "config.toml").write_text(text)
        proc = subprocess.run([sys.executable, str(BOT), "scan", "--config", str(tmp_path / "config.toml")],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path,
                              env={**os.environ, **info["env"]})
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.stderr == ""
    lines = log.read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is JSON
    assert len(lines) == len(set(lines))  # none written twice
    loggers = {e["logger"] for e in entries}
    assert any(name.startswith("csi_coach.connectors.") for name in loggers), loggers
    assert any("retry" in e["message"] and e["logger"].startswith("csi_coach.connectors.") for e in entries)
    assert all(name.startswith("csi_coach") or name in logsetup.LIBRARY_LOGGERS for name in loggers)
