"""logsetup: plain or JSON lines at the configured level; console quiet on a terminal."""

from __future__ import annotations

import json
import logging

import pytest

import logsetup
from config import LoggingSettings
from errors import ConfigError


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
