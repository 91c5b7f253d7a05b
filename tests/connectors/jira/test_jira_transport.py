"""The Jira connector on the project's transport: 429/Retry-After/X-RateLimit-Reset, 5xx, resets.

The jira library's own retries are off; the ResilientAdapter mounted on its
session does all waiting. A fake clock makes the waits instant and measurable.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
import requests
import responses

from csi_coach.connectors import open_connector
from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.connectors.transport import Limiters, ResilientAdapter, RetryPolicy, build_session
from csi_coach.errors import AmbiguousWrite, RateLimited, TransientError
from csi_coach.model import CommentRef, Record
from support.jira import CLOUD, load, path, set_secrets, settings

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC).timestamp()
RECORD = Record(source="jira-test", key="CSI-1", number="CSI-1", url="", title="")
MARKER = "csi-coach:0123456789abcdef"


class FakeTime:
    """Monotonic and wall clocks that only move when someone sleeps."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds

    def clock(self) -> float:
        return self.elapsed

    def wall(self) -> float:
        return NOW + self.elapsed


@pytest.fixture
def rsps():
    """Loose here (the shared one in conftest.py is strict): some tests register
    answers that a retry path may not need."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    set_secrets(monkeypatch)


@pytest.fixture
def clock():
    return FakeTime()


def connector(clock: FakeTime, policy: RetryPolicy | None = None, **changes) -> JiraConnector:
    s = settings("cloud", **changes)
    limiters = Limiters(clock=clock.clock, wall=clock.wall)
    session = build_session(s.url, policy=policy or RetryPolicy(), limiters=limiters, sleep=clock.sleep,
                            rng=random.Random(7))
    return JiraConnector(s, session)


def search(rsps, *steps):
    """Register the search endpoint answering with ``steps`` in order (status, headers)."""
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=load("myself_cloud.json"))
    for status, headers in steps:
        body = load("search_jql_page3.json") if status == 200 else {"errorMessages": [f"HTTP {status}"], "errors": {}}
        rsps.get(f"{CLOUD}/rest/api/2/search/jql", status=status, json=body, headers=headers)


def searches(rsps) -> int:
    return sum(1 for c in rsps.calls if path(c) == "/rest/api/2/search/jql")


def test_retry_after_is_waited_in_full_beyond_the_librarys_60_s_cap(rsps, clock):
    search(rsps, (429, {"Retry-After": "120"}), (200, {}))
    with connector(clock) as jira:
        assert len(list(jira.fetch(None))) == 2
    assert searches(rsps) == 2
    assert sum(clock.sleeps) == pytest.approx(120.0)


def test_x_ratelimit_reset_is_waited_until(rsps, clock):
    # Atlassian: ISO 8601 "yyyy-MM-ddTHH:mmZ", three minutes after NOW
    search(rsps, (429, {"X-RateLimit-Reset": "2026-11-25T10:03Z"}), (200, {}))
    with connector(clock) as jira:
        list(jira.fetch(None))
    assert searches(rsps) == 2
    assert sum(clock.sleeps) == pytest.approx(180.0)


def test_429_without_headers_backs_off_then_retries(rsps, clock):
    search(rsps, (429, {}), (429, {}), (200, {}))
    with connector(clock) as jira:
        list(jira.fetch(None))
    assert searches(rsps) == 3
    assert len(clock.sleeps) == 2 and all(s >= 0.5 for s in clock.sleeps)


def test_429_beyond_the_wait_budget_is_rate_limited(rsps, clock):
    search(rsps, (429, {"Retry-After": "3600"}))
    with connector(clock, RetryPolicy(max_wait=900)) as jira:
        with pytest.raises(RateLimited) as info:
            list(jira.fetch(None))
    assert info.value.retry_after == 3600
    assert searches(rsps) == 1 and clock.sleeps == []


def test_500_is_retried_then_succeeds(rsps, clock):
    search(rsps, (500, {}), (502, {}), (200, {}))
    with connector(clock) as jira:
        assert len(list(jira.fetch(None))) == 2
    assert searches(rsps) == 3


def test_500_that_persists_is_transient_after_the_attempts(rsps, clock):
    search(rsps, *[(500, {})] * 5)
    with connector(clock, RetryPolicy(attempts=3)) as jira:
        with pytest.raises(TransientError) as info:
            list(jira.fetch(None))
    assert searches(rsps) == 3 and "HTTP 500" in str(info.value)


def test_connection_reset_on_a_read_is_retried(rsps, clock):
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=load("myself_cloud.json"))
    rsps.get(f"{CLOUD}/rest/api/2/search/jql", body=requests.ConnectionError("Connection reset by peer"))
    rsps.get(f"{CLOUD}/rest/api/2/search/jql", json=load("search_jql_page3.json"))
    with connector(clock) as jira:
        assert len(list(jira.fetch(None))) == 2
    assert searches(rsps) == 2


def test_post_reset_after_sending_is_ambiguous_and_never_repeated(rsps, clock):
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", body=requests.ConnectionError("Connection reset by peer"))
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", status=201, json=load("comment_created.json"))
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=load("myself_cloud.json"))
    for n, start in ((1, 0), (2, 2), (3, 4)):
        rsps.get(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", json=load(f"comments_page{n}.json"),
                 match=[responses.matchers.query_param_matcher({"startAt": str(start)}, strict_match=False)])
    with connector(clock) as jira:
        with pytest.raises(AmbiguousWrite) as info:
            jira.post(RECORD, "body", MARKER)
    assert "Jira source 'jira-test' could not add a comment to CSI-1" in str(info.value)
    # neither the adapter nor the connector wrote again or looked: the pipeline settles it
    assert [(c.request.method, path(c)) for c in rsps.calls] == [("POST", "/rest/api/2/issue/CSI-1/comment")]


def test_post_read_timeout_is_ambiguous_after_one_post(rsps, clock):
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", body=requests.ReadTimeout("Read timed out."))
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", status=201, json=load("comment_created.json"))
    with connector(clock) as jira:
        with pytest.raises(AmbiguousWrite):
            jira.post(RECORD, "body", MARKER)
    assert len(rsps.calls) == 1


def test_put_read_timeout_is_retried_by_the_adapter(rsps, clock):
    url = f"{CLOUD}/rest/api/2/issue/CSI-1/comment/10011"
    rsps.put(url, body=requests.ReadTimeout("Read timed out."))
    rsps.put(url, json=load("comment_created.json"))
    with connector(clock) as jira:
        jira.update(CommentRef("jira-test", "CSI-1", "10011"), "body", MARKER)
    assert [c.request.method for c in rsps.calls] == ["PUT", "PUT"]  # idempotent: the same edit twice is one edit


def test_put_timing_out_every_try_is_raised_after_the_attempts(rsps, clock):
    url = f"{CLOUD}/rest/api/2/issue/CSI-1/comment/10011"
    rsps.put(url, body=requests.ReadTimeout("Read timed out."))
    with connector(clock, RetryPolicy(attempts=3)) as jira:
        with pytest.raises(TransientError):
            jira.update(CommentRef("jira-test", "CSI-1", "10011"), "body", MARKER)
    assert [c.request.method for c in rsps.calls] == ["PUT"] * 3


def test_comment_list_read_sent_as_post_is_transient_not_ambiguous(rsps, clock):
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=load("myself_cloud.json"))
    rsps.get(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", json=load("comments_no_properties.json"))
    rsps.post(f"{CLOUD}/rest/api/2/comment/list", body=requests.ReadTimeout("Read timed out."))
    with connector(clock) as jira:
        with pytest.raises(TransientError) as info:
            jira.bot_comments(RECORD)
    assert type(info.value) is TransientError  # a read: nothing may have been written
    assert path(rsps.calls[-1]) == "/rest/api/2/comment/list" and len(rsps.calls) == 3  # not retried as a write


def test_post_refused_with_503_is_retried_by_the_adapter(rsps, clock):
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", status=503, json={"errorMessages": ["busy"], "errors": {}})
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", status=201, json=load("comment_created.json"))
    with connector(clock) as jira:
        assert jira.post(RECORD, "body", MARKER).comment_id == "10050"
    assert len(rsps.calls) == 2


def test_put_edit_is_retried_on_500(rsps, clock):
    url = f"{CLOUD}/rest/api/2/issue/CSI-1/comment/10011"
    rsps.put(url, status=500, json={"errorMessages": ["oops"], "errors": {}})
    rsps.put(url, json=load("comment_created.json"))
    with connector(clock) as jira:
        jira.update(CommentRef("jira-test", "CSI-1", "10011"), "body", MARKER)
    assert len(rsps.calls) == 2


def test_one_429_holds_every_request_to_the_host(rsps, clock):
    """The 429 on the search also delays the next write (shared per-host limiter)."""
    search(rsps, (429, {"Retry-After": "30"}), (200, {}))
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", status=201, json=load("comment_created.json"))
    with connector(clock) as jira:
        list(jira.fetch(None))
        jira.post(RECORD, "body", MARKER)
    assert sum(clock.sleeps) == pytest.approx(30.0)


def test_registry_opens_the_jira_connector_with_the_resilient_adapter(rsps):
    search(rsps, (200, {}))
    with open_connector(settings("cloud"), limiters=Limiters()) as jira:
        assert isinstance(jira, JiraConnector)
        adapters = {type(a) for a in jira.client._session.adapters.values()}
        assert adapters == {ResilientAdapter}
        assert jira.client._session.max_retries == 0
        assert len(list(jira.fetch(None))) == 2
    assert rsps.calls[0].request.headers["User-Agent"].startswith("csi-coach")
