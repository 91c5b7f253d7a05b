"""Atlassian's own Python client (the `jira` library) works against the sandbox, both flavors."""

from __future__ import annotations

import pytest
from jira import JIRA, JIRAError

from csi_coach.sandbox.jira.server import JiraSandbox
from csi_coach.sandbox.seed import generate
from support.sandbox_jira import BASIC, post

RECORDS, SEED = 140, 4


@pytest.fixture(scope="module", params=["cloud", "server"])
def site(request):
    with JiraSandbox(flavor=request.param, records=RECORDS, seed=SEED) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def client(site):
    jira = JIRA(server=site.url, basic_auth=BASIC, options={"check_update": False})
    yield jira
    jira.close()


def seeded_keys(label: str) -> set[str]:
    """Straight from the seed, not through the server: which issues carry the label."""
    return {f"CSI-{rec.index + 1}" for rec in generate("jira", RECORDS, SEED) if label in rec.labels}


def test_the_library_sees_the_flavor_and_the_project(site, client):
    assert client.deploymentType == ("Cloud" if site.flavor == "cloud" else "Server")
    assert [p.key for p in client.projects()] == ["CSI"]
    assert client.myself()["displayName"] == "CSI Coach"
    assert "Value goal" in {f["name"] for f in client.fields()}


def test_search_returns_what_the_seed_holds(site, client):
    jql = "project = CSI AND labels = kaizen ORDER BY key ASC"
    if site.flavor == "cloud":
        found = client.enhanced_search_issues(jql, maxResults=0, fields="summary,labels")  # every page
        first = client.search_issues(jql, maxResults=5)  # the library routes Cloud to search/jql
        assert [i.key for i in first] == [i.key for i in found][:5]
    else:
        found = client.search_issues(jql, maxResults=False, fields="summary,labels")
        assert found.total == len(seeded_keys("kaizen"))
    keys = [issue.key for issue in found]
    assert set(keys) == seeded_keys("kaizen") and len(keys) == len(set(keys))
    assert keys == sorted(keys, key=lambda k: int(k.split("-")[1]))
    assert all("kaizen" in issue.fields.labels for issue in found)


def test_issue_fields_through_the_library(client):
    issue = client.issue("CSI-3")
    rec = next(r for r in generate("jira", 3, SEED) if r.index == 2)
    assert issue.fields.summary == rec.title
    assert (issue.fields.customfield_10050 or "") == rec.goal
    assert issue.fields.issuetype.name == "Improvement" and issue.fields.project.key == "CSI"
    assert [c.name for c in issue.fields.components] == [rec.service]
    assert issue.fields.assignee.displayName == rec.owner


def test_add_list_and_edit_comments(site, client):
    before = site.notifications
    made = client.add_comment("CSI-11", "First *coaching* note", visibility={"type": "role", "value": "Service Owners"})
    assert made.body == "First *coaching* note" and made.author.displayName == "CSI Coach"
    made.update(body="Edited note", notify=False)
    listed = client.comments("CSI-11")
    assert [c.body for c in listed if c.id == made.id] == ["Edited note"]
    assert site.notifications == before + 1  # the edit asked for no e-mail
    newest_first = client.comments("CSI-11", order_by="-created")
    assert [c.id for c in newest_first] == [c.id for c in sorted(listed, key=lambda c: c.created, reverse=True)]
    internal = client.add_comment("CSI-11", "agents only", is_internal=True)
    stored = client.comment("CSI-11", internal.id, expand="properties")
    assert stored.raw["properties"] == [{"key": "sd.public.comment", "value": {"internal": True}}]


def test_only_the_author_may_edit_a_comment(site, client):
    someone_elses = next(c for c in (client.comments(f"CSI-{n}") for n in range(1, RECORDS + 1)) if c)[0]
    assert someone_elses.author.displayName != "CSI Coach"
    with pytest.raises(JIRAError) as caught:
        someone_elses.update(body="hijacked")
    assert caught.value.status_code == 403


def test_issue_edit_changes_labels_and_updated(client):
    issue = client.issue("CSI-20")
    before = issue.fields.updated
    issue.update(fields={"labels": ["csi", "value-review"]})  # the library reloads the issue after PUT
    again = client.issue("CSI-20")
    assert again.fields.labels == ["csi", "value-review"]
    assert again.fields.updated > before


def test_unknown_issue_is_a_404_the_library_reports(client):
    with pytest.raises(JIRAError) as caught:
        client.issue("CSI-99999")
    assert caught.value.status_code == 404
    assert "does not exist" in caught.value.text


def test_comment_list_endpoint_for_the_library_session(site, client):
    made = client.add_comment("CSI-12", "listed")
    page = post(site.url, "/rest/api/2/comment/list", {"ids": [int(made.id)]}).json()
    assert [c["id"] for c in page["values"]] == [made.id]
