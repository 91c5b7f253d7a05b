"""Fixtures shared by the connector unit tests."""

from __future__ import annotations

import pytest
import responses


@pytest.fixture
def rsps():
    """Mocked HTTP for ``requests``: every response registered must be asked for."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as r:
        yield r
