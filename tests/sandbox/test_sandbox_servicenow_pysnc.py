"""ServiceNow's own Python client, pysnc, works against the sandbox.

pysnc refuses plain-http instance URLs (a sound default for real instances); the
sandbox serves http on loopback, so these tests let its URL check accept
http://127.0.0.1 and nothing else. oauthlib likewise needs permission for http.
"""

from __future__ import annotations

import pysnc  # a declared test dependency (pyproject [test])
import pysnc.client
import pysnc.exceptions
import pytest
import requests
from pysnc.auth import ServiceNowClientCredentialsFlow, ServiceNowPasswordGrantFlow

from csi_coach.sandbox.servicenow.server import ServiceNowSandbox

AUTH = ("csi-coach", "sandbox-snow-password")
CLIENT_ID, CLIENT_SECRET = "csi-coach-client", "sandbox-snow-client-secret"


@pytest.fixture(scope="module")
def snow():
    with ServiceNowSandbox(records=140, seed=4) as server:
        yield server


@pytest.fixture(autouse=True)
def allow_loopback_http(monkeypatch):
    real = pysnc.client.get_instance

    def get_instance(instance):
        if instance.startswith("http://127.0.0.1:"):
            return instance.rstrip("/")
        return real(instance)

    monkeypatch.setattr(pysnc.client, "get_instance", get_instance)
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def client(snow, auth=AUTH):
    return pysnc.ServiceNowClient(snow.url, auth)


def total(snow, query):
    resp = requests.get(snow.url + "/api/now/table/sn_cim_register", auth=AUTH,
                        params={"sysparm_query": query, "sysparm_limit": 1})
    return int(resp.headers["X-Total-Count"])


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
    some = requests.get(snow.url + "/api/now/table/sn_cim_register", auth=AUTH,
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
    gr = pysnc.ServiceNowClient(snow.url, flow).GlideRecord("sn_cim_register")
    gr.add_query("number", "CIM0010001")
    gr.query()
    assert [r.number for r in gr] == ["CIM0010001"]


def test_oauth_client_credentials_flow(snow):
    flow = ServiceNowClientCredentialsFlow(CLIENT_ID, CLIENT_SECRET)
    gr = pysnc.ServiceNowClient(snow.url, flow).GlideRecord("sn_cim_register")
    gr.add_query("number", "CIM0010002")
    gr.query()
    assert [r.number for r in gr] == ["CIM0010002"]


def test_wrong_password_raises_pysnc_auth_error(snow):
    gr = client(snow, (AUTH[0], "wrong")).GlideRecord("sn_cim_register")
    with pytest.raises(pysnc.exceptions.AuthenticationException):
        gr.query()
