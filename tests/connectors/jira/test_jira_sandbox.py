"""End to end over real HTTP on 127.0.0.1: the Jira connector against the Jira sandbox.

Both flavors, explicit and "auto"; counts every request the sandbox saw.
"""

from __future__ import annotations

import json
import math
import urllib.request
from dataclasses import replace
from datetime import timedelta

import pytest

from csi_coach.config import JIRA_FIELDS, AuthSettings, JiraSettings
from csi_coach.connectors import open_connector
from csi_coach.connectors.base import Connector
from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.connectors.transport import Limiters
from csi_coach.errors import Gone
from csi_coach.model import Record
from csi_coach.sandbox.jira.server import JiraSandbox

RECORDS = 150
PAGE = 20
MARKER_1 = "csi-coach:0123456789abcdef"
MARKER_2 = "csi-coach:1123456789abcdef"


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.setenv("CSI_E2E_JIRA_EMAIL", "csi-coach@example.com")
    monkeypatch.setenv("CSI_E2E_JIRA_TOKEN", "sandbox-jira-token")


def settings_for(url: str, flavor: str, **changes) -> JiraSettings:
    values = dict(
        name="jira-e2e", url=url, flavor=flavor, jql="project = CSI", page_size=PAGE,
        auth=AuthSettings(method="basic", username_env="CSI_E2E_JIRA_EMAIL", token_env="CSI_E2E_JIRA_TOKEN"),
        fields=replace(JIRA_FIELDS, goal=("customfield_10050",)),
    )
    values.update(changes)
    return JiraSettings(**values)


def stats(sandbox: JiraSandbox) -> dict[str, int]:
    with urllib.request.urlopen(sandbox.url + "/_sandbox/stats") as resp:
        return json.load(resp)["requests"]


@pytest.mark.parametrize("site,configured", [("cloud", "cloud"), ("server", "server"), ("cloud", "auto"),
                                             ("server", "auto")])
def test_scan_write_find_edit_against_the_sandbox(site, configured):
    with JiraSandbox(flavor=site, records=RECORDS, seed=11).start() as sandbox:
        s = settings_for(sandbox.url, configured, visibility_type="role", visibility_value="Service Owners")
        with open_connector(s, limiters=Limiters()) as jira:
            assert isinstance(jira, Connector) and jira.can_edit and jira.target == "jira"
            records = list(jira.fetch(None))
            assert all(isinstance(r, Record) for r in records)
            assert len({r.key for r in records}) == RECORDS
            updated = [r.updated for r in records]
            assert updated == sorted(updated)  # oldest first
            assert sum(1 for r in records if r.goal) > RECORDS // 2
            assert all(r.url == f"{sandbox.url}/browse/{r.key}" and r.container == "CSI" for r in records)

            target = records[0]
            before = [c for c in jira.bot_comments(target)]
            ref = jira.post(target, f"h4. Coaching\nfirst {{color:#97a0af}}{MARKER_1}{{color}}", MARKER_1, version="v1")
            mine = jira.bot_comments(target)
            assert [(c.ref.comment_id, c.marker) for c in mine if c.ref == ref] == [(ref.comment_id, MARKER_1)]
            jira.update(ref, f"h4. Coaching\nsecond {{color:#97a0af}}{MARKER_2}{{color}}", MARKER_2, version="v2")
            after = {c.ref.comment_id: c for c in jira.bot_comments(target)}
            assert after[ref.comment_id].marker == MARKER_2 and "second" in after[ref.comment_id].body
            assert len(after) == len(before) + 1

            newest = max(updated)
            recent = list(jira.fetch(newest - timedelta(minutes=1)))
            assert target.key in {r.key for r in recent}  # the comment bumped its updated time
            assert len(recent) < RECORDS

        seen = stats(sandbox)
        search = "GET /rest/api/2/search/jql" if site == "cloud" else "GET /rest/api/2/search"
        full_pages = math.ceil(RECORDS / PAGE)
        assert seen.get("GET /rest/api/2/myself") == 1
        assert seen.get("GET /rest/api/2/serverInfo", 0) == (1 if configured == "auto" else 0)
        assert seen[search] == full_pages + 1  # full scan + one page for the incremental one
        assert seen.get("POST /rest/api/2/issue/{id}/comment") == 1
        assert seen.get("PUT /rest/api/2/issue/{id}/comment/{id}") == 1
        assert seen.get("GET /rest/api/2/issue/{id}/comment") == 3  # the three bot_comments calls
        assert set(seen) <= {search, "GET /rest/api/2/myself", "GET /rest/api/2/serverInfo",
                             "POST /rest/api/2/issue/{id}/comment", "PUT /rest/api/2/issue/{id}/comment/{id}",
                             "GET /rest/api/2/issue/{id}/comment", "POST /rest/api/2/comment/list"}


def test_server_flavor_against_cloud_gets_gone_naming_flavor():
    with JiraSandbox(flavor="cloud", records=5, seed=2).start() as sandbox:
        with JiraConnector.open(settings_for(sandbox.url, "server"), limiters=Limiters()) as jira:
            with pytest.raises(Gone) as info:
                list(jira.fetch(None))
    assert 'flavor = "cloud"' in str(info.value)
