"""[sources.NAME] max_pages (every source) and bot_user (ServiceNow), issue 13 findings 2 and 10."""

from __future__ import annotations

import pytest

from csi_coach.config import load_config
from csi_coach.errors import ConfigError
from support.config import SNOW

JIRA = """\
[sources.jira]
type = "jira"
url = "https://example.atlassian.net"
flavor = "cloud"
max_pages = 40

[sources.jira.auth]
method = "basic"
username_env = "JIRA_EMAIL"
token_env = "JIRA_TOKEN"
"""


def load(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def with_line(line: str) -> str:
    return SNOW.replace('url = "https://example.service-now.com"\n', f'url = "https://example.service-now.com"\n{line}\n')


def test_defaults_and_values(tmp_path):
    (snow,) = load(tmp_path, SNOW).sources
    assert snow.max_pages == 10_000 and snow.bot_user == ""
    (snow,) = load(tmp_path, with_line('max_pages = 250\nbot_user = " svc.csi-coach "')).sources
    assert snow.max_pages == 250 and snow.bot_user == "svc.csi-coach"
    (jira,) = load(tmp_path, JIRA).sources
    assert jira.max_pages == 40


@pytest.mark.parametrize("line, key, line_no, words", [
    ("max_pages = 0", "sources.snow.max_pages", 4, ["out of range", "from 1 to 1000000"]),
    ('max_pages = "many"', "sources.snow.max_pages", 4, ["whole number"]),
    ('bot_user = "a^b"', "sources.snow.bot_user", 4, ["not a ServiceNow user name", "user_name"]),
], ids=["zero pages", "not a number", "a query in the user name"])
def test_bad_values_name_file_line_key_and_what_is_expected(tmp_path, line, key, line_no, words):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, with_line(line))
    err = info.value
    assert err.key == key and err.line == line_no and err.file == str(tmp_path / "config.toml")
    for word in words:
        assert word in str(err), (word, str(err))


def test_bot_user_is_servicenow_only(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, JIRA.replace("max_pages = 40", 'bot_user = "x"'))
    assert "bot_user" in str(info.value)
