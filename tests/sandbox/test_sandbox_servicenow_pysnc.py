"""ServiceNow's own Python client, pysnc, works against the sandbox, unpatched.

pysnc refuses plain-http instance URLs and oauthlib refuses OAuth over http, as
real instances are HTTPS only: so these tests run the sandbox over HTTPS with its
throwaway CA, which pysnc is told to trust through its own ``verify`` option.
"""

from __future__ import annotations

from dataclasses import dataclass

import pysnc  # a declared test dependency (pyproject [test])
import pysnc.exceptions
import pytest
import requests
from pysnc.auth import ServiceNowClientCredentialsFlow, ServiceNowPasswordGrantFlow

from csi_coach.sandbox.servicenow.server import ServiceNowSandbox
from csi_coach.sandbox.tls import SandboxCA

AUTH = ("csi-coach", "sandbox-snow-password")
CLIENT_ID, CLIENT_SECRET = "csi-coach-client", "sandbox-snow-client-secret"


@dataclass(frozen=True)
class Instance:
    url: str  # https://127.0.0.1:PORT
    ca: str  # the sandbox CA's certificate file: what a client trusts


@pytest.fixture(scope="module")
def snow():
    authority = SandboxCA.create()
    try:
        with ServiceNowSandbox(records=140, seed=4).use_tls(authority.server_context()) as server:
            yield Instance(server.url, str(authority.ca_file))
    finally:
        authority.close()


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)  # nothing here may need it
    # requests lets these replace a session's verify (requests issue 3829), so pysnc's
    # verify= would lose to a machine-wide bundle that does not hold the sandbox's CA.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def client(snow, auth=AUTH):
    return pysnc.ServiceNowClient(snow.url, auth, verify=snow.ca)


def total(snow, query):
    resp = requests.get(snow.url + "/api/now/table/sn_cim_register", auth=AUTH, verify=snow.ca,
                        params={"sysparm_query": query, "sysparm_limit": 1})
    return int(resp.headers["X-Total-Count"])


def test_the_sandbox_is_https_and_pysnc_refuses_plain_http(snow):
    assert snow.url.startswith("https://127.0.0.1:")
    with pytest.raises(pysnc.exceptions.InstanceException):
        pysnc.ServiceNowClient(snow.url.replace("https://", "http://"), AUTH)


def test_glide_record_query_pages_through_an_encoded_query(snow):
    gr = client(snow).GlideRecord("sn_cim_register", batch_size=25)
    gr.add_encoded_query("active=true^stateIN1,2,5")
    gr.order_by_desc("sys_updated_on")
    gr.query()
    numbers, stamps = [], []
    for rec in gr:
        numbers.append(rec.number)
        stamps.append(rec.get_value("sys_updated_on"))
        assert rec.get_value("state") in ("1", "2", "5")
        assert rec.get_display_value("state") in ("New", "Accepted", "In Progress")
    assert len(numbers) == total(snow, "active=true^stateIN1,2,5") > 25  # more than one page
    assert len(set(numbers)) == len(numbers)
    assert stamps == sorted(stamps, reverse=True)


def test_glide_record_add_query_operators(snow):
    gr = client(snow).GlideRecord("sn_cim_register")
    gr.add_query("short_description", "LIKE", "vpn")
    cond = gr.add_query("state", "2")
    cond.add_or_condition("state", "5")
    gr.query()
    rows = list(gr)
    assert len(rows) == total(snow, "short_descriptionLIKEvpn^state=2^ORstate=5")
    for rec in rows:
        assert "vpn" in rec.short_description.lower() and rec.get_value("state") in ("2", "5")


def test_get_by_sys_id_and_reference_display(snow):
    some = requests.get(snow.url + "/api/now/table/sn_cim_register", auth=AUTH, verify=snow.ca,
                        params={"sysparm_limit": 1, "sysparm_display_value": "true",
                                "sysparm_exclude_reference_link": "true"}).json()["result"][0]
    gr = client(snow).GlideRecord("sn_cim_register")
    assert gr.get(some["sys_id"])
    assert gr.number == some["number"]
    assert gr.get_display_value("business_service") == some["business_service"]
    assert len(gr.get_value("business_service")) == 32
    assert not client(snow).GlideRecord("sn_cim_register").get("0" * 32)


def test_update_work_notes_and_read_sys_journal_field(snow):
    c = client(snow)
    gr = c.GlideRecord("sn_cim_register")
    gr.add_active_query()
    gr.order_by("number")
    gr.limit = 1
    gr.query()
    assert gr.next()
    sys_id, before = gr.sys_id, gr.get_value("sys_updated_on")
    gr.work_notes = "pysnc note csi-coach:0123456789abcdef"
    gr.update()
    journal = c.GlideRecord("sys_journal_field")
    journal.add_query("element_id", sys_id)
    journal.add_query("element", "work_notes")
    journal.query()
    rows = [(j.get_value("value"), j.get_value("sys_created_by"), j.get_value("name")) for j in journal]
    assert rows == [("pysnc note csi-coach:0123456789abcdef", "csi-coach", "sn_cim_register")]
    again = c.GlideRecord("sn_cim_register")
    assert again.get(sys_id)
    assert again.get_value("sys_updated_on") > before


def test_oauth_password_grant_flow(snow):
    flow = ServiceNowPasswordGrantFlow(AUTH[0], AUTH[1], CLIENT_ID, CLIENT_SECRET)
    gr = pysnc.ServiceNowClient(snow.url, flow, verify=snow.ca).GlideRecord("sn_cim_register")
    gr.add_query("number", "CIM0010001")
    gr.query()
    assert [r.number for r in gr] == ["CIM0010001"]


def test_oauth_client_credentials_flow(snow, monkeypatch):
    # pysnc asks for this flow's token with a bare requests.post, which takes no verify:
    # with a private CA, requests' own variable is the way to trust it.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", snow.ca)
    flow = ServiceNowClientCredentialsFlow(CLIENT_ID, CLIENT_SECRET)
    gr = pysnc.ServiceNowClient(snow.url, flow, verify=snow.ca).GlideRecord("sn_cim_register")
    gr.add_query("number", "CIM0010002")
    gr.query()
    assert [r.number for r in gr] == ["CIM0010002"]


def test_wrong_password_raises_pysnc_auth_error(snow):
    gr = client(snow, (AUTH[0], "wrong")).GlideRecord("sn_cim_register")
    with pytest.raises(pysnc.exceptions.AuthenticationException):
        gr.query()
