"""Only journal entries written by the bot's own account are the bot's (issue 13, finding 10).

A work note by anyone containing ``csi-coach:<hash>`` once made the bot believe it had
already coached. ``bot_comments`` now keeps an entry only when its ``sys_created_by`` is
the bot's user name: ``bot_user`` from the config, else the login user (basic, OAuth
password grant), else one ``sys_user`` look-up of the caller (client credentials, API key).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import responses

from csi_coach.config import AuthSettings, CommentPolicy, Config, ServiceNowSettings, StateSettings
from csi_coach.connectors.servicenow.connector import ServiceNowConnector
from csi_coach.connectors.transport import RetryPolicy
from csi_coach.errors import ConfigError
from csi_coach.model import MARKER_RE, Category, Finding, Record, Severity, Verdict
from csi_coach.sandbox.servicenow.server import ServiceNowSandbox
from csi_coach.scan.runner import run_scan
from support.scan_fake import FakeRenderer
from support.servicenow import INSTANCE, JOURNAL_URL, LAST, USER, connector, page, params_of
from support.servicenow_sandbox import ENV, open_for

SYS_ID = "9d385017c611228701d22104cc95c371"
RECORD = Record(source="snow", key=SYS_ID, number="CIM0001001", url="", title="t")
USERS_URL = f"{INSTANCE}/api/now/table/sys_user"
TABLE = "sn_cim_register"


def entry(n: int, text: str, author: str) -> dict:
    return {"sys_id": f"{n:032x}", "value": text, "sys_created_on": f"2026-03-0{n + 1} 08:00:00",
            "sys_created_by": author}


# --------------------------------------------------------------------------- the connector


def test_a_marker_written_by_another_user_is_not_the_bots(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, JOURNAL_URL, headers=LAST, json=page([
        entry(0, "Copied from the bot: csi-coach:0123456789abcdef", "beth.anglin"),
        entry(1, "Coaching note\n\ncsi-coach:fedcba9876543210", USER),
        entry(2, "csi-coach:aaaaaaaaaaaaaaaa", ""),  # no author shown: not provably the bot's
    ]))
    found = c.bot_comments(RECORD)
    assert [b.marker for b in found] == ["csi-coach:fedcba9876543210"]
    assert "sys_created_by" in params_of(rsps.calls[0].request.url)["sysparm_fields"].split(",")


def test_the_author_is_compared_without_regard_to_case(rsps, monkeypatch):
    # ServiceNow's user names are not case sensitive at login: "CSI-Coach" logs in as csi-coach
    c, _ = connector(monkeypatch)
    monkeypatch.setenv("T_SN_USER", "CSI-Coach")  # the login name as the admin typed it
    rsps.add(responses.GET, JOURNAL_URL, headers=LAST, json=page([entry(0, "n csi-coach:0123456789abcdef", USER)]))
    assert len(c.bot_comments(RECORD)) == 1


def test_bot_user_in_the_config_is_who_the_bot_is(rsps, monkeypatch):
    c, _ = connector(monkeypatch, bot_user="svc.csi")
    rsps.add(responses.GET, JOURNAL_URL, headers=LAST, json=page([
        entry(0, "n csi-coach:0123456789abcdef", USER),  # the login user, but not the configured one
        entry(1, "n csi-coach:fedcba9876543210", "svc.csi"),
    ]))
    assert [b.marker for b in c.bot_comments(RECORD)] == ["csi-coach:fedcba9876543210"]


def test_an_api_key_bot_is_looked_up_once_and_must_be_one_user(rsps, monkeypatch):
    c, _ = connector(monkeypatch, "api_key")
    rsps.add(responses.GET, USERS_URL, json=page([{"user_name": "svc.key", "sys_id": "1" * 32}]))
    rsps.add(responses.GET, JOURNAL_URL, headers=LAST, json=page([entry(0, "n csi-coach:0123456789abcdef", "svc.key")]))
    assert len(c.bot_comments(RECORD)) == 1
    assert len(c.bot_comments(RECORD)) == 1
    looks = [call for call in rsps.calls if call.request.url.startswith(USERS_URL)]
    assert len(looks) == 1  # once per connector
    q = params_of(looks[0].request.url)
    assert q["sysparm_query"] == "sys_id=javascript:gs.getUserID()" and q["sysparm_limit"] == "2"


@pytest.mark.parametrize("users", [[], [{"user_name": "admin"}, {"user_name": "beth.anglin"}]],
                         ids=["no row", "every user (the term was ignored)"])
def test_a_look_up_that_does_not_name_one_user_asks_for_bot_user(rsps, monkeypatch, users):
    c, _ = connector(monkeypatch, "oauth_client_credentials")
    rsps.add(responses.POST, f"{INSTANCE}/oauth_token.do",
             json={"access_token": "tok-1", "token_type": "Bearer", "expires_in": 1800})
    rsps.add(responses.GET, USERS_URL, json=page(users))
    with pytest.raises(ConfigError) as exc:
        c.bot_comments(RECORD)
    assert exc.value.key == "sources.snow.bot_user"
    assert not [call for call in rsps.calls if call.request.url.startswith(JOURNAL_URL)]  # nothing taken on trust


@pytest.mark.parametrize("method", ["oauth_client_credentials", "api_key"])
def test_the_sandbox_names_the_caller_for_client_credentials_and_api_keys(env, method):
    with ServiceNowSandbox(records=3, seed=2) as snow:
        sys_id = snow.store.table(TABLE).rows[0]["sys_id"]
        record = Record(source="snow", key=sys_id, number="CIM", url="", title="")
        snow.store.update(snow.store.table(TABLE), sys_id, {"work_notes": "forged csi-coach:0123456789abcdef"},
                          "beth.anglin")
        with open_for(snow, method) as c:
            assert c.bot_user() == "csi-coach"
            assert c.bot_comments(record) == []
            c.post(record, "coaching", "csi-coach:fedcba9876543210")
            assert [b.marker for b in c.bot_comments(record)] == ["csi-coach:fedcba9876543210"]


# --------------------------------------------------------------------------- a whole scan


@pytest.fixture
def sandbox_env(monkeypatch):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


def scan_config(tmp_path, url: str) -> Config:
    snow = ServiceNowSettings(name="snow", url=url, timeout_seconds=10,
                              auth=AuthSettings(method="basic", username_env="E2E_SN_USER",
                                                password_env="E2E_SN_PASSWORD"))
    return Config(path=tmp_path / "config.toml", state=StateSettings(path="state/s.sqlite"),
                  comments=CommentPolicy(workers=1), sources=(snow,))


def scan(config: Config, target: str, **kw):
    def evaluate(record: Record) -> Verdict:
        if record.key == target:
            return Verdict(Category.PROCESS_ONLY, measurable=False,
                           findings=(Finding("process-only", Severity.WARNING, "process metric only"),))
        return Verdict(Category.VALUE, measurable=True)

    def open_snow(settings, limiters):
        return ServiceNowConnector.open(settings, limiters=limiters, policy=RetryPolicy(backoff_base=0.01))

    return run_scan(config, evaluate=evaluate, renderer=FakeRenderer(), open_connector=open_snow,
                    fingerprint="fp", **kw)


def the_marker_the_bot_would_write(config: Config, target: str) -> str:
    tasks: list = []
    scan(config, target, dry_run=True, on_dry_write=tasks.append)
    assert [t.record.key for t in tasks] == [target]
    return MARKER_RE.search(tasks[0].body).group(0)


def entries_on(snow: ServiceNowSandbox, sys_id: str) -> list[tuple[str, str]]:
    journal = snow.store.table("sys_journal_field").rows
    return [(row["sys_created_by"], row["value"]) for row in journal if row["element_id"] == sys_id]


@pytest.mark.parametrize("author, coached", [("beth.anglin", True), ("csi-coach", False)],
                         ids=["forged by another user: coached", "the bot's own: not coached again"])
def test_only_the_bots_own_marker_stops_coaching(tmp_path, sandbox_env, author, coached):
    with ServiceNowSandbox(records=4, seed=5) as snow:
        target = next(r["sys_id"] for r in snow.store.table(TABLE).rows if r["active"] == "true")  # not closed
        config = scan_config(tmp_path, snow.url)
        marker = the_marker_the_bot_would_write(config, target)
        # the exact marker of the finding, in a work note by ``author``; the state file knows nothing
        snow.store.update(snow.store.table(TABLE), target, {"work_notes": f"Seen before: {marker}"}, author)

        result = scan(config, target)

        assert result.exit_code == 0 and result.total("written") == (1 if coached else 0)
        by_bot = [text for who, text in entries_on(snow, target) if who == "csi-coach" and marker in text]
        assert len(by_bot) == 1  # the bot's coaching, exactly once: new, or the one already there
        again = scan(config, target)  # and a second scan writes nothing either way
        assert again.total("written") == 0
        assert len([1 for who, text in entries_on(snow, target) if who == "csi-coach" and marker in text]) == 1


def test_a_config_bot_user_names_another_account(tmp_path, sandbox_env):
    # the bot logs in as csi-coach but is told it writes as someone else: its entries are not its own
    with ServiceNowSandbox(records=2, seed=5) as snow:
        config = scan_config(tmp_path, snow.url)
        config = replace(config, sources=(replace(config.sources[0], bot_user="svc.other"),))
        with ServiceNowConnector.open(config.sources[0], limiters=None) as c:
            sys_id = snow.store.table(TABLE).rows[0]["sys_id"]
            record = Record(source="snow", key=sys_id, number="CIM", url="", title="")
            c.post(record, "coaching", "csi-coach:fedcba9876543210")
            assert c.bot_comments(record) == []
