"""load_config: the example loads; every broken file names file, key, line and what is valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from csi_coach.config import JiraSettings, ServiceNowSettings, load_config
from csi_coach.errors import ConfigError
from support.config import SNOW
from support.paths import ROOT

JIRA = """\
[sources.jira]
type = "jira"
url = "https://example.atlassian.net"
flavor = "cloud"

[sources.jira.auth]
method = "basic"
username_env = "JIRA_EMAIL"
token_env = "JIRA_TOKEN"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.file == str(path)  # every error names the file
    assert str(path) in str(err)
    return err


def test_example_config_loads_with_both_sources():
    cfg = load_config(ROOT / "config.example.toml")
    snow, jira = cfg.sources
    assert isinstance(snow, ServiceNowSettings) and isinstance(jira, JiraSettings)
    assert snow.url == "http://127.0.0.1:8801" and snow.table == "sn_cim_register"
    assert snow.auth.username_env == "CSI_SNOW_USER" and snow.auth.password_env == "CSI_SNOW_PASSWORD"
    assert snow.fields.goal == ("benefit",) and snow.fields.title == "short_description"
    assert jira.flavor == "cloud" and jira.jql == "project = CSI"
    assert jira.auth.username_env == "CSI_JIRA_EMAIL" and jira.auth.token_env == "CSI_JIRA_TOKEN"
    assert jira.fields.goal == ("customfield_10050",) and jira.fields.labels == "labels"
    assert cfg.state.path == "state/csi-coach.sqlite" and cfg.schedule.cron == "0 2 * * *"
    assert cfg.rules == "default" and cfg.rules_spec() == "default"


def test_minimal_config_gets_defaults(tmp_path):
    cfg = load_config(write(tmp_path, SNOW))
    (snow,) = cfg.sources
    assert snow.page_size == 500 and snow.journal_field == "work_notes" and snow.verify_tls
    assert cfg.comments.opt_out_labels == ("csi-coach-skip",)
    assert cfg.resolve("state/x.sqlite") == tmp_path / "state/x.sqlite"


def test_empty_config_is_valid(tmp_path):
    assert load_config(write(tmp_path, "")).sources == ()


def test_field_mapping_is_a_partial_override(tmp_path):
    cfg = load_config(write(tmp_path, SNOW + '\n[sources.snow.fields]\ngoal = ["benefit", "u_value"]\nowner = "u_owner"\n'))
    fields = cfg.sources[0].fields
    assert fields.goal == ("benefit", "u_value") and fields.owner == "u_owner"
    assert fields.number == "number" and fields.updated == "sys_updated_on"


def test_other_auth_methods_and_jira_options(tmp_path):
    text = SNOW.replace('method = "basic"\nusername_env = "SNOW_USER"\npassword_env = "SNOW_PASSWORD"',
                        'method = "oauth_client_credentials"\nclient_id_env = "SNOW_ID"\nclient_secret_env = "SNOW_SECRET"')
    text += JIRA.replace('flavor = "cloud"', 'flavor = "server"\npage_size = 800\ninternal = true') \
        .replace('method = "basic"\nusername_env = "JIRA_EMAIL"\ntoken_env = "JIRA_TOKEN"', 'method = "pat"\ntoken_env = "JIRA_PAT"')
    text += '\n[sources.jira.visibility]\ntype = "role"\nvalue = "Service Owners"\n'
    snow, jira = load_config(write(tmp_path, text)).sources
    assert snow.auth.method == "oauth_client_credentials" and snow.auth.client_secret_env == "SNOW_SECRET"
    assert jira.auth.method == "pat" and jira.page_size == 800 and jira.internal
    assert (jira.visibility_type, jira.visibility_value) == ("role", "Service Owners")


def test_env_vars_are_not_read_when_loading(tmp_path, monkeypatch):
    monkeypatch.delenv("SNOW_PASSWORD", raising=False)
    cfg = load_config(write(tmp_path, SNOW))  # no error: the connector resolves secrets at connect time
    with pytest.raises(ConfigError, match="SNOW_PASSWORD is not set"):
        cfg.sources[0].auth.secret("password")
    monkeypatch.setenv("SNOW_PASSWORD", "s3cret-value")
    secret = cfg.sources[0].auth.secret("password")
    assert secret.reveal() == "s3cret-value" and "s3cret" not in repr(secret)


# (name, file text, key path in the error, line or None, substrings the message must contain)
BROKEN = [
    ("syntax error", SNOW + "page_size = = 3\n", None, 9, ["TOML syntax error", "column"]),
    ("duplicate table", SNOW + "[sources.snow]\ntype = \"jira\"\n", None, 9, ["TOML syntax error"]),
    ("unknown top-level key", 'rule = "default"\n' + SNOW, "rule", 1, ["unknown key 'rule'", "did you mean 'rules'", "templates_dir"]),
    ("unknown source key", SNOW.replace('type = "servicenow"', 'type = "servicenow"\ntabel = "x"'), "sources.snow.tabel", 3,
     ["unknown key 'tabel'", "did you mean 'table'", "journal_field"]),
    ("wrong type", SNOW.replace('type = "servicenow"', 'type = "servicenow"\npage_size = "500"'), "sources.snow.page_size", 3,
     ["whole number", "'500'", "from 1 to 10000"]),
    ("bad enum value", SNOW.replace('type = "servicenow"', 'type = "servicenow"\njournal_field = "worknotes"'),
     "sources.snow.journal_field", 3, ["'worknotes'", "work_notes, comments"]),
    ("missing url", SNOW.replace('url = "https://example.service-now.com"\n', ""), "sources.snow.url", 1, ["'url' is required"]),
    ("bad url scheme", SNOW.replace("https://example.service-now.com", "ftp://example.service-now.com"), "sources.snow.url", 3,
     ["ftp://", "http:// or https://"]),
    ("unknown source type", SNOW.replace('type = "servicenow"', 'type = "zendesk"'), "sources.snow.type", 2,
     ["'zendesk'", "servicenow, jira"]),
    ("servicenow page_size out of range", SNOW.replace('type = "servicenow"', 'type = "servicenow"\npage_size = 0'),
     "sources.snow.page_size", 3, ["out of range", "from 1 to 10000"]),
    ("jira cloud page_size out of range", JIRA.replace('flavor = "cloud"', 'flavor = "cloud"\npage_size = 500'),
     "sources.jira.page_size", 5, ["out of range", "from 1 to 100"]),
    ("bad cron", '[schedule]\ncron = "0 25 * * *"\n', "schedule.cron", 2, ["cron", "'0 25 * * *'", "minute hour"]),
    ("short cron", '[schedule]\ncron = "0 2 * *"\n', "schedule.cron", 2, ["Wrong number of fields"]),
    ("bad timezone", '[schedule]\ntimezone = "Mars/Olympus"\n', "schedule.timezone", 2, ["unknown time zone", "Europe/Berlin"]),
    ("auth key of another method", SNOW.replace('password_env = "SNOW_PASSWORD"', 'password_env = "SNOW_PASSWORD"\ntoken_env = "T"'),
     "sources.snow.auth.token_env", 9, ["not used by method 'basic'", "username_env, password_env"]),
    ("missing required env name", SNOW.replace('password_env = "SNOW_PASSWORD"\n', ""), "sources.snow.auth.password_env", 5,
     ["needs 'password_env'"]),
    ("unknown auth method", SNOW.replace('method = "basic"', 'method = "kerberos"'), "sources.snow.auth.method", 6,
     ["'kerberos'", "oauth_password", "api_key"]),
    ("jira method on servicenow", SNOW.replace('method = "basic"', 'method = "pat"'), "sources.snow.auth.method", 6, ["is a jira method", "api_key"]),
    ("bad visibility type", JIRA + '\n[sources.jira.visibility]\ntype = "team"\nvalue = "x"\n', "sources.jira.visibility.type", 12,
     ["'team'", "role, group"]),
    ("jql with order by", JIRA.replace('flavor = "cloud"', 'jql = "project = CSI ORDER BY created"'), "sources.jira.jql", 4,
     ["ORDER BY"]),
    ("servicenow query with orderby", SNOW.replace('type = "servicenow"', 'type = "servicenow"\nquery = "active=true^ORDERBYnumber"'),
     "sources.snow.query", 3, ["order"]),
    ("list item wrong type", '[comments]\nskip_states = ["closed", 3]\n', "comments.skip_states.1", 2, ["item 1", "non-empty string"]),
    ("coach a value category", '[comments]\ncoach_categories = ["value"]\n', "comments.coach_categories.0", 2,
     ["'value'", "process_only, no_goal"]),
    ("bool as string", '[comments]\nacknowledge_fixed = "yes"\n', "comments.acknowledge_fixed", 2, ["true or false"]),
    ("bad goal field", SNOW + '\n[sources.snow.fields]\ngoal = 5\n', "sources.snow.fields.goal", 11, ["field name or a list"]),
    ("unknown field key", SNOW + '\n[sources.snow.fields]\nbenefit = "x"\n', "sources.snow.fields.benefit", 11,
     ["unknown key 'benefit'", "goal"]),
    ("bad source name", SNOW.replace("sources.snow", "sources.\"my source\""), "sources.my source", None, ["source name"]),
    ("source not a table", 'sources = { snow = 3 }\n', "sources.snow", 1, ["must be a table"]),
    ("missing auth table", SNOW.split("[sources.snow.auth]")[0], "sources.snow.auth", 1, ["[sources.snow.auth] is required"]),
    ("templates dir missing", 'templates_dir = "my-templates"\n', "templates_dir", 1, ["does not exist", "my-templates"]),
    ("log level", '[logging]\nlevel = "loud"\n', "logging.level", 2, ["'loud'", "debug, info"]),
    ("timeout out of range", JIRA.replace('flavor = "cloud"', 'timeout_seconds = 0'), "sources.jira.timeout_seconds", 4,
     ["out of range"]),
]


@pytest.mark.parametrize("name,text,key,line,parts", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_config_is_explained(tmp_path, name, text, key, line, parts):
    err = load_error(tmp_path, text)
    message = str(err)
    assert err.key == key
    if key:
        assert f"[{key}]" in message
    if line is not None:
        assert err.line == line, message
        assert f"config.toml:{line}" in message
    for part in parts:
        assert part in message, (part, message)
    assert "Traceback" not in message


SECRETS = [
    ("inline password", SNOW.replace('password_env = "SNOW_PASSWORD"', 'password = "hunter2-Secret"'),
     "sources.snow.auth.password", "hunter2", ['password_env = "CSI_SNOW_PASSWORD"']),
    ("inline token in source table", JIRA.replace('flavor = "cloud"', 'token = "ATATT3xFfGF0abcdef"'),
     "sources.jira.token", "ATATT3x", ["token_env"]),
    ("inline api_key", SNOW.replace('method = "basic"\nusername_env = "SNOW_USER"\npassword_env = "SNOW_PASSWORD"',
                                    'method = "api_key"\napi_key = "now_abc123"'), "sources.snow.auth.api_key", "now_abc123", ["api_key_env"]),
    ("inline client_secret", SNOW.replace('password_env = "SNOW_PASSWORD"', 'client_secret = "cs-Value-9"'),
     "sources.snow.auth.client_secret", "cs-Value-9", ["client_secret_env"]),
    ("secret in url", SNOW.replace("https://example", "https://admin:Pa55w0rd@example"), "sources.snow.url", "Pa55w0rd",
     ["credentials written in the URL", "***@"]),
    ("secret where the env name goes", SNOW.replace('"SNOW_PASSWORD"', '"correct horse battery"'),
     "sources.snow.auth.password_env", "correct horse", ["NAME of an environment variable"]),
    ("token-like env name", JIRA.replace('"JIRA_TOKEN"', '"ATATT3xFfGF0T4kq9"'), "sources.jira.auth.token_env", "ATATT3x",
     ["NAME of an environment variable"]),
    ("top-level token", 'token = "abc-Secret-1"\n', "token", "abc-Secret-1", ["environment variable"]),
]


@pytest.mark.parametrize("name,text,key,secret,parts", SECRETS, ids=[s[0] for s in SECRETS])
def test_inline_secret_is_refused_without_echoing_it(tmp_path, name, text, key, secret, parts):
    err = load_error(tmp_path, text)
    message = str(err)
    assert err.key == key
    assert secret not in message and not err.has_got
    assert "environment variable" in message
    for part in parts:
        assert part in message, (part, message)


def test_missing_file_and_bad_encoding(tmp_path):
    with pytest.raises(ConfigError, match="not found") as info:
        load_config(tmp_path / "nope.toml")
    assert "config.example.toml" in str(info.value)
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'rules = "default"\n# caf\xe9\n')
    with pytest.raises(ConfigError, match="UTF-8") as info:
        load_config(path)
    assert info.value.line == 2
