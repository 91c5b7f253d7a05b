"""Jira failures become the project's error tree, with Jira's own words and the fix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.connectors.jira.errors import retry_after_seconds
from csi_coach.errors import (
    AuthError,
    BadRequest,
    Gone,
    NotFound,
    PermissionDenied,
    RateLimited,
    TransientError,
)
from csi_coach.model import Record
from support.jira import CLOUD, DC, TOKEN, load, set_secrets, settings

RECORD = Record(source="jira-test", key="CSI-1", number="CSI-1", url="", title="")



@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    set_secrets(monkeypatch)


def fetch_error(rsps, status, body=None, headers=None, flavor="cloud"):
    base = DC if flavor == "server" else CLOUD
    rsps.get(f"{base}/rest/api/2/myself", json=load("myself_cloud.json"))
    endpoint = "search/jql" if flavor == "cloud" else "search"
    rsps.get(f"{base}/rest/api/2/{endpoint}", status=status, json=body, headers=headers or {})
    with JiraConnector(settings(flavor), None) as jira:
        with pytest.raises(Exception) as info:
            list(jira.fetch(None))
    return info.value


def test_401_is_auth_error_naming_the_variables_not_the_secret(rsps):
    err = fetch_error(rsps, 401, load("error_401.json"))
    assert isinstance(err, AuthError) and err.status == 401
    text = str(err)
    assert "$CSI_TEST_JIRA_EMAIL" in text and "$CSI_TEST_JIRA_TOKEN" in text
    assert "Login Required" in text
    assert TOKEN not in text


def test_403_on_search_names_browse_projects(rsps):
    err = fetch_error(rsps, 403, {"errorMessages": ["No permission"], "errors": {}})
    assert isinstance(err, PermissionDenied) and "'Browse projects'" in str(err)


def test_403_on_comment_names_add_comments_and_jiras_field_error(rsps):
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", status=403, json=load("error_403_comment.json"))
    with JiraConnector(settings("cloud"), None) as jira:
        with pytest.raises(PermissionDenied) as info:
            jira.post(RECORD, "body", "csi-coach:0123456789abcdef")
    assert "'Add comments'" in str(info.value)
    assert "comment: You do not have the permission to comment on this issue." in str(info.value)
    assert len(rsps.calls) == 1  # a refusal is not retried


def test_403_captcha_is_an_auth_problem(rsps):
    err = fetch_error(rsps, 403, None, {"X-Authentication-Denied-Reason": "CAPTCHA_CHALLENGE; login-url=https://x/login.jsp"})
    assert isinstance(err, AuthError) and "CAPTCHA_CHALLENGE" in str(err)


def test_404_on_comments_is_not_found(rsps):
    rsps.get(f"{CLOUD}/rest/api/2/myself", json=load("myself_cloud.json"))
    rsps.get(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", status=404, json=load("error_404.json"))
    with JiraConnector(settings("cloud"), None) as jira:
        with pytest.raises(NotFound) as info:
            jira.bot_comments(RECORD)
    assert "Issue does not exist" in str(info.value) and "Browse projects" in str(info.value)


def test_410_from_removed_cloud_search_names_the_flavor_setting(rsps):
    err = fetch_error(rsps, 410, load("error_410_search_removed.json"), flavor="server")
    assert isinstance(err, Gone) and err.status == 410
    assert 'flavor = "cloud"' in str(err) and "[sources.jira-test]" in str(err)
    assert "CHANGE-2046" in str(err)


def test_400_bad_jql_quotes_jira(rsps):
    err = fetch_error(rsps, 400, load("error_400_jql.json"))
    assert isinstance(err, BadRequest) and "reserved JQL character" in str(err)


def test_500_is_transient(rsps):
    err = fetch_error(rsps, 500, {"errorMessages": ["Internal server error"], "errors": {}})
    assert isinstance(err, TransientError) and "HTTP 500" in str(err)


def test_429_left_over_is_rate_limited_with_the_wait(rsps):
    err = fetch_error(rsps, 429, {"errorMessages": ["Rate limit exceeded."], "errors": {}}, {"Retry-After": "120"})
    assert isinstance(err, RateLimited) and err.retry_after == 120.0


def test_connection_reset_on_read_is_transient(rsps):
    rsps.get(f"{CLOUD}/rest/api/2/myself", body=requests.ConnectionError("Connection reset by peer"))
    with JiraConnector(settings("cloud"), None) as jira:
        with pytest.raises(TransientError) as info:
            list(jira.fetch(None))
    assert "connection failed" in str(info.value)
    assert type(info.value) is TransientError  # a read is never "ambiguous"


def test_connection_refused_on_post_is_not_ambiguous(rsps):
    from urllib3.exceptions import NewConnectionError

    refused = requests.ConnectionError(NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused"))
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-1/comment", body=refused)
    with JiraConnector(settings("cloud"), None) as jira:
        with pytest.raises(TransientError) as info:
            jira.post(RECORD, "body", "csi-coach:0123456789abcdef")
    assert type(info.value) is TransientError
    assert len(rsps.calls) == 1  # nothing was sent, so no marker check was needed


def test_retry_after_and_rate_limit_reset_parsing():
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

    def resp(headers):
        r = requests.Response()
        r.status_code = 429
        r.headers.update(headers)
        return r

    assert retry_after_seconds(resp({"Retry-After": "30"}), now=now) == 30
    assert retry_after_seconds(resp({"X-RateLimit-Reset": "2026-11-25T10:02Z"}), now=now) == 120
    assert retry_after_seconds(resp({"X-RateLimit-Reset": str((now + timedelta(seconds=45)).timestamp())}), now=now) == 45
    assert retry_after_seconds(resp({"Retry-After": "Wed, 25 Nov 2026 10:01:00 GMT"}), now=now) == 60
    assert retry_after_seconds(resp({}), now=now) is None
    # a small number is a delta, as the transport reads it (not a Unix time long past)
    assert retry_after_seconds(resp({"X-RateLimit-Reset": "30"}), now=now) == 30


def test_rate_limit_wait_agrees_with_the_transport_and_prefers_what_it_computed():
    from csi_coach.connectors.transport import wait_from_headers

    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    r = requests.Response()
    r.status_code = 429
    for headers in ({"X-RateLimit-Reset": "45"}, {"X-RateLimit-Reset": "2026-11-25T10:03Z"},
                    {"Retry-After": "7", "X-RateLimit-Reset": "2026-11-25T10:03Z"}):
        r.headers.clear()
        r.headers.update(headers)
        assert retry_after_seconds(r, now=now) == wait_from_headers(r.headers, status=429, now=now.timestamp())
    r.retry_after = 12.5  # the adapter's figure when it handed the 429 back
    assert retry_after_seconds(r, now=now) == 12.5


def test_the_jira_library_never_retries_or_sleeps_itself(rsps, monkeypatch):
    import jira.resilientsession as lib

    def no_sleep(seconds):
        raise AssertionError(f"the jira library slept {seconds} s")

    monkeypatch.setattr(lib.time, "sleep", no_sleep)
    err = fetch_error(rsps, 429, {"errorMessages": ["Rate limit exceeded."], "errors": {}}, {"Retry-After": "5"})
    assert isinstance(err, RateLimited)
    assert len(rsps.calls) == 2  # myself + one search: the retry belongs to our transport alone
