"""Fixtures for the ServiceNow connector tests that talk to the sandbox."""

import pytest

from support.servicenow_sandbox import ENV


@pytest.fixture
def env(monkeypatch):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
