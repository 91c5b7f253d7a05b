"""Shared helpers for the ServiceNow connector and transport tests (no tests here).

Fixtures under tests/fixtures/servicenow/ are JSON in the shapes ServiceNow
documents: Table API results with sysparm_display_value=all give
``{"display_value", "value"}`` per field; errors are
``{"error": {"message", "detail"}, "status": "failure"}``; /oauth_token.do
answers access_token, refresh_token, token_type, expires_in.
"""

from __future__ import annotations

import copy
import json
import random
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from csi_coach.config import AuthSettings, ServiceNowSettings
from csi_coach.connectors.servicenow.connector import ServiceNowConnector
from csi_coach.connectors.transport import Limiters, RetryPolicy, build_session
from support import paths

FIXTURES = paths.FIXTURES / "servicenow"
INSTANCE = "https://acme.service-now.com"
TABLE_URL = f"{INSTANCE}/api/now/table/sn_cim_register"
JOURNAL_URL = f"{INSTANCE}/api/now/table/sys_journal_field"
TOKEN_URL = f"{INSTANCE}/oauth_token.do"

USER, PASSWORD = "csi-coach", "Pw-S3cr3t-snow-41x"
CLIENT_ID, CLIENT_SECRET = "client-id-7788", "CS-S3cr3t-client-55"
API_KEY = "APIKEY-S3cr3t-9931"
SECRETS = (PASSWORD, CLIENT_SECRET, API_KEY, "OAUTH-ACCESS-1-Zq9", "OAUTH-REFRESH-1-Xy7", "OAUTH-ACCESS-2-Pp4")
ENV = {
    "T_SN_USER": USER,
    "T_SN_PASSWORD": PASSWORD,
    "T_SN_CLIENT_ID": CLIENT_ID,
    "T_SN_CLIENT_SECRET": CLIENT_SECRET,
    "T_SN_API_KEY": API_KEY,
}
AUTH = {
    "basic": AuthSettings(method="basic", username_env="T_SN_USER", password_env="T_SN_PASSWORD"),
    "oauth_password": AuthSettings(method="oauth_password", username_env="T_SN_USER", password_env="T_SN_PASSWORD",
                                   client_id_env="T_SN_CLIENT_ID", client_secret_env="T_SN_CLIENT_SECRET"),
    "oauth_client_credentials": AuthSettings(method="oauth_client_credentials", client_id_env="T_SN_CLIENT_ID",
                                             client_secret_env="T_SN_CLIENT_SECRET"),
    "api_key": AuthSettings(method="api_key", api_key_env="T_SN_API_KEY"),
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def settings(method: str = "basic", **changes: Any) -> ServiceNowSettings:
    base = ServiceNowSettings(name="snow", url=INSTANCE, auth=AUTH[method])
    return replace(base, **changes)


class FakeTime:
    """A monotonic and a wall clock that only move when someone sleeps. Thread-safe."""

    def __init__(self, wall: float = 1_772_000_000.0) -> None:
        self._lock = threading.Lock()
        self.now = 0.0
        self.wall0 = wall
        self.sleeps: list[tuple[str, float]] = []

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def time(self) -> float:
        with self._lock:
            return self.wall0 + self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append((threading.current_thread().name, seconds))
            self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    @property
    def slept(self) -> list[float]:
        return [s for _, s in self.sleeps]


def make_session(clock: FakeTime, *, policy: RetryPolicy | None = None, limiters: Limiters | None = None):
    limiters = limiters or Limiters(clock=clock.monotonic, wall=clock.time)
    return build_session(INSTANCE, policy=policy or RetryPolicy(), limiters=limiters,
                         sleep=clock.sleep, rng=random.Random(7))


# The wall-clock moment every test connector's listing starts at (its upper bound,
# ``sys_updated_on<=2026-03-02 00:00:00``): after every stamp the fixtures use.
LISTING_NOW = datetime(2026, 3, 2, tzinfo=UTC)


def connector(monkeypatch, method: str = "basic", *, clock: FakeTime | None = None,
              policy: RetryPolicy | None = None, now: Callable[[], datetime] = lambda: LISTING_NOW,
              **changes: Any) -> tuple[ServiceNowConnector, FakeTime]:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    clock = clock or FakeTime()
    session = make_session(clock, policy=policy)
    return ServiceNowConnector(settings(method, **changes), session, clock=clock.monotonic, now=now), clock


def record_item(n: int, updated: str, **fields: str) -> dict[str, Any]:
    """The fixture record with a distinct sys_id/number and the given sys_updated_on value."""
    item = copy.deepcopy(load("cim_record.json"))
    sys_id = f"{n:032x}"
    item["sys_id"] = {"display_value": sys_id, "value": sys_id}
    item["number"] = {"display_value": f"CIM{n:07d}", "value": f"CIM{n:07d}"}
    item["sys_updated_on"] = {"display_value": updated, "value": updated}
    for k, v in fields.items():
        item[k] = {"display_value": v, "value": v}
    return item


def params_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


# The Link header ServiceNow sends with a page (sysparm_no_count=true: no X-Total-Count).
# Rows hidden by read ACLs leave a page short, so only rel="next" says more follow.
LAST = {"Link": f'<{TABLE_URL}?sysparm_offset=0>;rel="first"'}
NEXT = {"Link": f'<{TABLE_URL}?sysparm_offset=0>;rel="first",<{TABLE_URL}?sysparm_offset=2>;rel="next"'}


def page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"result": items}


def matches_query(item: dict[str, Any], query: str) -> bool:
    """Whether a row matches an encoded query of comparisons (``>= <= > < =``) joined by ``^``,
    ``^OR`` joining a condition to the one before it; ORDERBY terms are ignored. Field values
    may be plain or ``{"value": ...}`` pairs. Enough for the mini tables that page in tests."""
    terms: list[list[str]] = []
    for part in query.split("^"):
        if not part or part.startswith("ORDERBY"):
            continue
        if part.startswith("OR"):
            terms[-1].append(part[2:])
        else:
            terms.append([part])

    def holds(cond: str) -> bool:
        m = re.fullmatch(r"(\w+)(>=|<=|>|<|=)(.*)", cond)
        if m is None or m.group(1) not in item:
            return True  # LIKE, fields a mini table does not keep: it holds only matching rows
        value = item.get(m.group(1), "")
        actual, want = str(value.get("value") if isinstance(value, dict) else value), m.group(3)
        return {">=": actual >= want, "<=": actual <= want, ">": actual > want, "<": actual < want,
                "=": actual == want}[m.group(2)]

    return all(any(holds(c) for c in term) for term in terms)
