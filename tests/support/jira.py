"""Shared helpers for the Jira connector tests (no tests here).

Fixtures under tests/fixtures/jira/ are JSON in the shapes Atlassian documents;
test_jira_schema.py validates each against their OpenAPI schema.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from csi_coach.config import JIRA_FIELDS, AuthSettings, JiraSettings
from support import paths

FIXTURES = paths.FIXTURES / "jira"
CLOUD = "https://example.atlassian.net"
DC = "https://jira.example.com"
EMAIL = "csi-coach@example.com"
TOKEN = "tok-S3cr3t-value-9f8e7d"
PAT = "pat-NjQ3MjA5-S3cr3t-PAT"
EMAIL_ENV = "CSI_TEST_JIRA_EMAIL"
TOKEN_ENV = "CSI_TEST_JIRA_TOKEN"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def settings(flavor: str = "cloud", *, url: str | None = None, method: str = "basic", **changes: Any) -> JiraSettings:
    if method == "basic":
        auth = AuthSettings(method="basic", username_env=EMAIL_ENV, token_env=TOKEN_ENV)
    else:
        auth = AuthSettings(method="pat", token_env=TOKEN_ENV)
    base = url or (DC if flavor == "server" else CLOUD)
    values: dict[str, Any] = dict(
        name="jira-test", url=base, auth=auth, flavor=flavor, jql="project = CSI",
        fields=replace(JIRA_FIELDS, goal=("customfield_10050",)), page_size=2,
    )
    values.update(changes)
    return JiraSettings(**values)


def set_secrets(monkeypatch, *, method: str = "basic") -> None:
    monkeypatch.setenv(EMAIL_ENV, EMAIL)
    monkeypatch.setenv(TOKEN_ENV, TOKEN if method == "basic" else PAT)


def query(call) -> dict[str, str]:
    """The query parameters of a recorded ``responses`` call, one value each."""
    return {k: v[-1] for k, v in parse_qs(urlsplit(call.request.url).query, keep_blank_values=True).items()}


def path(call) -> str:
    return urlsplit(call.request.url).path
