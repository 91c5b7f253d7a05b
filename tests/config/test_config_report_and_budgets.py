"""[report] dir and [sources.NAME] max_writes_per_run (issue 14, item 7): defaults, relative
paths, and errors naming file, line, key, what was got and what is expected."""

from __future__ import annotations

import pytest

from csi_coach.config import load_config
from csi_coach.errors import ConfigError
from support.config import SNOW

JIRA = """
[sources.jira]
type = "jira"
url = "https://example.atlassian.net"
max_writes_per_run = 7

[sources.jira.auth]
method = "basic"
username_env = "JIRA_EMAIL"
token_env = "JIRA_TOKEN"
"""


def load(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def error(tmp_path, text) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return info.value


def test_defaults_no_report_and_no_per_source_budget(tmp_path):
    config = load(tmp_path, SNOW)
    assert config.report.dir == "" and config.report_folder() is None
    assert config.sources[0].max_writes_per_run is None


def test_report_dir_is_taken_from_the_config_files_folder(tmp_path):
    config = load(tmp_path, '[report]\ndir = "out/reports"\n' + SNOW)
    assert config.report_folder() == tmp_path / "out/reports"
    assert not (tmp_path / "out").exists()  # loading creates nothing


def test_per_source_budgets_on_both_kinds_of_source(tmp_path):
    config = load(tmp_path, SNOW.replace('url = "https://example.service-now.com"',
                                         'url = "https://example.service-now.com"\nmax_writes_per_run = 0') + JIRA)
    snow, jira = config.sources
    assert snow.max_writes_per_run == 0 and jira.max_writes_per_run == 7


@pytest.mark.parametrize("text, key, line, words", [
    ('[report]\ndir = "r"\nfolder = "x"\n', "report.folder", 3, ["unknown key 'folder'", "one of: dir"]),
    ("[report]\ndir = 5\n", "report.dir", 2, ["must be a string"]),
    ('[report]\ndir = "a-file"\n', "report.dir", 2, ["is a file, not a folder", "got 'a-file'", "a folder"]),
])
def test_a_bad_report_table_names_file_line_and_key(tmp_path, text, key, line, words):
    (tmp_path / "a-file").write_text("x")
    err = error(tmp_path, text + SNOW)
    assert err.key == key and err.line == line and err.file == str(tmp_path / "config.toml")
    for word in words:
        assert word in str(err)


@pytest.mark.parametrize("value, words", [("-1", ["out of range"]), ('"ten"', ["whole number"])])
def test_a_bad_per_source_budget_names_its_key(tmp_path, value, words):
    text = SNOW + JIRA.replace("max_writes_per_run = 7", f"max_writes_per_run = {value}")
    err = error(tmp_path, text)
    line = text.splitlines().index(f"max_writes_per_run = {value}") + 1
    assert err.key == "sources.jira.max_writes_per_run" and err.line == line
    for word in words:
        assert word in str(err)
