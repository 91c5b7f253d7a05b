"""A broken answer is not an empty answer (issue 10): a 200 whose body is empty, an HTML page or
JSON cut off is a source error on every Jira read path, never "no issues" and never "gone"."""

from __future__ import annotations

import pytest
import responses

from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.errors import AmbiguousWrite, TransientError
from csi_coach.model import Record
from support.jira import CLOUD, DC, load, set_secrets, settings

HTML = "<!DOCTYPE html><html><head><title>Log in - SSO</title></head><body>Sign in</body></html>"
BROKEN = {
    "empty": {"body": "", "content_type": "application/json"},
    "html": {"body": HTML, "content_type": "text/html;charset=UTF-8"},
    "html-as-json": {"body": HTML, "content_type": "application/json"},  # a proxy that lies about the type
    "truncated": {"body": '{"issues": [{"key": "CSI-1", "fields": {"summ', "content_type": "application/json"},
}


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    set_secrets(monkeypatch)


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def base_of(flavor: str) -> str:
    return DC if flavor == "server" else CLOUD


def add_myself(rsps, flavor: str) -> None:
    rsps.get(f"{base_of(flavor)}/rest/api/2/myself",
             json=load("myself_datacenter.json" if flavor == "server" else "myself_cloud.json"))


def search_url(flavor: str) -> str:
    return f"{base_of(flavor)}/rest/api/2/search" + ("" if flavor == "server" else "/jql")


def connector(flavor: str) -> JiraConnector:
    return JiraConnector(settings(flavor, method="pat" if flavor == "server" else "basic"), None)


@pytest.mark.parametrize("flavor", ["cloud", "server"])
@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_search_page_fails_the_listing(rsps, flavor, kind):
    add_myself(rsps, flavor)
    rsps.get(search_url(flavor), status=200, **BROKEN[kind])
    with connector(flavor) as jira, pytest.raises(TransientError) as info:
        list(jira.fetch(None))
    message = str(info.value)
    assert "jira-test" in message and "search issues" in message
    if kind.startswith("html"):
        assert "the server answered with an HTML page, probably a login or proxy page, not the Jira API" in message
        assert "JSONDecodeError" not in message
    elif kind == "empty":
        assert "empty body" in message
    else:
        assert "not complete JSON" in message


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_a_search_answer_without_an_issues_list_fails_the_listing(rsps, flavor):
    add_myself(rsps, flavor)
    rsps.get(search_url(flavor), json={"errorMessages": []})
    with connector(flavor) as jira, pytest.raises(TransientError, match="no 'issues' list"):
        list(jira.fetch(None))


@pytest.mark.parametrize("flavor", ["cloud", "server"])
@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_answer_to_a_look_up_in_scope_is_not_gone(rsps, flavor, kind):
    rsps.get(search_url(flavor), status=200, **BROKEN[kind])
    with connector(flavor) as jira, pytest.raises(TransientError):
        jira.get_in_scope("CSI-7")


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_only_a_well_formed_search_without_the_issue_says_gone(rsps, flavor):
    body = {"issues": [], "isLast": True} if flavor == "cloud" else {"startAt": 0, "maxResults": 1, "total": 0,
                                                                    "issues": []}
    rsps.get(search_url(flavor), json=body)
    with connector(flavor) as jira:
        assert jira.get_in_scope("CSI-7") is None


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_answer_to_a_get_by_key_is_an_error_and_only_404_is_none(rsps, kind):
    rsps.get(f"{CLOUD}/rest/api/2/issue/CSI-7", status=200, **BROKEN[kind])
    rsps.get(f"{CLOUD}/rest/api/2/issue/CSI-8", status=404,
             json={"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}})
    with connector("cloud") as jira:
        with pytest.raises(TransientError):
            jira.get("CSI-7")
        assert jira.get("CSI-8") is None


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_answer_to_a_comment_look_up_is_an_error_not_no_comments(rsps, kind):
    rsps.get(f"{DC}/rest/api/2/myself", json=load("myself_datacenter.json"))
    rsps.get(f"{DC}/rest/api/2/issue/CSI-7/comment", status=200, **BROKEN[kind])
    record = Record(source="jira-test", key="CSI-7", number="CSI-7", url="", title="")
    with connector("server") as jira, pytest.raises(TransientError):
        jira.bot_comments(record)


@pytest.mark.parametrize("kind", ["empty", "html"])
def test_a_write_answered_with_a_broken_body_may_have_landed(rsps, kind):
    rsps.post(f"{CLOUD}/rest/api/2/issue/CSI-7/comment", status=200, **BROKEN[kind])
    record = Record(source="jira-test", key="CSI-7", number="CSI-7", url="", title="")
    with connector("cloud") as jira, pytest.raises(AmbiguousWrite):
        jira.post(record, "h4. Coaching", "csi-coach:0123456789abcdef")
    assert len(rsps.calls) == 1  # never written twice
