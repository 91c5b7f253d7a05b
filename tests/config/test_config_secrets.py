"""A secret variable missing at connect time is a config error that names the config file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from csi_coach.config import AuthSettings, load_config
from csi_coach.errors import ConfigError
from support.paths import ROOT


def copy_example(tmp_path: Path) -> Path:
    path = tmp_path / "config.example.toml"
    shutil.copyfile(ROOT / "config.example.toml", path)
    return path


def without_csi_vars() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CSI_")}


def test_loaded_auth_settings_name_their_file(tmp_path, monkeypatch):
    path = copy_example(tmp_path)
    cfg = load_config(path)
    for name in ("CSI_SNOW_USER", "CSI_SNOW_PASSWORD", "CSI_JIRA_EMAIL", "CSI_JIRA_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    snow, jira = cfg.sources
    # As connectors call it: a key, no file (connectors/jira.py passes none).
    with pytest.raises(ConfigError) as info:
        jira.auth.secret("token", key="sources.jira.auth.token_env")
    assert info.value.file == str(path)
    assert str(path) in str(info.value) and "<config>" not in str(info.value) and "CSI_JIRA_TOKEN" in str(info.value)
    with pytest.raises(ConfigError) as info:
        snow.auth.secret("password", file=None, key="sources.servicenow.auth.password_env")
    assert info.value.file == str(path)


def test_an_explicit_file_still_wins_and_settings_without_a_file_stay_equal(monkeypatch):
    monkeypatch.delenv("CSI_NOT_SET_ANYWHERE", raising=False)
    auth = AuthSettings(method="basic", username_env="CSI_NOT_SET_ANYWHERE", config_file="/etc/a.toml")
    with pytest.raises(ConfigError) as info:
        auth.secret("username", file="/etc/b.toml")
    assert info.value.file == "/etc/b.toml"
    # The file it came from is bookkeeping, not part of the settings' identity.
    assert auth == AuthSettings(method="basic", username_env="CSI_NOT_SET_ANYWHERE")


def test_servicenow_connector_error_names_the_file(tmp_path, monkeypatch):
    import requests

    from csi_coach.connectors.servicenow.connector import ServiceNowConnector

    path = copy_example(tmp_path)
    monkeypatch.delenv("CSI_SNOW_USER", raising=False)
    monkeypatch.delenv("CSI_SNOW_PASSWORD", raising=False)
    settings = load_config(path).source("servicenow")
    with pytest.raises(ConfigError) as info:
        ServiceNowConnector(settings, requests.Session())
    assert info.value.file == str(path) and info.value.key.startswith("sources.servicenow.auth.")


def test_scan_without_env_vars_names_the_config_file(tmp_path):
    path = copy_example(tmp_path)
    proc = subprocess.run([sys.executable, str(ROOT / "bot.py"), "scan", "--config", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, env=without_csi_vars())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"config error: {path}" in proc.stderr and "<config>" not in proc.stderr
    assert "is not set" in proc.stderr
