"""The Jira sandbox answers in the shapes of Atlassian's OpenAPI document (component schemas)."""

from __future__ import annotations

import pytest

from csi_coach.sandbox.jira.server import JiraSandbox
from support.sandbox_jira import BEARER, get, post, put, schema_errors


@pytest.fixture(scope="module")
def cloud():
    with JiraSandbox(flavor="cloud", records=60, seed=3) as site:
        yield site


@pytest.fixture(scope="module")
def server():
    with JiraSandbox(flavor="server", records=60, seed=3) as site:
        yield site


def conforms(resp, component: str, *, status: int = 200, array: bool = False):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert schema_errors(body, component, array=array) == []
    return body


@pytest.mark.parametrize("version", [2, 3])
def test_cloud_site_responses_match_the_schema(cloud, version):
    api = f"/rest/api/{version}"
    info = conforms(get(cloud.url, f"{api}/serverInfo"), "ServerInformation")
    assert info["deploymentType"] == "Cloud"
    me = conforms(get(cloud.url, f"{api}/myself"), "User")
    assert me["accountId"] and me["emailAddress"] == "csi-coach@example.com"
    fields = conforms(get(cloud.url, f"{api}/field"), "FieldDetails", array=True)
    assert {"id": "customfield_10050", "name": "Value goal"}.items() <= next(
        f for f in fields if f["id"] == "customfield_10050").items()

    params = {"jql": "project = CSI ORDER BY updated ASC", "maxResults": 5,
              "fields": "summary,description,customfield_10050,labels,components,assignee,status,updated,"
                        "created,project,issuetype,comment"}
    page = conforms(get(cloud.url, f"{api}/search/jql", params), "SearchAndReconcileResults")
    assert len(page["issues"]) == 5 and page["isLast"] is False
    for issue in page["issues"]:
        assert schema_errors(issue, "IssueBean") == []
        assert schema_errors(issue["fields"]["status"], "StatusDetails") == []
        if issue["fields"]["assignee"]:
            assert schema_errors(issue["fields"]["assignee"], "UserDetails") == []
    post_page = conforms(post(cloud.url, f"{api}/search/jql", {"jql": params["jql"], "maxResults": 3,
                                                               "fields": ["summary"]}), "SearchAndReconcileResults")
    assert [i["key"] for i in post_page["issues"]] == [i["key"] for i in page["issues"][:3]]
    conforms(get(cloud.url, f"{api}/issue/CSI-4"), "IssueBean")


@pytest.mark.parametrize("version", [2, 3])
def test_cloud_comment_responses_match_the_schema(cloud, version):
    api = f"/rest/api/{version}"
    body = "Coaching note" if version == 2 else {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Coaching note"}]}]}
    made = conforms(post(cloud.url, f"{api}/issue/CSI-9/comment", {
        "body": body, "visibility": {"type": "role", "value": "Service Owners"},
        "properties": [{"key": "csi-coach", "value": {"marker": "csi-coach:abc"}}]}), "Comment", status=201)
    conforms(put(cloud.url, f"{api}/issue/CSI-9/comment/{made['id']}", {"body": body},
                 {"notifyUsers": "false"}), "Comment")
    listed = conforms(get(cloud.url, f"{api}/issue/CSI-9/comment", {"expand": "properties"}), "PageOfComments")
    assert any(c["id"] == made["id"] and c["properties"] for c in listed["comments"])
    page = conforms(post(cloud.url, f"{api}/comment/list", {"ids": [int(made["id"])]}, {"expand": "properties"}),
                    "PageBeanComment")
    assert page["values"][0]["properties"] == [{"key": "csi-coach", "value": {"marker": "csi-coach:abc"}}]
    conforms(get(cloud.url, f"{api}/comment/{made['id']}/properties"), "PropertyKeys")
    conforms(get(cloud.url, f"{api}/comment/{made['id']}/properties/csi-coach"), "EntityProperty")


def test_server_site_responses_match_the_schema(server):
    auth = {"auth": None, "headers": BEARER}
    info = conforms(get(server.url, "/rest/api/2/serverInfo", **auth), "ServerInformation")
    assert info["deploymentType"] == "Server"
    me = conforms(get(server.url, "/rest/api/2/myself", **auth), "User")
    assert me["name"] == "csi-coach" and "accountId" not in me
    page = conforms(get(server.url, "/rest/api/2/search", {"jql": "project = CSI", "maxResults": 4}, **auth),
                    "SearchResults")
    assert page["total"] == 60 and page["startAt"] == 0 and len(page["issues"]) == 4
    conforms(get(server.url, "/rest/api/2/issue/CSI-1/comment", **auth), "PageOfComments")


def test_the_schema_check_can_fail(cloud):
    info = get(cloud.url, "/rest/api/2/serverInfo").json()
    assert schema_errors({**info, "defaultLocale": {"locale": "en"}}, "ServerInformation")  # not in the bean
    assert schema_errors({**info, "versionNumbers": "1.0"}, "ServerInformation")
