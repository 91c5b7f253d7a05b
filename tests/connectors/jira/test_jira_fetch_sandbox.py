"""End to end over 127.0.0.1: fetching while the scan comments, against the Jira sandbox (both flavors).

Each comment bumps the issue's ``updated``, so it jumps to the end of the
``ORDER BY updated`` search. Plain ``startAt`` paging then skips the issue that
slid into the gap (JRASERVER-69860); these tests check that every issue is
still read, and with one request per page and nothing else.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace

import pytest

from csi_coach.config import JIRA_FIELDS, AuthSettings, JiraSettings
from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.connectors.transport import Limiters
from csi_coach.sandbox.jira.server import JiraSandbox

RECORDS = 300
PAGE = 50
MARKER = "csi-coach:0123456789abcdef"


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.setenv("CSI_E2E_JIRA_EMAIL", "csi-coach@example.com")
    monkeypatch.setenv("CSI_E2E_JIRA_TOKEN", "sandbox-jira-token")


def requests_seen(sandbox: JiraSandbox) -> dict[str, int]:
    with urllib.request.urlopen(sandbox.url + "/_sandbox/stats") as resp:
        return json.load(resp)["requests"]


@pytest.mark.parametrize("flavor", ["server", "cloud"])
def test_every_issue_is_read_while_the_scan_comments_between_pages(flavor, monkeypatch):
    with JiraSandbox(flavor=flavor, records=RECORDS, seed=3).start() as sandbox:
        assert sandbox.wait_ready(60)
        settings = JiraSettings(
            name="jira-e2e", url=sandbox.url, flavor=flavor, jql="project = CSI", page_size=PAGE,
            auth=AuthSettings(method="basic", username_env="CSI_E2E_JIRA_EMAIL", token_env="CSI_E2E_JIRA_TOKEN"),
            fields=replace(JIRA_FIELDS, goal=("customfield_10050",)),
        )
        page_sizes: list[int] = []
        search_get = JiraConnector._get

        def counting_get(self, path, params, action, check=None):
            data = search_get(self, path, params, action, check)
            if path.startswith("search"):
                page_sizes.append(len(data.get("issues") or []))
            return data

        monkeypatch.setattr(JiraConnector, "_get", counting_get)
        before = requests_seen(sandbox)
        first_seen: list[str] = []
        written: set[str] = set()
        yields = 0
        with JiraConnector.open(settings, limiters=Limiters()) as jira:
            for record in jira.fetch(None):
                yields += 1
                if record.key in first_seen:
                    assert record.key in written  # only an issue we changed comes round again
                    continue
                first_seen.append(record.key)
                if len(first_seen) % 10 == 1:  # the 1st, 11th, 21st ... issue gets a comment
                    jira.post(record, f"h4. Coaching {MARKER}", MARKER)
                    written.add(record.key)
        after = requests_seen(sandbox)

    assert len(first_seen) == RECORDS  # none skipped
    assert sorted(first_seen, key=lambda k: int(k.split("-")[1])) == [f"CSI-{n}" for n in range(1, RECORDS + 1)]
    assert len(written) == RECORDS // 10
    assert yields <= RECORDS + len(written)
    made = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
    search = "GET /rest/api/2/search/jql" if flavor == "cloud" else "GET /rest/api/2/search"
    assert made == {"GET /rest/api/2/myself": 1, search: len(page_sizes),
                    "POST /rest/api/2/issue/{id}/comment": len(written)}
    # one request per page, and every page but the last a full one
    assert all(size == PAGE for size in page_sizes[:-1]) and 0 < page_sizes[-1] <= PAGE
    print(f"{flavor}: {RECORDS} issues, {len(written)} comments, {yields} yielded, "
          f"{len(page_sizes)} search requests of {PAGE}")
