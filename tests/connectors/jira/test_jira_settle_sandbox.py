"""End to end over 127.0.0.1: a Jira that saves a comment after the bot stopped waiting.

The sandbox's comment POST sleeps past the client's timeout and only then saves
the comment (a slow Jira under load). The connector must send one POST and
raise AmbiguousWrite; at the end of the scan, ``settle_after_seconds`` after it,
the scan looks for the marker and finds it: one comment on the issue, the row
posted with that comment's id. When the POST was lost, the look finds nothing
and the comment is written once more. When the scan is stopped before it looks,
the ledger row stays pending and the next scan settles it.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import replace

import pytest

from csi_coach.config import JIRA_FIELDS, AuthSettings, CommentPolicy, Config, JiraSettings, StateSettings
from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.model import Category, Finding, Record, Severity, Verdict
from csi_coach.sandbox.jira.server import JiraSandbox
from csi_coach.scan.runner import run_scan
from csi_coach.scan.state import StateStore
from support.scan_fake import FakeRenderer

TARGET = "CSI-2"
CLIENT_TIMEOUT = 0.5  # seconds the bot waits for an answer
SERVER_DELAY = 1.5  # the sandbox saves the comment this long after receiving it


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.setenv("CSI_SETTLE_JIRA_EMAIL", "csi-coach@example.com")
    monkeypatch.setenv("CSI_SETTLE_JIRA_TOKEN", "sandbox-jira-token")


def evaluate(record: Record) -> Verdict:
    """Only TARGET needs coaching; every other issue has a value goal (no write)."""
    if record.key == TARGET:
        return Verdict(Category.PROCESS_ONLY, measurable=False,
                       findings=(Finding("process-only", Severity.WARNING, "process metric only"),))
    return Verdict(Category.VALUE, measurable=True)


SETTLE_AFTER = 3  # seconds: longer than SERVER_DELAY, as an admin would set it


def make_config(tmp_path, url: str) -> Config:
    jira = JiraSettings(
        name="jira", url=url, flavor="cloud", jql="project = CSI", page_size=50, timeout_seconds=CLIENT_TIMEOUT,
        auth=AuthSettings(method="basic", username_env="CSI_SETTLE_JIRA_EMAIL", token_env="CSI_SETTLE_JIRA_TOKEN"),
        fields=replace(JIRA_FIELDS, goal=("customfield_10050",)),
    )
    return Config(path=tmp_path / "config.toml", state=StateSettings(path="state/s.sqlite"),
                  comments=CommentPolicy(workers=1, settle_after_seconds=SETTLE_AFTER), sources=(jira,))


def scan(config: Config, stop: threading.Event | None = None):
    from csi_coach.connectors.transport import RetryPolicy

    def open_jira(settings, limiters):
        return JiraConnector.open(settings, limiters=limiters, policy=RetryPolicy(backoff_base=0.01))

    return run_scan(config, evaluate=evaluate, renderer=FakeRenderer(), open_connector=open_jira, fingerprint="fp",
                    stop=stop)


def posts(sandbox: JiraSandbox) -> int:
    with urllib.request.urlopen(sandbox.url + "/_sandbox/stats") as resp:
        counts = json.load(resp)["requests"]
    return sum(n for route, n in counts.items() if route.startswith("POST ") and route.endswith("/comment"))


def bot_comments(config: Config) -> list:
    with JiraConnector(config.sources[0]) as jira:
        return jira.bot_comments(Record(source="jira", key=TARGET, number=TARGET, url="", title=""))


def ledger(tmp_path) -> list:
    with StateStore(tmp_path / "state" / "s.sqlite") as store:
        return store.ledger_for("jira", TARGET)


def slow_posts(sandbox: JiraSandbox, *, save: bool):
    """Make the sandbox's comment POST answer only after SERVER_DELAY; ``save`` decides
    whether the comment is then saved (a slow commit) or lost. Returns an Event set when done."""
    original = sandbox._add_comment
    done = threading.Event()

    def slow(req, row, shape, user):
        time.sleep(SERVER_DELAY)
        try:
            if save:
                return original(req, row, shape, user)
            raise ConnectionError("lost")
        finally:
            sandbox._add_comment = original  # only the first POST is slow
            done.set()

    sandbox._add_comment = slow
    return done


def test_a_comment_saved_after_the_client_timed_out_is_found_not_duplicated(tmp_path):
    with JiraSandbox(flavor="cloud", records=4, seed=1).start() as sandbox:
        assert sandbox.wait_ready(60)
        config = make_config(tmp_path, sandbox.url)
        saved = slow_posts(sandbox, save=True)

        started = time.monotonic()
        first = scan(config)  # looks SETTLE_AFTER seconds after the timeout: saved by then
        assert time.monotonic() - started >= SETTLE_AFTER
        assert saved.is_set()
        comments = bot_comments(config)
        assert posts(sandbox) == 1  # never written again
    assert len(comments) == 1
    assert first.summary()["written"] == 1 and first.summary()["failed"] == 0
    assert [(r.state, r.comment_id) for r in ledger(tmp_path)] == [("posted", comments[0].ref.comment_id)]


def test_a_scan_stopped_before_it_looks_leaves_the_write_for_the_next_scan(tmp_path):
    with JiraSandbox(flavor="cloud", records=4, seed=1).start() as sandbox:
        assert sandbox.wait_ready(60)
        config = make_config(tmp_path, sandbox.url)
        saved = slow_posts(sandbox, save=True)

        stop = threading.Event()
        threading.Timer(CLIENT_TIMEOUT + 1.0, stop.set).start()  # SIGTERM while it waits to look
        first = scan(config, stop)
        assert posts(sandbox) == 1
        assert first.summary()["written"] == 0 and first.summary()["failed"] == 1
        assert [r.state for r in ledger(tmp_path)] == ["pending"]

        assert saved.wait(30)  # the slow Jira has now saved it
        second = scan(config)
        comments = bot_comments(config)
        assert posts(sandbox) == 1
    assert len(comments) == 1  # exactly one comment on the issue
    rows = ledger(tmp_path)
    assert [(r.state, r.comment_id) for r in rows] == [("posted", comments[0].ref.comment_id)]
    assert second.summary()["written"] == 0 and second.summary()["failed"] == 0


def test_a_comment_lost_after_the_client_timed_out_is_written_once_more(tmp_path):
    with JiraSandbox(flavor="cloud", records=4, seed=1).start() as sandbox:
        assert sandbox.wait_ready(60)
        config = make_config(tmp_path, sandbox.url)
        lost = slow_posts(sandbox, save=False)

        first = scan(config)
        assert lost.is_set()
        comments = bot_comments(config)
        assert posts(sandbox) == 2  # the lost one, then one write after the look found nothing
    assert len(comments) == 1
    assert first.summary()["written"] == 1 and first.summary()["failed"] == 0
    assert [(r.state, r.comment_id) for r in ledger(tmp_path)] == [("posted", comments[0].ref.comment_id)]
