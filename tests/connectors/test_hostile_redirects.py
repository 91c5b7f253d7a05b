"""Issue 13, finding 1: credentials never follow a redirect to another scheme, host or port.

Two real servers on 127.0.0.1 (different ports, so different origins): the source's
URL answers every request with a redirect to the other one, which records whatever
reaches it. requests by itself follows such a redirect and strips only
``Authorization`` (the first test shows the set-up really leaks that way), so
ServiceNow's ``x-sn-apikey`` and an OAuth token request's form would be sent there.
"""

from __future__ import annotations

import base64
import random

import pytest
import requests
import responses

from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.connectors.servicenow.connector import ServiceNowConnector
from csi_coach.connectors.transport import Limiters, ResilientAdapter, RetryPolicy, build_session, origin
from csi_coach.errors import RedirectRefused
from support import jira as jira_support
from support import servicenow as sn
from support.hostile_server import Call, HostileServer

FAST = RetryPolicy(attempts=2, backoff_base=0.0, backoff_cap=0.0)


def elsewhere_answer(call: Call) -> None:
    call.reply(200, {"result": [], "access_token": "stolen", "expires_in": 1800})


@pytest.fixture
def elsewhere():
    with HostileServer(elsewhere_answer) as server:
        yield server


@pytest.fixture
def redirecting(elsewhere):
    """The source's URL: every request is sent on to ``elsewhere`` with a 307 (method and body kept)."""

    def answer(call: Call) -> None:
        call.reply(307, headers={"Location": elsewhere.url + call.path})

    with HostileServer(answer) as server:
        yield server


def sn_open(monkeypatch, url: str, method: str) -> ServiceNowConnector:
    for k, v in sn.ENV.items():
        monkeypatch.setenv(k, v)
    return ServiceNowConnector.open(sn.settings(method, url=url), limiters=Limiters(), policy=FAST)


def test_the_set_up_leaks_with_plain_requests(redirecting, elsewhere):
    """Without the bot's adapter the other host gets the API key: what the tests below rule out."""
    requests.get(redirecting.url + "/api/now/table/x", headers={"x-sn-apikey": sn.API_KEY}, timeout=5)
    assert [s.headers.get("x-sn-apikey") for s in elsewhere.seen] == [sn.API_KEY]


@pytest.mark.parametrize("method", ["basic", "api_key"])
def test_servicenow_reads_refuse_a_redirect_to_another_host(monkeypatch, redirecting, elsewhere, method):
    with sn_open(monkeypatch, redirecting.url, method) as conn, pytest.raises(RedirectRefused) as exc:
        list(conn.fetch(None))
    assert elsewhere.seen == []  # nothing at all went there: no header, no query
    text = str(exc.value)
    assert redirecting.url + "/api/now/table/sn_cim_register" in text
    assert elsewhere.url + "/api/now/table/sn_cim_register" in text
    assert sn.PASSWORD not in text and sn.API_KEY not in text
    assert len(redirecting.seen) == 1  # refused at once, not retried


def test_servicenow_write_refuses_a_redirect_to_another_host(monkeypatch, redirecting, elsewhere):
    from csi_coach.model import Record

    record = Record(source="snow", key="a" * 32, number="CIM1", url="", title="t")
    with sn_open(monkeypatch, redirecting.url, "api_key") as conn, pytest.raises(RedirectRefused):
        conn.post(record, "coaching", "csi-coach:0123456789abcdef")
    assert elsewhere.seen == []


def test_the_oauth_token_form_is_never_sent_to_another_host(monkeypatch, redirecting, elsewhere):
    with sn_open(monkeypatch, redirecting.url, "oauth_password") as conn, pytest.raises(RedirectRefused) as exc:
        list(conn.fetch(None))
    assert elsewhere.seen == []
    [token_request] = redirecting.requests_to("/oauth_token.do")
    assert token_request.method == "POST" and sn.CLIENT_SECRET.encode() in token_request.body  # the origin got it
    assert "/oauth_token.do" in str(exc.value) and sn.CLIENT_SECRET not in str(exc.value)


def test_a_redirect_within_the_origin_is_followed_with_the_credentials(monkeypatch):
    def answer(call: Call) -> None:
        if call.route.startswith("/moved/"):
            call.reply(200, {"result": []}, headers={"X-Total-Count": "0"})
        else:
            call.reply(301, headers={"Location": "/moved" + call.path})

    with HostileServer(answer) as server, sn_open(monkeypatch, server.url, "api_key") as conn:
        assert list(conn.fetch(None)) == []
        moved = [s for s in server.seen if s.path.startswith("/moved/")]
    assert moved and moved[0].headers.get("x-sn-apikey") == sn.API_KEY


@pytest.mark.parametrize("method", ["basic", "pat"])
def test_jira_refuses_a_redirect_to_another_host(monkeypatch, redirecting, elsewhere, method):
    jira_support.set_secrets(monkeypatch, method=method)
    settings = jira_support.settings("cloud", url=redirecting.url, method=method)
    conn = JiraConnector.open(settings, limiters=Limiters(), policy=FAST)
    # the jira library's own session carries the project's adapter: the same guard, limits and deadline
    assert isinstance(conn.client._session.get_adapter(redirecting.url + "/rest/api/2/myself"), ResilientAdapter)
    with pytest.raises(RedirectRefused) as exc:
        list(conn.fetch(None))
    assert elsewhere.seen == []
    assert redirecting.url in str(exc.value) and elsewhere.url in str(exc.value)
    basic = base64.b64encode(f"{jira_support.EMAIL}:{jira_support.TOKEN}".encode()).decode()
    for secret in (jira_support.TOKEN, jira_support.PAT, basic):
        assert secret not in str(exc.value)


@pytest.mark.parametrize("location", [
    "http://acme.service-now.com/api/now/table/x",  # https -> http on the same host: a downgrade
    "https://acme.service-now.com:8443/api/now/table/x",  # another port
    "//evil.example/api/now/table/x",  # scheme-relative: another host
    "https://user:pw@evil.example/api/now/table/x",
])
def test_scheme_port_and_host_changes_are_all_refused(location):
    session = build_session(sn.INSTANCE, policy=FAST, limiters=Limiters(), rng=random.Random(1))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, sn.TABLE_URL, status=302, headers={"Location": location})
        with pytest.raises(RedirectRefused) as exc:
            session.get(sn.TABLE_URL, headers={"x-sn-apikey": sn.API_KEY})
        assert len(rsps.calls) == 1
    assert "pw@" not in str(exc.value)  # credentials in a Location are not repeated either


def test_an_origin_is_scheme_host_and_port_with_the_default_port_filled_in():
    assert origin("https://ACME.service-now.com:443/a") == origin("https://acme.service-now.com/b?c=d")
    assert origin("http://acme.service-now.com/a") != origin("https://acme.service-now.com/a")
    assert origin("https://acme.service-now.com:8443/") != origin("https://acme.service-now.com/")
    assert origin("https://acme.service-now.com:x/") != origin("https://acme.service-now.com/")


def test_a_same_origin_redirect_given_as_an_absolute_url_is_followed():
    session = build_session(sn.INSTANCE, policy=FAST, limiters=Limiters(), rng=random.Random(1))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, sn.TABLE_URL, status=308,
                 headers={"Location": "https://acme.service-now.com/api/now/table/moved"})
        rsps.add(responses.GET, f"{sn.INSTANCE}/api/now/table/moved", json={"result": []})
        assert session.get(sn.TABLE_URL).json() == {"result": []}
