"""ServiceNow auth (basic, OAuth password / client credentials, API key), errors, secrets in logs."""

from __future__ import annotations

import base64
import logging
import threading
from urllib.parse import parse_qs

import pytest
import requests
import responses

from csi_coach.connectors.servicenow.auth import REFRESH_MARGIN
from csi_coach.connectors.transport import RetryPolicy
from csi_coach.errors import AuthError, BadRequest, PermissionDenied, RateLimited, TransientError
from csi_coach.model import Record
from support.servicenow import (
    API_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    JOURNAL_URL,
    LAST,
    PASSWORD,
    SECRETS,
    TABLE_URL,
    TOKEN_URL,
    USER,
    connector,
    load,
    page,
    record_item,
)

SYS_ID = "9d385017c611228701d22104cc95c371"
RECORD = Record(source="snow", key=SYS_ID, number="CIM0001001", url="", title="t")



def form(call) -> dict[str, str]:
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def token(n: int, expires_in: int = 1799, refresh: bool = True) -> dict:
    body = {"access_token": f"OAUTH-ACCESS-{n}-Zq9" if n == 1 else f"OAUTH-ACCESS-{n}-Pp4",
            "scope": "useraccount", "token_type": "Bearer", "expires_in": expires_in}
    if refresh:
        body["refresh_token"] = "OAUTH-REFRESH-1-Xy7"
    return body


# --------------------------------------------------------------------------- basic and API key


def test_basic_auth_header(rsps, monkeypatch):
    c, _ = connector(monkeypatch, "basic")
    rsps.add(responses.GET, TABLE_URL, json=page([]))
    list(c.fetch(None))
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert rsps.calls[0].request.headers["Authorization"] == expected


def test_api_key_header(rsps, monkeypatch):
    c, _ = connector(monkeypatch, "api_key")
    rsps.add(responses.GET, TABLE_URL, json=page([]))
    list(c.fetch(None))
    headers = rsps.calls[0].request.headers
    assert headers["x-sn-apikey"] == API_KEY
    assert "Authorization" not in headers


def test_401_is_an_auth_error_naming_the_variables(rsps, monkeypatch):
    c, _ = connector(monkeypatch, "basic")
    rsps.add(responses.GET, TABLE_URL, status=401, json=load("error_401.json"))
    with pytest.raises(AuthError) as exc:
        list(c.fetch(None))
    text = str(exc.value)
    assert "User Not Authenticated" in text and "Required to provide Auth information" in text
    assert "$T_SN_USER" in text and "$T_SN_PASSWORD" in text
    assert len(rsps.calls) == 1  # basic credentials are not "renewed"


def test_403_on_read_names_the_roles(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, TABLE_URL, status=403, json=load("error_403.json"))
    with pytest.raises(PermissionDenied) as exc:
        list(c.fetch(None))
    assert "read on sn_cim_register and on sys_journal_field" in str(exc.value)


def test_400_is_bad_request_with_the_vendor_message(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, TABLE_URL, status=400, json=load("error_400.json"))
    with pytest.raises(BadRequest) as exc:
        list(c.fetch(None))
    assert "Invalid sysparm_limit" in str(exc.value)


def test_get_500_and_reset_are_retried_then_succeed(rsps, monkeypatch):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, TABLE_URL, status=500)
    rsps.add(responses.GET, TABLE_URL, body=requests.ConnectionError("Connection reset by peer"))
    rsps.add(responses.GET, TABLE_URL, json=page([record_item(1, "2026-03-01 10:00:00")]), headers=LAST)
    assert len(list(c.fetch(None))) == 1
    assert len(rsps.calls) == 3


def test_get_500_outlasting_the_retries_is_transient(rsps, monkeypatch):
    c, _ = connector(monkeypatch, policy=RetryPolicy(attempts=2))
    rsps.add(responses.GET, TABLE_URL, status=500, json={"error": {"message": "Internal", "detail": None}, "status": "failure"})
    rsps.add(responses.GET, TABLE_URL, status=500, json={"error": {"message": "Internal", "detail": None}, "status": "failure"})
    with pytest.raises(TransientError):
        list(c.fetch(None))


@pytest.mark.parametrize("headers", [{"Retry-After": "2400"}, {"X-RateLimit-Reset": "+3000"}])
def test_429_beyond_the_budget_is_rate_limited_with_retry_after(rsps, monkeypatch, headers):
    c, clock = connector(monkeypatch)
    if "X-RateLimit-Reset" in headers:
        headers = {"X-RateLimit-Reset": str(int(clock.time()) + 3000), "X-RateLimit-Limit": "1000"}
    rsps.add(responses.GET, TABLE_URL, status=429, headers=headers, json=load("error_429.json"))
    with pytest.raises(RateLimited) as exc:
        list(c.fetch(None))
    assert exc.value.retry_after in (2400, 3000)
    assert "Rate limit exceeded" in str(exc.value)
    assert clock.slept == []


def test_429_within_the_budget_is_waited_out(rsps, monkeypatch):
    c, clock = connector(monkeypatch)
    rsps.add(responses.GET, TABLE_URL, status=429, headers={"Retry-After": "60"}, json=load("error_429.json"))
    rsps.add(responses.GET, TABLE_URL, json=page([]))
    list(c.fetch(None))
    assert clock.slept == [60]


# --------------------------------------------------------------------------- OAuth


def test_oauth_password_grant(rsps, monkeypatch):
    c, _ = connector(monkeypatch, "oauth_password")
    rsps.add(responses.POST, TOKEN_URL, json=load("oauth_token.json"))
    rsps.add(responses.GET, TABLE_URL, json=page([]))
    list(c.fetch(None))
    assert form(rsps.calls[0]) == {"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                   "username": USER, "password": PASSWORD}
    assert rsps.calls[1].request.headers["Authorization"] == "Bearer OAUTH-ACCESS-1-Zq9"


def test_oauth_client_credentials_grant(rsps, monkeypatch):
    c, _ = connector(monkeypatch, "oauth_client_credentials")
    rsps.add(responses.POST, TOKEN_URL, json=token(1, refresh=False))
    rsps.add(responses.GET, TABLE_URL, json=page([]))
    list(c.fetch(None))
    assert form(rsps.calls[0]) == {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                   "client_secret": CLIENT_SECRET}
    assert rsps.calls[1].request.headers["Authorization"] == "Bearer OAUTH-ACCESS-1-Zq9"


def test_oauth_token_is_reused_then_refreshed_before_expiry(rsps, monkeypatch):
    c, clock = connector(monkeypatch, "oauth_password")
    rsps.add(responses.POST, TOKEN_URL, json=token(1, expires_in=1800))
    rsps.add(responses.POST, TOKEN_URL, json=token(2, expires_in=1800))
    for _ in range(3):
        rsps.add(responses.GET, TABLE_URL, json=page([]), headers=LAST)
    list(c.fetch(None))
    clock.advance(1800 - REFRESH_MARGIN - 10)  # still valid with margin: reused
    list(c.fetch(None))
    clock.advance(20)  # inside the margin: renewed before it expires
    list(c.fetch(None))
    methods = [(call.request.method, call.request.url.split("?")[0]) for call in rsps.calls]
    assert methods == [("POST", TOKEN_URL), ("GET", TABLE_URL), ("GET", TABLE_URL), ("POST", TOKEN_URL), ("GET", TABLE_URL)]
    assert form(rsps.calls[3]) == {"grant_type": "refresh_token", "refresh_token": "OAUTH-REFRESH-1-Xy7",
                                   "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert rsps.calls[4].request.headers["Authorization"] == "Bearer OAUTH-ACCESS-2-Pp4"


def test_oauth_refreshes_once_on_401_then_succeeds(rsps, monkeypatch):
    c, _ = connector(monkeypatch, "oauth_client_credentials")
    rsps.add(responses.POST, TOKEN_URL, json=token(1, refresh=False))
    rsps.add(responses.GET, TABLE_URL, status=401, json=load("error_401.json"))  # revoked server-side
    rsps.add(responses.POST, TOKEN_URL, json=token(2, refresh=False))
    rsps.add(responses.GET, TABLE_URL, json=page([]), headers=LAST)
    list(c.fetch(None))
    assert rsps.calls[3].request.headers["Authorization"] == "Bearer OAUTH-ACCESS-2-Pp4"
    assert len(rsps.calls) == 4


def test_oauth_401_after_the_renewal_is_an_auth_error(rsps, monkeypatch):
    c, _ = connector(monkeypatch, "oauth_client_credentials")
    rsps.add(responses.POST, TOKEN_URL, json=token(1, refresh=False))
    rsps.add(responses.GET, TABLE_URL, status=401, json=load("error_401.json"))
    rsps.add(responses.POST, TOKEN_URL, json=token(2, refresh=False))
    rsps.add(responses.GET, TABLE_URL, status=401, json=load("error_401.json"))
    with pytest.raises(AuthError):
        list(c.fetch(None))
    assert len(rsps.calls) == 4  # renewed once, no loop


def test_refused_refresh_token_falls_back_to_the_password_grant(rsps, monkeypatch):
    c, clock = connector(monkeypatch, "oauth_password")
    rsps.add(responses.POST, TOKEN_URL, json=token(1, expires_in=600))
    rsps.add(responses.POST, TOKEN_URL, status=401, json=load("oauth_error.json"))
    rsps.add(responses.POST, TOKEN_URL, json=token(2))
    rsps.add(responses.GET, TABLE_URL, json=page([]))
    rsps.add(responses.GET, TABLE_URL, json=page([]))
    list(c.fetch(None))
    clock.advance(600)
    list(c.fetch(None))
    grants = [form(call)["grant_type"] for call in rsps.calls if call.request.method == "POST"]
    assert grants == ["password", "refresh_token", "password"]


def test_refused_grant_is_an_auth_error_with_the_hint(rsps, monkeypatch):
    c, _ = connector(monkeypatch, "oauth_password")
    rsps.add(responses.POST, TOKEN_URL, status=401, json=load("oauth_error.json"))
    with pytest.raises(AuthError) as exc:
        list(c.fetch(None))
    text = str(exc.value)
    assert "server_error: access_denied" in text and "$T_SN_CLIENT_ID" in text
    assert CLIENT_SECRET not in text and PASSWORD not in text


def test_one_token_for_many_threads(rsps, monkeypatch):
    c, _ = connector(monkeypatch, "oauth_client_credentials", bot_user=USER)  # no look-up of who the bot is
    rsps.add(responses.POST, TOKEN_URL, json=token(1, refresh=False))
    rsps.add(responses.GET, JOURNAL_URL, json=page([]))
    threads = [threading.Thread(target=c.bot_comments, args=(RECORD,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sum(1 for call in rsps.calls if call.request.method == "POST") == 1
    assert c.auth.fetches == 1


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize("method", ["basic", "oauth_password", "oauth_client_credentials", "api_key"])
def test_no_secret_in_any_log_line_or_error(rsps, monkeypatch, caplog, method):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    c, _ = connector(monkeypatch, method, bot_user=USER)  # no look-up of who the bot is
    if method.startswith("oauth"):
        rsps.add(responses.POST, TOKEN_URL, json=load("oauth_token.json"))
    rsps.add(responses.GET, TABLE_URL, status=503)
    rsps.add(responses.GET, TABLE_URL, status=429, headers={"Retry-After": "1"})
    rsps.add(responses.GET, TABLE_URL, json=page([record_item(1, "2026-03-01 10:00:00")]))
    rsps.add(responses.PATCH, f"{TABLE_URL}/{SYS_ID}", body=requests.ConnectionError("Connection reset by peer"))
    rsps.add(responses.GET, JOURNAL_URL, status=401, json=load("error_401.json"))
    if method.startswith("oauth"):
        rsps.add(responses.POST, TOKEN_URL, status=401, json=load("oauth_error.json"))
        if method == "oauth_password":
            rsps.add(responses.POST, TOKEN_URL, status=401, json=load("oauth_error.json"))
    errors: list[str] = []
    list(c.fetch(None))
    try:
        c.post(RECORD, "body csi-coach:0123456789abcdef", "csi-coach:0123456789abcdef")
    except Exception as exc:  # noqa: BLE001 - we check what it says
        errors.append(str(exc))
        errors.append(repr(exc))
    try:  # settling the ambiguous write: the journal read meets a 401 (and a refused token renewal)
        c.bot_comments(RECORD)
    except Exception as exc:  # noqa: BLE001 - we check what it says
        errors.append(str(exc))
        errors.append(repr(exc))
    assert len(errors) == 4 and caplog.records
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for text in [r.getMessage() for r in caplog.records] + errors + [repr(c.settings), repr(c.auth.__dict__.get("hint"))]:
        for secret in SECRETS + (basic,):
            assert secret not in text, f"secret leaked in: {text[:120]}"
