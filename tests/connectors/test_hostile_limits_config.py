"""[sources.NAME] request_deadline_seconds, max_response_bytes and max_field_chars (issue 13,
findings 6 and 8): their defaults, that the connectors hand them to the session, and config
errors that name the file, line and key."""

from __future__ import annotations

import pytest

from csi_coach.config import load_config
from csi_coach.connectors import open_connector
from csi_coach.connectors.transport import Limiters, ResilientAdapter
from csi_coach.errors import ConfigError
from support.paths import ROOT

SOURCE = """\
[sources.{name}]
type = "{kind}"
url = "https://acme.example.com"
{extra}
[sources.{name}.auth]
method = "basic"
username_env = "T_USER"
{secret}_env = "T_SECRET"
"""


def load(tmp_path, extra: str = "", kind: str = "servicenow"):
    secret = "password" if kind == "servicenow" else "token"
    path = tmp_path / "config.toml"
    path.write_text(SOURCE.format(name="src", kind=kind, extra=extra, secret=secret), encoding="utf-8")
    return load_config(path).source("src")


@pytest.mark.parametrize("kind", ["servicenow", "jira"])
def test_defaults(tmp_path, kind):
    s = load(tmp_path, "", kind)
    assert (s.request_deadline_seconds, s.max_response_bytes, s.max_field_chars) == (120.0, 20 * 1024 * 1024, 100_000)


def test_the_deadline_follows_timeout_seconds_unless_set(tmp_path):
    assert load(tmp_path, "timeout_seconds = 2").request_deadline_seconds == 8
    assert load(tmp_path, "timeout_seconds = 2\nrequest_deadline_seconds = 5").request_deadline_seconds == 5


def test_the_example_config_loads_with_the_defaults():
    s = load_config(ROOT / "config.example.toml").source("jira")
    assert s.request_deadline_seconds == 4 * s.timeout_seconds and s.max_field_chars == 100_000


@pytest.mark.parametrize("line, key", [
    ("request_deadline_seconds = 0", "request_deadline_seconds"),
    ('max_response_bytes = "20 MB"', "max_response_bytes"),
    ("max_response_bytes = 1000", "max_response_bytes"),
    ("max_field_chars = 10", "max_field_chars"),
])
def test_a_bad_value_names_file_line_and_key(tmp_path, line, key):
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, line)
    assert f"config.toml:4 [sources.src.{key}]" in str(exc.value)


@pytest.mark.parametrize("kind", ["servicenow", "jira"])
def test_the_connectors_give_the_limits_to_their_session(tmp_path, monkeypatch, kind):
    monkeypatch.setenv("T_USER", "u")
    monkeypatch.setenv("T_SECRET", "s3cr3t-value")
    s = load(tmp_path, "request_deadline_seconds = 7\nmax_response_bytes = 100000\n"
             + ('flavor = "cloud"\njql = "project = X"' if kind == "jira" else ""), kind)
    conn = open_connector(s, limiters=Limiters())
    session = conn.client._session if kind == "jira" else conn.session
    adapter = session.get_adapter(s.url + "/x")
    assert isinstance(adapter, ResilientAdapter)
    assert (adapter.deadline, adapter.max_response_bytes) == (7, 100_000)
